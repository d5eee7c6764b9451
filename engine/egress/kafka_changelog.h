#pragma once
// The tasks' changelog on Kafka (engine/runtime/task_log.h): topic `<prefix>changelog`, one
// partition per task, compacted on a real cluster (deploy/). Written by the engine's commit
// thread through an idempotent producer of its own; read back, one partition from its
// beginning to its end, when the engine takes a task over.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/runtime/task_log.h"

namespace vigil::egress {

class KafkaChangelog final : public runtime::TaskLog {
 public:
  //! Creates the producer and checks that the changelog and every input topic (and `orders`)
  //! exist with the same partition count, which becomes the number of tasks. Returns kConfig
  //! naming the topic that differs or is missing (co-partitioning is what makes a task), kBroker
  //! if the cluster cannot be asked.
  static Result<std::unique_ptr<KafkaChangelog>> start(std::string_view brokers,
                                                       const TopicNames& topics,
                                                       const broker::ConfMap& extra_conf = {});
  ~KafkaChangelog() override;

  int32_t partitions() const override { return partitions_; }
  void append(int32_t task, std::string_view key, const std::string_view* value) override;
  Status flush(int timeout_ms) override;
  Result<std::vector<runtime::TaskLogEntry>> read(int32_t task, int timeout_ms) override;

  uint64_t appended() const { return appended_.load(std::memory_order_relaxed); }

 private:
  KafkaChangelog(std::string brokers, std::string topic)
      : brokers_(std::move(brokers)), topic_(std::move(topic)) {}
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  std::string brokers_;
  std::string topic_;
  int32_t partitions_ = 0;
  broker::ClientPtr producer_;
  std::atomic<uint64_t> appended_{0};
  broker::ErrorTally failures_{"changelog"};
  std::atomic<uint64_t> failures_at_last_flush_{0};
};

}  // namespace vigil::egress
