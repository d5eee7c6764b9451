#include "engine/app/run_simulator.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "engine/sim/agency_sim.h"
#include "engine/sim/population.h"
#include "engine/sim/telemetry_gen.h"

namespace vigil::app {
namespace {

//! A plain producer for the input topics (the engine's KafkaSink writes the output topics).
class InputProducer {
 public:
  InputProducer(const std::string& brokers, const TopicNames& topics) : topics_(topics) {
    auto conf = broker::make_conf({{"bootstrap.servers", brokers},
                                   {"enable.idempotence", "true"},
                                   {"linger.ms", "5"}});
    if (!conf) throw std::runtime_error(conf.error().message);
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.value().release(), err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(std::string("producer: ") + err);
  }
  ~InputProducer() {
    rd_kafka_flush(rk_, 10'000);
    rd_kafka_destroy(rk_);
  }
  void send(InTopic topic, const std::string& key, const google::protobuf::Message& msg) {
    msg.SerializeToString(&buf_);
    const std::string name = topics_.of(topic);
    for (;;) {
      auto err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(name.c_str()),
                                   RD_KAFKA_V_KEY(key.data(), key.size()),
                                   RD_KAFKA_V_VALUE(buf_.data(), buf_.size()),
                                   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
      rd_kafka_poll(rk_, 10);
    }
    rd_kafka_poll(rk_, 0);
  }
  void flush() { rd_kafka_flush(rk_, 10'000); }

 private:
  TopicNames topics_;
  rd_kafka_t* rk_ = nullptr;
  std::string buf_;
};

}  // namespace

int run_simulator(const Settings& s, std::atomic<bool>& stop, std::ostream& out) {
  if (s.brokers.empty()) {
    std::cerr << "vigil simulate: --brokers is required\n";
    return 2;
  }
  const TopicNames topics(s.topic_prefix);
  sim::SimOptions so;
  so.elders = s.elders;
  so.events_per_s = s.rate;
  so.seed = s.seed;
  so.time_scale = s.time_scale;
  const sim::Population population = sim::make_population(so);
  sim::TelemetryGenerator gen(population, so);
  sim::AgencySimulator agencies(population, so);
  const Clock& clock = RealClock::instance();

  std::unique_ptr<InputProducer> producer;
  try {
    producer = std::make_unique<InputProducer>(s.brokers, topics);
  } catch (const std::exception& e) {
    std::cerr << "vigil simulate: " << e.what() << "\n";
    return 1;
  }
  for (const auto& [key, update] : population.registry_updates()) {
    producer->send(InTopic::kRegistry, key, update);
  }
  producer->flush();
  out << "simulate: registered " << population.elders.size() << " elders, "
      << population.devices.size() << " devices, " << population.agencies.size()
      << " agencies; producing " << s.rate << " events/s (seed " << s.seed << ")" << std::endl;

  // The agencies' order feed: offers (dispatch) and order transitions (tracking), so that an
  // order the elder or an operator cancelled is dropped. A fresh group per run, read from the
  // start, records older than this run skipped: no offer is missed while the group forms.
  const TimeMs started = clock.now_ms();
  auto conf = broker::make_conf({{"bootstrap.servers", s.brokers},
                                 {"group.id", "vigil-sim-agencies-" + std::to_string(started)},
                                 {"auto.offset.reset", "earliest"},
                                 {"enable.auto.commit", "false"}});
  if (!conf) {
    std::cerr << "vigil simulate: " << conf.error().message << "\n";
    return 1;
  }
  char err[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().release(), err, sizeof err);
  if (consumer == nullptr) {
    std::cerr << "vigil simulate: consumer: " << err << "\n";
    return 1;
  }
  rd_kafka_poll_set_consumer(consumer);
  const std::string dispatch_topic = topics.of(OutTopic::kDispatch);
  rd_kafka_topic_partition_list_t* subs = rd_kafka_topic_partition_list_new(2);
  rd_kafka_topic_partition_list_add(subs, dispatch_topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_topic_partition_list_add(subs, topics.of(OutTopic::kTracking).c_str(),
                                    RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(consumer, subs);
  rd_kafka_topic_partition_list_destroy(subs);

  std::vector<sim::SimRecord> records;
  TimeMs last = started;
  uint64_t produced = 0, offers = 0, cancels = 0;
  const int64_t start_ns = clock.steady_ns();
  int64_t next_progress_ns = start_ns + static_cast<int64_t>(s.progress_s * 1e9);
  uint64_t last_produced = 0;
  vigil::v1::DispatchOffer offer;
  vigil::v1::OrderEvent event;
  while (!stop.load()) {
    if (s.progress_s > 0 && clock.steady_ns() >= next_progress_ns) {
      out << "simulate: " << static_cast<int>((clock.steady_ns() - start_ns) / 1e9) << " s, "
          << static_cast<uint64_t>((produced - last_produced) / s.progress_s)
          << " records/s, " << produced << " records, " << offers << " offers answered"
          << std::endl;
      last_produced = produced;
      next_progress_ns += static_cast<int64_t>(s.progress_s * 1e9);
    }
    if (s.duration_s > 0 && clock.steady_ns() - start_ns >= static_cast<int64_t>(s.duration_s * 1e9)) break;
    const TimeMs now = clock.now_ms();
    records.clear();
    gen.generate(last, now, records);
    agencies.due(now, records);
    last = now;
    for (const auto& r : records) producer->send(r.topic, r.key, r.proto());
    produced += records.size();
    // Answer offers, drop cancelled orders; poll until the next 50 ms slice.
    while (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 0)) {
      const bool is_offer = m->rkt != nullptr && rd_kafka_topic_name(m->rkt) == dispatch_topic;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // end of partition and the like: nothing to answer
      } else if (is_offer) {
        if (offer.ParseFromArray(m->payload, static_cast<int>(m->len)) &&
            to_ms(offer.offered_at()) >= started - 5000) {
          agencies.on_offer(offer, clock.now_ms());
          ++offers;
        }
      } else if (event.ParseFromArray(m->payload, static_cast<int>(m->len)) &&
                 event.state() == vigil::v1::CANCELLED && to_ms(event.ts()) >= started - 5000) {
        agencies.on_cancel(event.order_id());
        ++cancels;
      }
      rd_kafka_message_destroy(m);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  producer->flush();
  out << "simulate: produced " << produced << " records, answered " << offers << " offers, "
      << cancels << " cancelled orders dropped" << std::endl;
  return 0;
}

}  // namespace vigil::app
