// The two phases through the embedded broker: the engine with its real consumer, and the bare
// librdkafka consumer that bounds it. Both read records a paced producer writes meanwhile: the
// mock cluster keeps only ~5 MB per partition, so the producer stays at most max_lag() records
// ahead of the reader instead of writing everything first.

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "bench/harness/feed_clock.h"
#include "bench/harness/phases.h"
#include "bench/harness/probe_sink.h"
#include "engine/broker/embedded_broker.h"
#include "engine/broker/kafka_conf.h"
#include "engine/core/clock.h"
#include "engine/ingest/kafka_source.h"
#include "engine/runtime/engine.h"

namespace vigil::bench {
namespace {

//! How far the producer may run ahead of the reader: a quarter of what the mock keeps per
//! partition (5 MB) over every partition of a topic, at most 150,000 records. Each record on
//! the wire is its key, its payload and ~24 bytes of record framing.
uint64_t max_lag(const Workload& w, int partitions) {
  auto wire = [](const std::vector<InputRecord>& records) {
    uint64_t bytes = 0;
    for (const InputRecord& r : records) bytes += r.key.size() + r.payload.size() + 24;
    return records.empty() ? 0.0 : static_cast<double>(bytes) / static_cast<double>(records.size());
  };
  const double per_record = std::max({wire(w.registry), wire(w.events), 1.0});
  const double fits = 1.25e6 * partitions / per_record;
  return static_cast<uint64_t>(std::min(fits, 150'000.0));
}

struct Feed {
  std::atomic<uint64_t> produced{0};
  std::atomic<uint64_t> consumed{0};
  std::atomic<bool> stop{false};
  //! Set by the reader once the registry is processed: the events start then, so no phase
  //! measures a backlog built while the engine was still loading the registry.
  std::atomic<bool> go{false};
  std::string error;
};

//! Produces the registry, then the events, never more than max_lag() ahead of `consumed`.
void produce(const std::string& brokers, const Workload& w, int partitions, uint64_t limit_events,
             Feed& feed, ProbeSink* probes, double pace_per_s) {
  const uint64_t lag = max_lag(w, partitions);
  auto conf = broker::make_conf({{"bootstrap.servers", brokers},
                                 {"linger.ms", "5"},
                                 {"batch.num.messages", "10000"},
                                 {"queue.buffering.max.messages", "1000000"},
                                 {"compression.codec", "none"}});
  if (!conf) {
    feed.error = conf.error().message;
    return;
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.value().release(), err, sizeof err);
  if (rk == nullptr) {
    feed.error = err;
    return;
  }
  const TopicNames names("vigil.");
  // Topic handles made once (producev by name looks each one up under a lock), and no copy of
  // the payload: the workload's records outlive this producer, which flushes before it returns.
  // Copying cost a malloc here and a free on librdkafka's thread per record: ~30% of both
  // cores in this phase (bench/README.md, 2026-12-04), taken from the engine being measured.
  rd_kafka_topic_t* topics[4];
  for (int i = 0; i < 4; ++i) {
    topics[i] = rd_kafka_topic_new(rk, names.of(static_cast<InTopic>(i)).c_str(), nullptr);
  }
  // Never more than `lag` records ahead of the reader, the registry included: the mock drops
  // what does not fit in its ~5 MB per partition.
  auto wait_for_reader = [&] {
    while (feed.produced.load(std::memory_order_relaxed) >
               feed.consumed.load(std::memory_order_relaxed) + lag &&
           !feed.stop.load()) {
      rd_kafka_poll(rk, 1);
    }
  };
  auto send = [&](const InputRecord& r) {
    wait_for_reader();
    rd_kafka_topic_t* t = topics[static_cast<int>(r.topic)];
    for (;;) {
      auto e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(r.payload.data()), r.payload.size()),
                                 RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(rk, 1);
    }
    feed.produced.fetch_add(1, std::memory_order_relaxed);
  };
  for (const auto& r : w.registry) send(r);
  rd_kafka_flush(rk, 10'000);
  while (!feed.go.load() && !feed.stop.load()) rd_kafka_poll(rk, 1);
  const Clock& clock = RealClock::instance();
  const int64_t t0 = clock.steady_ns();
  for (uint64_t i = 0; i < limit_events && !feed.stop.load(); ++i) {
    if (pace_per_s > 0 && (i & 255) == 0) {
      // Event i is due at t0 + i / pace.
      const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) / pace_per_s * 1e9);
      // Sleep, not spin: a spinning producer would take a core from the engine it feeds.
      rd_kafka_poll(rk, 0);
      const int64_t wait_ns = due - clock.steady_ns();
      if (wait_ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
    }
    wait_for_reader();
    if (probes && w.probe_id[i] >= 0) probes->submitted(static_cast<uint64_t>(w.probe_id[i]), clock.steady_ns());
    send(w.events[i]);
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 30'000);
  for (rd_kafka_topic_t* t : topics) rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
}

}  // namespace

PhaseResult run_broker(const PhaseContext& ctx, double pace_per_s) {
  PhaseResult r;
  const Workload& w = *ctx.workload;
  auto b = start_broker(ctx, r);
  if (!b) return r;
  const std::string brokers = b->bootstrap_servers();
  ProbeSink sink(ctx.probe_elders, w.probes);
  const Clock& clock = RealClock::instance();
  FeedClock engine_clock(w.event_ms.empty() ? clock.now_ms() : w.event_ms.front());
  egress::DiscardSink delivered;
  runtime::Engine engine(engine_options(ctx, &sink), ctx.rules, delivered, engine_clock);
  if (auto s = engine.start(); !s) {
    r.note = s.error().message;
    return r;
  }
  auto source = ingest::KafkaSource::start(brokers, "bench-engine", TopicNames("vigil."), {},
                                           [](InTopic, int32_t) { return std::optional<int64_t>(); });
  if (!source) {
    r.note = source.error().message;
    return r;
  }
  Feed feed;
  const uint64_t total = w.registry.size() + w.events.size();
  std::thread producer([&] { produce(brokers, w, ctx.partitions, w.events.size(), feed, &sink, pace_per_s); });
  std::vector<InputRecord> batch;
  int64_t t0 = 0;
  double cpu0 = 0;
  const int64_t give_up = clock.steady_ns() + static_cast<int64_t>((ctx.duration_s + 60) * 1e9);
  uint64_t consumed = 0;
  while (consumed < total && clock.steady_ns() < give_up) {
    const size_t n = source.value()->poll_batch(batch, 4096, 50);
    for (size_t i = 0; i < n; ++i) engine.submit(batch[i]);
    if (n > 0 && t0 == 0 && consumed + n >= w.registry.size()) {
      // The registry is in (the source reads it first): let the shards take it before the
      // clock starts, so the figure is events only, as in the in-process phases.
      if (auto s = settle(engine); !s) r.note = s.error().message;
      cpu0 = process_cpu_s();
      t0 = clock.steady_ns();
      feed.go.store(true);
    }
    consumed += n;
    feed.consumed.store(consumed, std::memory_order_relaxed);
    // Partitions interleave, so the event time of the n-th event produced is close to, not
    // exactly, that of the n-th consumed: good enough for a clock held back 2 s anyway.
    if (consumed > w.registry.size() && !w.event_ms.empty()) {
      engine_clock.follow(w.event_ms[std::min<uint64_t>(consumed - w.registry.size(),
                                                        w.event_ms.size()) - 1]);
    }
    (void)engine.maybe_checkpoint();
    if (t0 != 0 && clock.steady_ns() - t0 > static_cast<int64_t>(ctx.duration_s * 1e9)) break;
  }
  feed.stop.store(true);
  producer.join();
  if (auto s = engine.stop(); !s) r.note = s.error().message;
  const int64_t t1 = clock.steady_ns();
  r.cpu_s = t0 ? process_cpu_s() - cpu0 : 0;
  (void)source.value()->close();
  r.ran = t0 != 0;
  if (!feed.error.empty()) r.note = feed.error;
  r.events = consumed > w.registry.size() ? consumed - w.registry.size() : 0;
  r.seconds = t0 ? static_cast<double>(t1 - t0) / 1e9 : 0;
  r.events_per_s = r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0;
  take_latencies(ctx, sink, r);
  take_checkpoint_timeline(ctx, engine, t0);
  return r;
}

PhaseResult run_raw_consumer(const PhaseContext& ctx) {
  PhaseResult r;
  const Workload& w = *ctx.workload;
  auto b = start_broker(ctx, r);
  if (!b) return r;
  const std::string brokers = b->bootstrap_servers();
  auto conf = broker::make_conf({{"bootstrap.servers", brokers},
                                 {"group.id", "bench-raw"},
                                 {"enable.auto.commit", "false"},
                                 // The engine's consumer's fetch wait (engine/ingest/kafka_source.cc),
                                 // so the bound fetches as the engine does (the default, 500 ms,
                                 // made this bound lower: not a fair comparison).
                                 {"fetch.wait.max.ms", "5"},
                                 {"auto.offset.reset", "earliest"}});
  if (!conf) {
    r.note = conf.error().message;
    return r;
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().release(), err, sizeof err);
  if (rk == nullptr) {
    r.note = err;
    return r;
  }
  rd_kafka_poll_set_consumer(rk);
  // Assign every partition directly: no group join in the measured time.
  const TopicNames names("vigil.");
  auto* parts = rd_kafka_topic_partition_list_new(4 * ctx.partitions);
  for (auto t : kKafkaInputs) {
    for (int p = 0; p < ctx.partitions; ++p) {
      rd_kafka_topic_partition_list_add(parts, names.of(t).c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  Feed feed;
  const uint64_t total = w.registry.size() + w.events.size();
  feed.go.store(true);  // a bare consumer has nothing to load first
  std::thread producer([&] { produce(brokers, w, ctx.partitions, w.events.size(), feed, nullptr, 0); });
  const Clock& clock = RealClock::instance();
  int64_t t0 = 0;
  double cpu0 = 0;
  const int64_t give_up = clock.steady_ns() + static_cast<int64_t>((ctx.duration_s + 60) * 1e9);
  uint64_t consumed = 0;
  while (consumed < total && clock.steady_ns() < give_up) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (t0 == 0 && consumed >= w.registry.size()) {
        cpu0 = process_cpu_s();
        t0 = clock.steady_ns();
      }
      ++consumed;
      if ((consumed & 255) == 0) feed.consumed.store(consumed, std::memory_order_relaxed);
    }
    rd_kafka_message_destroy(m);
    if (t0 != 0 && clock.steady_ns() - t0 > static_cast<int64_t>(ctx.duration_s * 1e9)) break;
  }
  const int64_t t1 = clock.steady_ns();
  r.cpu_s = t0 ? process_cpu_s() - cpu0 : 0;
  feed.consumed.store(consumed);
  feed.stop.store(true);
  producer.join();
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  r.ran = t0 != 0;
  if (!feed.error.empty()) r.note = feed.error;
  r.events = consumed > w.registry.size() ? consumed - w.registry.size() : 0;
  r.seconds = t0 ? static_cast<double>(t1 - t0) / 1e9 : 0;
  r.events_per_s = r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0;
  return r;
}

}  // namespace vigil::bench
