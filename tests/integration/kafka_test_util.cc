#include "tests/integration/kafka_test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "engine/core/clock.h"
#include "engine/egress/kafka_sink.h"
#include "engine/ingest/kafka_source.h"
#include "engine/runtime/engine.h"

namespace vigil::testing {

namespace {
rd_kafka_conf_t* conf_for(const std::string& brokers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[256];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  return conf;
}
}  // namespace

TestProducer::TestProducer(const std::string& brokers) {
  rd_kafka_conf_t* conf = conf_for(brokers);
  char err[256];
  rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
}

TestProducer::~TestProducer() {
  rd_kafka_flush(rk_, 10'000);
  rd_kafka_destroy(rk_);
}

void TestProducer::send(const std::string& topic, const std::string& key, const std::string& value) {
  const std::string full = "vigil." + topic;
  rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(full.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                    RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  rd_kafka_poll(rk_, 0);
}

void TestProducer::flush() { rd_kafka_flush(rk_, 10'000); }

TestConsumer::TestConsumer(const std::string& brokers, const std::vector<std::string>& topics) {
  static std::atomic<int> n{0};
  rd_kafka_conf_t* conf = conf_for(brokers);
  char err[256];
  const std::string group = "test-reader-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk_);
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const auto& t : topics) {
    rd_kafka_topic_partition_list_add(list, ("vigil." + t).c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_subscribe(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
}

TestConsumer::~TestConsumer() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

const std::vector<KafkaRecord>& TestConsumer::poll_until(
    const std::function<bool(const std::vector<KafkaRecord>&)>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done(records_) && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaRecord r;
      r.topic = std::string(names_.strip(rd_kafka_topic_name(m->rkt)));
      if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
      r.partition = m->partition;
      r.offset = m->offset;
      records_.push_back(std::move(r));
    }
    rd_kafka_message_destroy(m);
  }
  return records_;
}

LiveEngine::LiveEngine(const std::string& brokers, const std::string& data_dir,
                       std::shared_ptr<const rules::RuleSet> rules, uint32_t shards) {
  std::atomic<int> state{0};  // 0 starting, 1 running, -1 failed
  thread_ = std::thread([&, brokers, data_dir, rules, shards] {
    const TopicNames topics("vigil.");
    auto sink = egress::KafkaSink::start(brokers, topics);
    if (!sink) {
      ADD_FAILURE() << sink.error().message;
      state = -1;
      return;
    }
    runtime::EngineOptions eo;
    eo.shards = shards;
    eo.data_dir = data_dir;
    eo.commit_interval_ms = 100;
    runtime::Engine engine(eo, rules, *sink.value(), RealClock::instance());
    if (auto s = engine.start(); !s) {
      ADD_FAILURE() << s.error().message;
      state = -1;
      return;
    }
    const auto stored = engine.stored_offsets();
    auto source = ingest::KafkaSource::start(
        brokers, "vigil-engine", topics, {}, [stored](InTopic t, int32_t p) -> std::optional<int64_t> {
          auto it = stored.find({t, p});
          if (it == stored.end()) return std::nullopt;
          return it->second;
        });
    if (!source) {
      ADD_FAILURE() << source.error().message;
      state = -1;
      return;
    }
    state = 1;
    std::vector<InputRecord> batch;
    while (!stop_.load()) {
      size_t n = source.value()->poll_batch(batch, 1024, 20);
      for (size_t i = 0; i < n; ++i) engine.submit(batch[i]);
      EXPECT_TRUE(engine.maybe_checkpoint());
    }
    EXPECT_TRUE(engine.stop());
    (void)source.value()->close();
    EXPECT_TRUE(sink.value()->flush(10'000));
  });
  while (state.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  started_ = state.load() == 1;
}

LiveEngine::~LiveEngine() { stop(); }

void LiveEngine::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

TempDir::TempDir() {
  static std::atomic<int> n{0};
  path_ = (std::filesystem::temp_directory_path() /
           ("vigil-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++)))
              .string();
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  if (std::getenv("VIGIL_KEEP_TEST_DIR") != nullptr) {  // for a post-mortem of the logs
    std::cerr << "kept " << path_ << std::endl;
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace vigil::testing
