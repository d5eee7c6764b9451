#include "engine/egress/kafka_changelog.h"

#include <chrono>

#include "engine/core/log.h"

namespace vigil::egress {
namespace {

constexpr std::string_view kComponent = "changelog";
constexpr int kMetadataMs = 10'000;

//! Partition count of `topic`, 0 if the cluster does not have it.
Result<int32_t> partition_count(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, kMetadataMs);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("cannot read the metadata of ", topic, ": ",
                                              rd_kafka_err2str(err)));
  }
  int32_t n = 0;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    n = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return n;
}

}  // namespace

Result<std::unique_ptr<KafkaChangelog>> KafkaChangelog::start(std::string_view brokers,
                                                              const TopicNames& topics,
                                                              const broker::ConfMap& extra_conf) {
  std::unique_ptr<KafkaChangelog> log(new KafkaChangelog(std::string(brokers), topics.changelog()));
  broker::ConfMap settings = {{"bootstrap.servers", std::string(brokers)},
                              {"linger.ms", "2"},
                              {"message.timeout.ms", "0"},  // retried until delivered
                              // the changelog must never create topics by accident
                              {"allow.auto.create.topics", "false"}};
  settings = broker::merged(broker::merged(std::move(settings), extra_conf),
                            {{"enable.idempotence", "true"}});
  auto conf = broker::make_conf(settings);
  if (!conf) return conf.error();
  rd_kafka_conf_set_opaque(conf.value().get(), log.get());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &KafkaChangelog::on_delivery);
  auto producer = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer) return producer.error();
  log->producer_ = std::move(producer).value();

  // Co-partitioning: task p is partition p of every input and of the changelog.
  auto n = partition_count(log->producer_.get(), log->topic_);
  if (!n) return n.error();
  if (n.value() <= 0) {
    return make_error(Errc::kConfig, "changelog: topic " + log->topic_ +
                                         " does not exist; create it (compacted) with as many "
                                         "partitions as the input topics");
  }
  std::vector<std::string> inputs;
  for (InTopic t : kKafkaInputs) inputs.push_back(topics.of(t));
  inputs.push_back(topics.of(InTopic::kOrders));
  for (const auto& topic : inputs) {
    auto m = partition_count(log->producer_.get(), topic);
    if (!m) return m.error();
    if (m.value() != n.value()) {
      return make_error(Errc::kConfig,
                        log::cat("changelog: ", topic, " has ", m.value(), " partitions but ",
                                 log->topic_, " has ", n.value(),
                                 "; every input topic, `orders` and the changelog need the same "
                                 "count (a task is partition p of each)"));
    }
  }
  log->partitions_ = n.value();
  log::info(kComponent, "tasks: ", log->partitions_, " partitions of ", log->topic_);
  return log;
}

KafkaChangelog::~KafkaChangelog() {
  if (producer_) rd_kafka_flush(producer_.get(), 5000);
}

void KafkaChangelog::append(int32_t task, std::string_view key, const std::string_view* value) {
  // A tombstone is a record without a value.
  void* bytes = value != nullptr ? const_cast<char*>(value->data()) : nullptr;
  const size_t size = value != nullptr ? value->size() : 0;
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(task),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(bytes, size),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      failures_.record(err, log::cat("appending to ", topic_, "[", task, "]"));
      return;
    }
    rd_kafka_poll(producer_.get(), 10);  // a full queue: wait for deliveries
  }
  appended_.fetch_add(1, std::memory_order_relaxed);
}

Status KafkaChangelog::flush(int timeout_ms) {
  return broker::flush_producer(producer_.get(), timeout_ms, failures_, failures_at_last_flush_,
                                "changelog records");
}

void KafkaChangelog::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  auto* self = static_cast<KafkaChangelog*>(opaque);
  self->failures_.record(msg->err, log::cat("changelog delivery to partition ", msg->partition));
}

Result<std::vector<runtime::TaskLogEntry>> KafkaChangelog::read(int32_t task, int timeout_ms) {
  auto conf = broker::make_conf({{"bootstrap.servers", brokers_},
                                 {"group.id", "vigil-changelog-restore"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "true"},
                                 // the embedded broker answers a fetch only when this expires
                                 {"fetch.wait.max.ms", "5"},
                                 {"isolation.level", "read_committed"}});
  if (!conf) return conf.error();
  auto consumer = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer) return consumer.error();
  rd_kafka_t* rk = consumer.value().get();
  int64_t low = 0, high = 0;
  if (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic_.c_str(), task, &low,
                                                                 &high, timeout_ms);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("cannot find the end of ", topic_, "[", task,
                                              "]: ", rd_kafka_err2str(err)));
  }
  std::vector<runtime::TaskLogEntry> entries;
  if (high <= low) return entries;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic_.c_str(), task)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("cannot read ", topic_, "[", task, "]: ",
                                              rd_kafka_err2str(err)));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool done = false;
  while (!done) {
    if (std::chrono::steady_clock::now() >= deadline) {
      rd_kafka_consumer_close(rk);
      return make_error(Errc::kBroker, log::cat(topic_, "[", task, "] could not be read to its "
                                                "end (offset ", high, ") within ", timeout_ms,
                                                " ms"));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done = m->offset >= high;
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto& e = entries.emplace_back();
      e.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload != nullptr) e.value.emplace(static_cast<const char*>(m->payload), m->len);
      done = m->offset + 1 >= high;
    } else {
      failures_.record(m->err, log::cat("reading ", topic_, "[", task, "]"));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  return entries;
}

}  // namespace vigil::egress
