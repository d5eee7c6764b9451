// task_of() against the partitions librdkafka's default partitioner really picks: keyed records
// produced by a default-config producer to the embedded broker, their delivery reports compared.
#include "engine/state/task.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"

namespace vigil::state {
namespace {

struct Reports {
  std::map<std::string, int32_t> partition_of;  // key -> partition of its delivery report
  int errors = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* r = static_cast<Reports*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++r->errors;
    return;
  }
  r->partition_of[std::string(static_cast<const char*>(m->key), m->key_len)] = m->partition;
}

//! Produces one record per key to `topic` with librdkafka's defaults (only bootstrap.servers
//! set) and returns the partition each landed on.
std::map<std::string, int32_t> produce(const std::string& servers, const std::string& topic,
                                       const std::vector<std::string>& keys) {
  Reports reports;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", servers.c_str(), err, sizeof err),
            RD_KAFKA_CONF_OK)
      << err;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_opaque(conf, &reports);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    ADD_FAILURE() << err;
    rd_kafka_conf_destroy(conf);
    return {};
  }
  for (const auto& key : keys) {
    const std::string value = "v-" + key;
    const rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
    EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  EXPECT_EQ(rd_kafka_flush(rk, 30'000), RD_KAFKA_RESP_ERR_NO_ERROR);  // bounded wait
  rd_kafka_poll(rk, 0);
  rd_kafka_destroy(rk);
  EXPECT_EQ(reports.errors, 0);
  return reports.partition_of;
}

TEST(TaskOf, MatchesLibrdkafkasDefaultPartitioner) {
  auto broker = broker::EmbeddedBroker::start(1, 1, TopicNames{});
  ASSERT_TRUE(broker) << broker.error().message;
  std::vector<std::string> keys = {"e1",          "e2",    "elder-000017", "elder-123456",
                                   "(no region)", "north", "south-east",   "张三",
                                   "x",           "a/b:c"};
  for (int i = 0; i < 40; ++i) keys.push_back("elder-" + std::to_string(i * 7919));
  for (int partitions : {4, 7}) {
    const std::string topic = "task-of-" + std::to_string(partitions);
    ASSERT_TRUE(broker.value()->create_topic(topic, partitions));
    const auto got = produce(broker.value()->bootstrap_servers(), topic, keys);
    ASSERT_EQ(got.size(), keys.size());
    std::map<int32_t, int> used;
    for (const auto& key : keys) {
      const int32_t task = task_of(key, partitions);
      EXPECT_EQ(task, got.at(key)) << "key '" << key << "' of " << partitions << " partitions";
      ++used[task];
    }
    EXPECT_GT(used.size(), 1u) << "every key on one partition: not a test of the hash";
  }
}

TEST(TaskOf, KnownCrc32Values) {
  // CRC-32 (IEEE) of "123456789" is 0xCBF43926 = 3421780262.
  EXPECT_EQ(task_of("123456789", 1000), static_cast<int32_t>(3421780262u % 1000));
  EXPECT_EQ(task_of("123456789", 7), static_cast<int32_t>(3421780262u % 7));
  EXPECT_EQ(task_of("anything", 1), 0);
}

}  // namespace
}  // namespace vigil::state
