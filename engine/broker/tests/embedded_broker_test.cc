#include "engine/broker/embedded_broker.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/broker/tests/kafka_test_util.h"

namespace vigil::broker {
namespace {

// Topic name -> partition count, as the cluster's metadata reports it.
std::map<std::string, int> topic_partitions(const std::string& brokers) {
  std::map<std::string, int> out;
  auto conf = make_conf({{"bootstrap.servers", brokers}});
  auto client = make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(client.value().get(), 1, nullptr, &md, 10000) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return out;
  }
  for (int i = 0; i < md->topic_cnt; ++i) out[md->topics[i].topic] = md->topics[i].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return out;
}

TEST(EmbeddedBroker, CreatesEveryInputAndOutputTopicUnderThePrefix) {
  auto broker = EmbeddedBroker::start(3, 4, TopicNames("test."));
  ASSERT_TRUE(broker) << broker.error().message;
  EXPECT_EQ(broker.value()->broker_count(), 3);
  auto topics = topic_partitions(broker.value()->bootstrap_servers());
  for (auto name : {"telemetry", "calls", "agency", "registry", "alarms", "dispatch", "tracking",
                    "operator", "reminders", "deadletter"}) {
    EXPECT_EQ(topics[std::string("test.") + name], 4) << name;
  }
  EXPECT_EQ(topics.count("vigil.telemetry"), 0u);
}

TEST(EmbeddedBroker, ProducedRecordIsReadBackByAGroupConsumerOverTcp) {
  auto broker = EmbeddedBroker::start(1, 2, TopicNames());
  ASSERT_TRUE(broker) << broker.error().message;
  const std::string brokers = broker.value()->bootstrap_servers();
  EXPECT_NE(brokers.find("127.0.0.1:"), std::string::npos) << brokers;

  ASSERT_TRUE(testing::produce(brokers, "vigil.telemetry", {{"e1", "hello"}}));

  auto conf = make_conf({{"bootstrap.servers", brokers},
                         {"group.id", "embedded-broker-test"},
                         {"auto.offset.reset", "earliest"}});
  ASSERT_TRUE(conf) << conf.error().message;
  auto consumer = make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  ASSERT_TRUE(consumer) << consumer.error().message;
  rd_kafka_t* rk = consumer.value().get();
  rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, "vigil.telemetry", RD_KAFKA_PARTITION_UA);
  ASSERT_EQ(rd_kafka_subscribe(rk, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(sub);

  std::string key, payload, topic;
  ASSERT_TRUE(testing::wait_until([&] {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr) return false;
    bool got = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (got) {
      topic = rd_kafka_topic_name(msg->rkt);
      key.assign(static_cast<const char*>(msg->key), msg->key_len);
      payload.assign(static_cast<const char*>(msg->payload), msg->len);
    }
    rd_kafka_message_destroy(msg);
    return got;
  }));
  EXPECT_EQ(topic, "vigil.telemetry");
  EXPECT_EQ(key, "e1");
  EXPECT_EQ(payload, "hello");
  rd_kafka_consumer_close(rk);
}

TEST(EmbeddedBroker, DeliversAgainAfterABrokerComesBackUp) {
  auto broker = EmbeddedBroker::start(1, 1, TopicNames());
  ASSERT_TRUE(broker) << broker.error().message;
  const std::string brokers = broker.value()->bootstrap_servers();
  ASSERT_TRUE(testing::produce(brokers, "vigil.alarms", {{"e1", "before"}}));

  auto unknown = broker.value()->broker_down(99);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::kBroker);
  ASSERT_TRUE(broker.value()->broker_down(1)) << "broker 1 should go down";
  ASSERT_TRUE(broker.value()->broker_up(1)) << "broker 1 should come back";

  ASSERT_TRUE(testing::produce(brokers, "vigil.alarms", {{"e1", "after"}}));
  auto records = testing::consume(brokers, "vigil.alarms", 1, 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].payload, "before");
  EXPECT_EQ(records[1].payload, "after");
  EXPECT_EQ(records[1].offset, 1);
}

TEST(EmbeddedBroker, RejectsEmptyClusterOrTopics) {
  auto no_brokers = EmbeddedBroker::start(0, 1, TopicNames());
  ASSERT_FALSE(no_brokers);
  EXPECT_EQ(no_brokers.error().code, Errc::kConfig);
  auto no_partitions = EmbeddedBroker::start(1, 0, TopicNames());
  ASSERT_FALSE(no_partitions);
  EXPECT_EQ(no_partitions.error().code, Errc::kConfig);
}

TEST(KafkaConf, NamesTheRejectedProperty) {
  auto conf = make_conf({{"linger.ms", "not-a-number"}});
  ASSERT_FALSE(conf);
  EXPECT_EQ(conf.error().code, Errc::kConfig);
  EXPECT_NE(conf.error().message.find("linger.ms=not-a-number"), std::string::npos)
      << conf.error().message;

  auto unknown = make_conf({{"no.such.property", "1"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("no.such.property"), std::string::npos);
}

TEST(KafkaConf, CallerSettingsOverrideDefaults) {
  ConfMap merged_map = merged(common_defaults(), {{"client.id", "mine"}});
  EXPECT_EQ(merged_map["client.id"], "mine");
  auto conf = make_conf({{"client.id", "mine"}});
  ASSERT_TRUE(conf);
  char value[64];
  size_t size = sizeof(value);
  ASSERT_EQ(rd_kafka_conf_get(conf.value().get(), "client.id", value, &size), RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "mine");
}

TEST(ErrorTally, CountsEveryErrorAndRemembersTheLast) {
  ErrorTally tally("test");
  tally.record(RD_KAFKA_RESP_ERR__TRANSPORT, "first");
  tally.record(RD_KAFKA_RESP_ERR__TRANSPORT, "second");
  tally.record(RD_KAFKA_RESP_ERR__TIMED_OUT, "third");
  EXPECT_EQ(tally.total(), 3u);
  EXPECT_EQ(tally.last(), RD_KAFKA_RESP_ERR__TIMED_OUT);
}

}  // namespace
}  // namespace vigil::broker
