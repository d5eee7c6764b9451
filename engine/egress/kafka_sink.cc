#include "engine/egress/kafka_sink.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "engine/core/log.h"

namespace vigil::egress {
namespace {

constexpr std::string_view kComponent = "egress";
constexpr int kCloseFlushMs = 5000;

// The engine's exactly-once outputs rest on this; extra_conf cannot turn it off.
const broker::ConfMap& fixed_settings() {
  static const broker::ConfMap settings = {{"enable.idempotence", "true"}};
  return settings;
}

const broker::ConfMap& default_settings() {
  static const broker::ConfMap settings = {
      // A few ms of batching keeps alarm latency low while cutting requests under load.
      {"linger.ms", "5"},
      {"batch.num.messages", "10000"},
      {"batch.size", "1000000"},
      // librdkafka's default partitioner (CRC-32 of the key), as the input producers use: an
      // `orders` record keyed by region lands on the partition of the region's task
      // (state::task_of, docs/design.md "State that moves with its partition").
      {"partitioner", "consistent_random"},
      // Retry until delivered: the engine's checkpoints wait for their outputs (back-pressure
      // during a broker outage) rather than drop one (engine/state/README.md).
      {"message.timeout.ms", "0"},
  };
  return settings;
}

}  // namespace

KafkaSink::KafkaSink(const TopicNames& topics) : topics_(topics) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::start(std::string_view brokers,
                                                    const TopicNames& topics,
                                                    const broker::ConfMap& extra_conf) {
  std::unique_ptr<KafkaSink> sink(new KafkaSink(topics));
  sink->brokers_ = std::string(brokers);
  broker::ConfMap settings = default_settings();
  settings["bootstrap.servers"] = std::string(brokers);
  settings = broker::merged(broker::merged(std::move(settings), extra_conf), fixed_settings());
  auto conf = broker::make_conf(settings);
  if (!conf) return conf.error();
  rd_kafka_conf_set_opaque(conf.value().get(), sink.get());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaSink::on_delivery);
  rd_kafka_conf_set_error_cb(conf.value().get(), &KafkaSink::on_error);
  auto producer = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer) return producer.error();
  sink->producer_ = std::move(producer).value();
  // The internal `orders` topic too: routed order work is exactly-once like every output.
  for (OutTopic t : all_outputs()) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(sink->producer_.get(), topics.of(t).c_str(), nullptr);
    if (rkt == nullptr) {
      return make_error(Errc::kBroker, "egress cannot open topic " + topics.of(t) + ": " +
                                           rd_kafka_err2str(rd_kafka_last_error()));
    }
    sink->topic_handles_[static_cast<size_t>(t)] = rkt;
  }
  log::info(kComponent, "idempotent producer on ", brokers);
  return sink;
}

KafkaSink::~KafkaSink() {
  if (producer_) {
    rd_kafka_flush(producer_.get(), kCloseFlushMs);
    if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
      log::warn(kComponent, left, " records not delivered at shutdown");
    }
  }
  for (rd_kafka_topic_t* rkt : topic_handles_) {
    if (rkt != nullptr) rd_kafka_topic_destroy(rkt);
  }
}

void KafkaSink::emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) {
  // One buffer per shard thread: its capacity is reused, librdkafka copies the bytes.
  thread_local std::string payload;
  if (!msg.SerializeToString(&payload)) {
    failures_.record(RD_KAFKA_RESP_ERR__BAD_MSG,
                     "cannot serialize " + msg.GetTypeName() + " for " + topics_.of(topic));
    return;
  }
  produce(topic, key, payload, nullptr);
}

void KafkaSink::emit_serialized(OutTopic topic, std::string_view key, std::string_view bytes,
                                const OutputTag& tag) {
  produce(topic, key, bytes, &tag);
}

void KafkaSink::produce(OutTopic topic, std::string_view key, std::string_view bytes,
                        const OutputTag* tag) {
  const std::string& name = topics_.of(topic);
  for (;;) {
    rd_kafka_headers_t* headers = nullptr;
    if (tag != nullptr) {
      headers = rd_kafka_headers_new(1);
      const std::string value = format_tag(*tag);
      rd_kafka_header_add(headers, kTagHeader, -1, value.data(), static_cast<ssize_t>(value.size()));
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the headers belong to the message now
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      failures_.record(err, "producing to " + name);
      return;
    }
    if (!warned_queue_full_.exchange(true, std::memory_order_relaxed)) {
      log::warn(kComponent, "producer queue full; emit waits for deliveries (logged once)");
    }
    // Serving delivery reports is what frees queue slots.
    rd_kafka_poll(producer_.get(), 10);
  }
  rd_kafka_poll(producer_.get(), 0);
}

Result<std::vector<std::pair<OutTopic, int32_t>>> KafkaSink::output_partitions(int timeout_ms) {
  std::vector<std::pair<OutTopic, int32_t>> out;
  for (OutTopic t : all_outputs()) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0,
                                                topic_handles_[static_cast<size_t>(t)], &md, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return make_error(Errc::kBroker, log::cat("no metadata for ", topics_.of(t), ": ",
                                                rd_kafka_err2str(err)));
    }
    if (md->topic_cnt == 1) {
      for (int p = 0; p < md->topics[0].partition_cnt; ++p) out.emplace_back(t, md->topics[0].partitions[p].id);
    }
    rd_kafka_metadata_destroy(md);
  }
  return out;
}

OutputPositions KafkaSink::positions() {
  bool seeded;
  {
    std::lock_guard lock(positions_mu_);
    seeded = positions_seeded_;
  }
  if (!seeded) {
    // Once per run: the current end of every output partition is a lower bound for every
    // record this run will produce.
    if (auto parts = output_partitions(kCloseFlushMs)) {
      OutputPositions ends;
      bool all = true;
      for (const auto& [t, p] : parts.value()) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(producer_.get(), topics_.of(t).c_str(), p, &lo, &hi,
                                             kCloseFlushMs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          all = false;
          break;
        }
        ends[{t, p}] = hi;
      }
      std::lock_guard lock(positions_mu_);
      if (all) {
        for (const auto& [tp, hi] : ends) positions_[tp] = std::max(positions_[tp], hi);
        positions_seeded_ = true;
      }
    }
  }
  std::lock_guard lock(positions_mu_);
  return positions_;
}

Result<std::vector<uint32_t>> KafkaSink::find_tagged(const OutputPositions& from,
                                                     std::string_view instance, uint64_t epoch,
                                                     int timeout_ms) {
  auto parts = output_partitions(timeout_ms);
  if (!parts) return parts.error();
  auto conf = broker::make_conf({{"bootstrap.servers", brokers_},
                                 {"group.id", "vigil-outputs-scan"},
                                 {"enable.auto.commit", "false"},
                                 // the embedded broker answers a fetch only when this expires
                                 {"fetch.wait.max.ms", "5"},
                                 {"enable.partition.eof", "true"}});
  if (!conf) return conf.error();
  auto consumer = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer) return consumer.error();
  rd_kafka_t* rk = consumer.value().get();
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(parts.value().size()));
  for (const auto& [t, p] : parts.value()) {
    auto it = from.find({t, p});
    rd_kafka_topic_partition_list_add(list, topics_.of(t).c_str(), p)->offset =
        it == from.end() ? RD_KAFKA_OFFSET_BEGINNING : it->second;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("cannot read the outputs back: ", rd_kafka_err2str(err)));
  }
  std::vector<uint32_t> found;
  size_t ends = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (ends < parts.value().size()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      rd_kafka_consumer_close(rk);
      return make_error(Errc::kBroker, log::cat("the output topics could not be read to their end "
                                                "within ", timeout_ms, " ms"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ++ends;  // reported once per partition when its end is reached
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_t* headers = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      uint64_t e = 0;
      uint32_t index = 0;
      if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(headers, kTagHeader, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          parse_tag(std::string_view(static_cast<const char*>(value), size), instance, &e, &index) &&
          e == epoch) {
        found.push_back(index);
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  std::sort(found.begin(), found.end());
  return found;
}

Status KafkaSink::flush(int timeout_ms) {
  return broker::flush_producer(producer_.get(), timeout_ms, failures_, failures_at_last_flush_,
                                "output records");
}

void KafkaSink::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.add();
    if (auto t = parse_out_topic(self->topics_.strip(rd_kafka_topic_name(msg->rkt)))) {
      std::lock_guard lock(self->positions_mu_);
      int64_t& next = self->positions_[{*t, msg->partition}];
      next = std::max(next, msg->offset + 1);
    }
    return;
  }
  self->failures_.record(msg->err, log::cat("delivery to ", rd_kafka_topic_name(msg->rkt), "[",
                                            msg->partition, "]"));
}

void KafkaSink::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  static_cast<KafkaSink*>(opaque)->client_errors_.record(static_cast<rd_kafka_resp_err_t>(err),
                                                         log::cat("producer: ", reason));
}

}  // namespace vigil::egress
