#include "engine/egress/kafka_sink.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/tests/kafka_test_util.h"
#include "engine/codec/codec.h"
#include "schemas/outputs.pb.h"

namespace vigil::egress {
namespace {

constexpr int kPartitions = 3;
constexpr int kFlushMs = 15000;

vigil::v1::AlarmEvent sample_alarm() {
  vigil::v1::AlarmEvent alarm;
  alarm.set_alarm_id("a-17");
  alarm.set_elder_id("e1");
  alarm.set_device_id("d-4");
  alarm.set_rule_id("fall_no_recovery");
  alarm.set_severity(vigil::v1::CRITICAL);
  alarm.set_status(vigil::v1::ACTIVE_UNACK);
  alarm.mutable_raised_at()->set_seconds(1'700'000'000);
  alarm.mutable_updated_at()->set_seconds(1'700'000'060);
  alarm.set_count(2);
  alarm.set_message("fall without recovery for 60 s");
  alarm.set_order_id("o-a-17");
  alarm.set_assignee("op-3");
  return alarm;
}

class KafkaSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = broker::EmbeddedBroker::start(1, kPartitions, TopicNames());
    ASSERT_TRUE(started) << started.error().message;
    broker_ = std::move(started).value();
    brokers_ = broker_->bootstrap_servers();
  }

  std::unique_ptr<broker::EmbeddedBroker> broker_;
  std::string brokers_;
};

TEST_F(KafkaSinkTest, EmittedAlarmEventIsReadBackWithItsKeyAndFields) {
  auto sink = KafkaSink::start(brokers_, TopicNames());
  ASSERT_TRUE(sink) << sink.error().message;
  const vigil::v1::AlarmEvent alarm = sample_alarm();
  sink.value()->emit(OutTopic::kAlarms, "e1", alarm);
  auto flushed = sink.value()->flush(kFlushMs);
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ(sink.value()->delivered(), 1u);
  EXPECT_EQ(sink.value()->failed(), 0u);

  auto records = broker::testing::consume(brokers_, "vigil.alarms", kPartitions, 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].key, "e1");
  vigil::v1::AlarmEvent decoded;
  auto status = codec::decode(records[0].payload, codec::Format::kBinary, &decoded);
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, alarm))
      << decoded.DebugString();
  EXPECT_EQ(decoded.alarm_id(), "a-17");
  EXPECT_EQ(decoded.severity(), vigil::v1::CRITICAL);
  EXPECT_EQ(decoded.raised_at().seconds(), 1'700'000'000);
}

TEST_F(KafkaSinkTest, ConcurrentEmittersKeepEachKeysOrder) {
  auto sink = KafkaSink::start(brokers_, TopicNames());
  ASSERT_TRUE(sink) << sink.error().message;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  std::vector<std::thread> shards;
  for (int t = 0; t < kThreads; ++t) {
    shards.emplace_back([&, t] {
      vigil::v1::AlarmEvent alarm = sample_alarm();
      const std::string elder = "e" + std::to_string(t);
      alarm.set_elder_id(elder);
      for (int i = 1; i <= kPerThread; ++i) {
        alarm.set_count(i);
        sink.value()->emit(OutTopic::kAlarms, elder, alarm);
      }
    });
  }
  for (auto& shard : shards) shard.join();
  auto flushed = sink.value()->flush(kFlushMs);
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ(sink.value()->delivered(), static_cast<uint64_t>(kThreads * kPerThread));

  auto records = broker::testing::consume(brokers_, "vigil.alarms", kPartitions,
                                          kThreads * kPerThread);
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<std::string, std::vector<uint32_t>> counts;
  for (const auto& r : records) {
    vigil::v1::AlarmEvent alarm;
    ASSERT_TRUE(codec::decode(r.payload, codec::Format::kBinary, &alarm));
    ASSERT_EQ(alarm.elder_id(), r.key);
    counts[r.key].push_back(alarm.count());
  }
  ASSERT_EQ(counts.size(), static_cast<size_t>(kThreads));
  for (const auto& [key, seen] : counts) {
    ASSERT_EQ(seen.size(), static_cast<size_t>(kPerThread)) << key;
    for (int i = 0; i < kPerThread; ++i) EXPECT_EQ(seen[i], static_cast<uint32_t>(i + 1)) << key;
  }
}

TEST_F(KafkaSinkTest, FlushReportsOutstandingRecordsWhileTheBrokerIsDown) {
  ASSERT_TRUE(broker_->broker_down(1));
  auto sink = KafkaSink::start(brokers_, TopicNames());
  ASSERT_TRUE(sink) << sink.error().message;
  sink.value()->emit(OutTopic::kTracking, "o1", sample_alarm());
  auto stalled = sink.value()->flush(200);
  ASSERT_FALSE(stalled);
  EXPECT_EQ(stalled.error().code, Errc::kBroker);
  EXPECT_NE(stalled.error().message.find("1 output records still unacknowledged"),
            std::string::npos)
      << stalled.error().message;

  ASSERT_TRUE(broker_->broker_up(1));
  auto flushed = sink.value()->flush(kFlushMs);
  ASSERT_TRUE(flushed) << flushed.error().message;
  EXPECT_EQ(sink.value()->delivered(), 1u);
  EXPECT_EQ(broker::testing::consume(brokers_, "vigil.tracking", kPartitions, 1).size(), 1u);
}

TEST_F(KafkaSinkTest, RejectsABadProperty) {
  auto sink = KafkaSink::start(brokers_, TopicNames(), {{"linger.ms", "later"}});
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().code, Errc::kConfig);
}


// Exactly-once delivery rests on these: tagged records can be found again after a restart,
// from positions taken before they were produced.
TEST_F(KafkaSinkTest, TaggedRecordsOfAnEpochAreFoundFromEarlierPositions) {
  std::string bytes;
  {
    auto sink = KafkaSink::start(brokers_, TopicNames());
    ASSERT_TRUE(sink) << sink.error().message;
    ASSERT_TRUE(sink.value()->can_find_tagged());
    vigil::v1::AlarmEvent a = sample_alarm();
    sink.value()->emit(OutTopic::kAlarms, "e0", a);  // untagged, before the positions
    ASSERT_TRUE(sink.value()->flush(kFlushMs));
    const OutputPositions before = sink.value()->positions();
    EXPECT_EQ(before.size(), static_cast<size_t>(kPartitions) * all_outputs().size());
    for (uint32_t i = 0; i < 5; ++i) {
      a.set_count(i + 1);
      ASSERT_TRUE(a.SerializeToString(&bytes));
      if (i == 3) continue;  // "lost in the crash"
      sink.value()->emit_serialized(OutTopic::kAlarms, "e" + std::to_string(i), bytes,
                                    OutputTag{"inst-a", 7, i});
    }
    sink.value()->emit_serialized(OutTopic::kTracking, "o1", bytes, OutputTag{"inst-b", 7, 9});
    sink.value()->emit_serialized(OutTopic::kTracking, "o1", bytes, OutputTag{"inst-a", 6, 8});
    ASSERT_TRUE(sink.value()->flush(kFlushMs));
    const OutputPositions after = sink.value()->positions();
    int64_t moved = 0;
    for (const auto& [tp, next] : after) moved += next - before.at(tp);
    EXPECT_EQ(moved, 6);

    auto found = sink.value()->find_tagged(before, "inst-a", 7, kFlushMs);
    ASSERT_TRUE(found) << found.error().message;
    EXPECT_EQ(found.value(), (std::vector<uint32_t>{0, 1, 2, 4}));
  }
  auto restarted = KafkaSink::start(brokers_, TopicNames());
  ASSERT_TRUE(restarted);
  auto all = restarted.value()->find_tagged({}, "inst-a", 6, kFlushMs);  // from the beginning
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all.value(), (std::vector<uint32_t>{8}));
}

TEST(OutputTag, FormatsAndParsesOnlyItsInstance) {
  const std::string v = format_tag(OutputTag{"ab12", 42, 7});
  EXPECT_EQ(v, "ab12/42/7");
  uint64_t epoch = 0;
  uint32_t index = 0;
  EXPECT_TRUE(parse_tag(v, "ab12", &epoch, &index));
  EXPECT_EQ(epoch, 42u);
  EXPECT_EQ(index, 7u);
  EXPECT_FALSE(parse_tag(v, "ab1", &epoch, &index));
  EXPECT_FALSE(parse_tag("ab12/x/7", "ab12", &epoch, &index));
  EXPECT_FALSE(parse_tag("ab12/42", "ab12", &epoch, &index));
}

TEST(SinkWithoutSearch, SaysSoAndStillDeliversSerialisedRecords) {
  CollectingSink sink;
  EXPECT_FALSE(sink.can_find_tagged());
  EXPECT_FALSE(sink.find_tagged({}, "i", 1, 10));
  std::string bytes;
  ASSERT_TRUE(sample_alarm().SerializeToString(&bytes));
  sink.emit_serialized(OutTopic::kAlarms, "e1", bytes, OutputTag{"i", 1, 0});
  ASSERT_EQ(sink.records().size(), 1u);
  EXPECT_NE(sink.records()[0].json.find("a-17"), std::string::npos);
}

}  // namespace
}  // namespace vigil::egress
