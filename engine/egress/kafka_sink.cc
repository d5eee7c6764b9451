#include "engine/egress/kafka_sink.h"

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
      // Java clients' partitioner, so other consumers of the outputs agree on key placement.
      {"partitioner", "murmur2_random"},
  };
  return settings;
}

}  // namespace

KafkaSink::KafkaSink(const TopicNames& topics) : topics_(topics) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::start(std::string_view brokers,
                                                    const TopicNames& topics,
                                                    const broker::ConfMap& extra_conf) {
  std::unique_ptr<KafkaSink> sink(new KafkaSink(topics));
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
  for (OutTopic t : kOutputs) {
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
  rd_kafka_topic_t* rkt = topic_handles_[static_cast<size_t>(topic)];
  while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload.data(),
                          payload.size(), key.empty() ? nullptr : key.data(), key.size(),
                          nullptr) != 0) {
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      failures_.record(err, "producing to " + topics_.of(topic));
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

Status KafkaSink::flush(int timeout_ms) {
  rd_kafka_t* rk = producer_.get();
  rd_kafka_flush(rk, timeout_ms);
  char reason[512];
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk, reason, sizeof(reason));
      fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("kafka producer failed for good: ",
                                              rd_kafka_err2name(fatal), ": ", reason));
  }
  if (int outstanding = rd_kafka_outq_len(rk); outstanding > 0) {
    return make_error(Errc::kBroker, log::cat(outstanding, " output records still unacknowledged "
                                              "after ", timeout_ms, " ms"));
  }
  const uint64_t failed_now = failures_.total();
  const uint64_t failed_before = failures_at_last_flush_.exchange(failed_now);
  if (failed_now > failed_before) {
    return make_error(Errc::kBroker, log::cat(failed_now - failed_before,
                                              " output records failed since the previous flush, "
                                              "last with ",
                                              rd_kafka_err2name(failures_.last())));
  }
  return ok();
}

void KafkaSink::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.add();
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
