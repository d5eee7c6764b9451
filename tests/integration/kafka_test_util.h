#pragma once
// Test helpers around real librdkafka clients: a producer of raw records, a read_committed
// consumer that collects records until a condition holds, and the engine's live loop
// (KafkaSource -> Engine -> KafkaSink) on a thread.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/dispatch/dispatch_config.h"
#include "engine/rules/rule_set.h"

namespace vigil::testing {

struct KafkaRecord {
  std::string topic;  //!< bare name (prefix stripped)
  std::string key;
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;
};

class TestProducer {
 public:
  explicit TestProducer(const std::string& brokers);
  ~TestProducer();
  void send(const std::string& topic, const std::string& key, const std::string& value);
  void flush();

 private:
  rd_kafka_t* rk_;
};

class TestConsumer {
 public:
  TestConsumer(const std::string& brokers, const std::vector<std::string>& topics);
  ~TestConsumer();
  //! Polls until done(all records so far) is true or timeout_ms passes; returns all records.
  const std::vector<KafkaRecord>& poll_until(const std::function<bool(const std::vector<KafkaRecord>&)>& done,
                                             int timeout_ms);

 private:
  rd_kafka_t* rk_;
  TopicNames names_;
  std::vector<KafkaRecord> records_;
};

//! The engine fed from the broker by the same loop `vigil run` uses, on its own thread.
class LiveEngine {
 public:
  LiveEngine(const std::string& brokers, const std::string& data_dir,
             std::shared_ptr<const rules::RuleSet> rules, uint32_t shards = 2);
  ~LiveEngine();
  //! Clean stop: final checkpoint, consumer closed, producer flushed. Idempotent.
  void stop();
  bool started() const { return started_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  bool started_ = false;
  std::thread thread_;
};

//! A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace vigil::testing
