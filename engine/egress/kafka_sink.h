#pragma once
// Kafka out: the engine's output records produced by one idempotent producer, so broker retries
// never duplicate or reorder a partition's records.

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>
#include <string_view>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/metrics.h"
#include "engine/core/result.h"
#include "engine/egress/sink.h"

namespace vigil::egress {

//! A Sink producing each record as Protobuf wire bytes, keyed, to the output topic under the
//! configured prefix. Owned by the engine for its whole run; emit() and flush() may be called
//! from any thread at once (the shard threads). Delivery reports are served by whichever thread
//! is in emit() or flush(); they run no user code beyond counting.
class KafkaSink final : public Sink {
 public:
  //! Creates the producer for `brokers`; `extra_conf` is put over vigil's producer settings,
  //! except that idempotence stays on. Returns kConfig for a rejected property, kBroker if the
  //! producer cannot be created.
  static Result<std::unique_ptr<KafkaSink>> start(std::string_view brokers,
                                                  const TopicNames& topics,
                                                  const broker::ConfMap& extra_conf = {});
  //! Flushes for up to a few seconds, logging what could not be delivered, then destroys the
  //! producer.
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  //! Queues one record. When the producer's queue is full it waits, serving delivery reports,
  //! until there is room: back-pressure, not loss. Other produce failures are counted.
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;

  //! Waits up to timeout_ms until every record emitted so far is acknowledged; records other
  //! threads emit meanwhile are waited for too. Returns kBroker
  //! if records are still outstanding, if any failed delivery since the previous flush(), or if
  //! the producer hit a fatal error; the message says how many and why.
  Status flush(int timeout_ms) override;

  //! Produces the bytes as they are, with the tag as the `vigil-out` header.
  void emit_serialized(OutTopic topic, std::string_view key, std::string_view bytes,
                       const OutputTag& tag) override;
  bool can_find_tagged() const override { return true; }
  //! The high watermarks of every output partition read at the first call, advanced by the
  //! offsets of acknowledged records since.
  OutputPositions positions() override;
  Result<std::vector<uint32_t>> find_tagged(const OutputPositions& from, std::string_view instance,
                                            uint64_t epoch, int timeout_ms) override;

  //! Records acknowledged by the broker so far.
  uint64_t delivered() const { return delivered_.get(); }
  //! Records that failed to be queued or delivered so far.
  uint64_t failed() const { return failures_.total(); }

 private:
  explicit KafkaSink(const TopicNames& topics);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void produce(OutTopic topic, std::string_view key, std::string_view bytes, const OutputTag* tag);
  //! Partition count of every output topic, from the cluster's metadata.
  Result<std::vector<std::pair<OutTopic, int32_t>>> output_partitions(int timeout_ms);

  TopicNames topics_;
  std::string brokers_;
  broker::ClientPtr producer_;
  std::mutex positions_mu_;
  OutputPositions positions_;  //!< guarded by positions_mu_
  bool positions_seeded_ = false;
  //! One topic handle per OutTopic, indexed by its value; destroyed before the producer.
  std::array<rd_kafka_topic_t*, kOutputs.size() + kInternalOutputs.size()> topic_handles_{};
  Counter delivered_;
  broker::ErrorTally failures_{"egress"};
  //! Client-level errors (broker down and the like); librdkafka retries those itself.
  broker::ErrorTally client_errors_{"egress"};
  std::atomic<uint64_t> failures_at_last_flush_{0};
  std::atomic<bool> warned_queue_full_{false};
};

}  // namespace vigil::egress
