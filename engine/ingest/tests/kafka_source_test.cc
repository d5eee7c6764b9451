#include "engine/ingest/kafka_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "engine/broker/tests/kafka_test_util.h"

namespace vigil::ingest {
namespace {

using broker::testing::wait_until;

std::vector<std::pair<std::string, std::string>> numbered(const std::string& prefix, int n) {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < n; ++i) {
    records.emplace_back(prefix + "-k" + std::to_string(i), prefix + "-p" + std::to_string(i));
  }
  return records;
}

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = broker::EmbeddedBroker::start(1, 2, TopicNames());
    ASSERT_TRUE(started) << started.error().message;
    broker_ = std::move(started).value();
    brokers_ = broker_->bootstrap_servers();
  }

  //! Polls until `count` records arrived in all or the bound passed.
  std::vector<InputRecord> poll_until(KafkaSource& source, size_t count) {
    std::vector<InputRecord> all;
    std::vector<InputRecord> batch;
    wait_until([&] {
      const size_t n = source.poll_batch(batch, 64, 100);
      all.insert(all.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
      return all.size() >= count;
    });
    return all;
  }

  std::unique_ptr<broker::EmbeddedBroker> broker_;
  std::string brokers_;
};

TEST_F(KafkaSourceTest, PollsEveryInputTopicInOffsetOrderPerPartition) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t0", 10), 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t1", 10), 1));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.calls", numbered("c0", 3), 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", numbered("r1", 2), 1));

  auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_TRUE(source) << source.error().message;
  std::vector<InputRecord> records = poll_until(*source.value(), 25);
  ASSERT_EQ(records.size(), 25u);
  EXPECT_EQ(source.value()->records(), 25u);

  std::map<std::pair<InTopic, int32_t>, std::vector<const InputRecord*>> by_partition;
  for (const InputRecord& r : records) by_partition[{r.topic, r.partition}].push_back(&r);
  const std::map<std::pair<InTopic, int32_t>, std::pair<std::string, size_t>> expected = {
      {{InTopic::kTelemetry, 0}, {"t0", 10}},
      {{InTopic::kTelemetry, 1}, {"t1", 10}},
      {{InTopic::kCalls, 0}, {"c0", 3}},
      {{InTopic::kRegistry, 1}, {"r1", 2}},
  };
  ASSERT_EQ(by_partition.size(), expected.size());
  for (const auto& [where, what] : expected) {
    const auto& got = by_partition[where];
    ASSERT_EQ(got.size(), what.second) << what.first;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]->offset, static_cast<int64_t>(i)) << what.first;
      EXPECT_EQ(got[i]->key, what.first + "-k" + std::to_string(i));
      EXPECT_EQ(got[i]->payload, what.first + "-p" + std::to_string(i));
      EXPECT_EQ(got[i]->format, codec::Format::kBinary);
      EXPECT_GT(got[i]->ingest_ns, 0);
    }
  }

  // One member owns both partitions of all four input topics.
  auto owned = source.value()->assignment();
  std::sort(owned.begin(), owned.end());
  std::vector<std::pair<InTopic, int32_t>> all;
  for (InTopic t : kKafkaInputs) {
    all.emplace_back(t, 0);
    all.emplace_back(t, 1);
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(owned, all);
  EXPECT_TRUE(source.value()->close());
  EXPECT_TRUE(source.value()->assignment().empty());
}

TEST_F(KafkaSourceTest, StartsEachPartitionAtItsStoredOffset) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t0", 5), 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t1", 1), 1));

  auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic topic, int32_t partition) -> std::optional<int64_t> {
                                     if (topic == InTopic::kTelemetry && partition == 0) return 2;
                                     return std::nullopt;
                                   });
  ASSERT_TRUE(source) << source.error().message;
  std::vector<InputRecord> records = poll_until(*source.value(), 4);
  ASSERT_EQ(records.size(), 4u);
  std::vector<int64_t> p0_offsets;
  std::vector<int64_t> p1_offsets;
  for (const InputRecord& r : records) {
    ASSERT_EQ(r.topic, InTopic::kTelemetry);
    (r.partition == 0 ? p0_offsets : p1_offsets).push_back(r.offset);
  }
  EXPECT_EQ(p0_offsets, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(p1_offsets, (std::vector<int64_t>{0}));
}

TEST_F(KafkaSourceTest, CommitsNoOffsetsToKafka) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.agency", numbered("a0", 3), 0));
  {
    auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                     [](InTopic, int32_t) { return std::nullopt; });
    ASSERT_TRUE(source) << source.error().message;
    ASSERT_EQ(poll_until(*source.value(), 3).size(), 3u);
    ASSERT_TRUE(source.value()->close());
  }
  // Ask the group coordinator what the group has committed: nothing.
  auto conf = broker::make_conf({{"bootstrap.servers", brokers_}, {"group.id", "engine"}});
  auto reader = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  ASSERT_TRUE(reader);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "vigil.agency", 0);
  ASSERT_EQ(rd_kafka_committed(reader.value().get(), parts, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(parts->elems[0].offset, RD_KAFKA_OFFSET_INVALID);
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_consumer_close(reader.value().get());
}

TEST_F(KafkaSourceTest, ANewMemberResumesAtStoredOffsetsAndReadsLiveRecords) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", numbered("r0", 2), 0));
  {
    auto first = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                    [](InTopic, int32_t) { return std::nullopt; });
    ASSERT_TRUE(first) << first.error().message;
    ASSERT_EQ(poll_until(*first.value(), 2).size(), 2u);
    ASSERT_TRUE(first.value()->close());
  }
  // The engine checkpointed registry[0] up to offset 2; calls was never read.
  auto second = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic topic, int32_t partition) -> std::optional<int64_t> {
                                     if (topic == InTopic::kRegistry && partition == 0) return 2;
                                     return std::nullopt;
                                   });
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.calls", {{"e1", "call"}}, 1));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", {{"e1", "elder"}}, 0));
  std::vector<InputRecord> records = poll_until(*second.value(), 2);
  ASSERT_EQ(records.size(), 2u);
  std::sort(records.begin(), records.end(),
            [](const InputRecord& a, const InputRecord& b) { return a.topic < b.topic; });
  EXPECT_EQ(records[0].topic, InTopic::kCalls);
  EXPECT_EQ(records[0].payload, "call");
  EXPECT_EQ(records[1].topic, InTopic::kRegistry);
  EXPECT_EQ(records[1].offset, 2);
  EXPECT_EQ(records[1].payload, "elder");
}

TEST_F(KafkaSourceTest, ReadsTheRegistryBacklogBeforeOtherInputs) {
  // Written in this order, but Kafka orders only within a partition: without the hold, the
  // first fetch hands out telemetry first.
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", numbered("r", 4)));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t", 6)));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.agency", numbered("a", 2)));
  auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_TRUE(source) << source.error().message;
  std::vector<InputRecord> records = poll_until(*source.value(), 12);
  ASSERT_EQ(records.size(), 12u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(records[i].topic, InTopic::kRegistry) << i;
  for (size_t i = 4; i < records.size(); ++i) EXPECT_NE(records[i].topic, InTopic::kRegistry) << i;
  EXPECT_FALSE(source.value()->holding_for_registry());
}

TEST_F(KafkaSourceTest, AnEmptyRegistryDoesNotKeepInputsWaiting) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.calls", numbered("c", 2), 0));
  auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_TRUE(source) << source.error().message;
  std::vector<InputRecord> records = poll_until(*source.value(), 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].topic, InTopic::kCalls);
  EXPECT_FALSE(source.value()->holding_for_registry());
}

TEST_F(KafkaSourceTest, PollBatchFillsTheFrontSlotsInPlace) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t0", 3), 0));
  auto source = KafkaSource::start(brokers_, "engine", TopicNames(), {},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_TRUE(source) << source.error().message;

  std::vector<InputRecord> batch(8);
  for (InputRecord& r : batch) r.payload.reserve(1024);
  const char* first_payload = batch[0].payload.data();
  size_t got = 0;
  ASSERT_TRUE(wait_until([&] {
    got = source.value()->poll_batch(batch, 1, 100);
    return got > 0;
  }));
  ASSERT_EQ(got, 1u);
  EXPECT_EQ(batch[0].payload, "t0-p0");
  // Written in place: the slot's own buffer, and no slot was dropped.
  EXPECT_EQ(batch[0].payload.data(), first_payload);
  EXPECT_EQ(batch.size(), 8u);

  // An empty pool grows to hold what a poll returns.
  std::vector<InputRecord> grown;
  std::vector<int64_t> offsets;
  ASSERT_TRUE(wait_until([&] {
    const size_t n = source.value()->poll_batch(grown, 8, 100);
    EXPECT_GE(grown.size(), n);
    for (size_t i = 0; i < n; ++i) offsets.push_back(grown[i].offset);
    return offsets.size() >= 2;
  }));
  EXPECT_EQ(offsets, (std::vector<int64_t>{1, 2}));
}

TEST_F(KafkaSourceTest, HonoursTheTopicPrefix) {
  ASSERT_TRUE(broker_->create_topic("other.calls", 1));
  ASSERT_TRUE(broker::testing::produce(brokers_, "other.calls", {{"e9", "x"}}, 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.calls", {{"e1", "y"}}, 0));
  auto source = KafkaSource::start(brokers_, "engine-other", TopicNames("other."), {},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_TRUE(source) << source.error().message;
  std::vector<InputRecord> records = poll_until(*source.value(), 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].topic, InTopic::kCalls);
  EXPECT_EQ(records[0].key, "e9");
}

// Task mode. The engine dropped task 0 on its own (a fenced checkpoint) while this member kept
// its partitions and no rebalance came (tests/fault/README.md, the two-instance outage flake):
// the source takes the task back, as an assignment would, and rewinds each of its partitions
// to where the engine resumes it, so no record of the task is skipped for good.
TEST_F(KafkaSourceTest, ATaskTheEngineDroppedWhileItsPartitionsStayedIsTakenBackAndRewound) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", numbered("r0", 1), 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t0", 6), 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", numbered("t1", 3), 1));
  std::map<int32_t, bool> owned;
  std::vector<std::vector<int32_t>> assigned;
  TaskHooks::Offsets resume;  // the engine's last checkpoint: empty, from the beginning
  TaskHooks hooks;
  bool no_task_1 = false;  // later: the engine has no task 1 (it does not take it)
  hooks.assign = [&](const std::vector<int32_t>& tasks) -> Result<TaskHooks::Offsets> {
    assigned.push_back(tasks);
    for (int32_t t : tasks) owned[t] = !(t == 1 && no_task_1);
    return resume;
  };
  hooks.revoke = [&](const std::vector<int32_t>& tasks, bool) {
    for (int32_t t : tasks) owned[t] = false;
    return ok();
  };
  hooks.owns = [&](int32_t t) { return owned[t]; };
  auto source = KafkaSource::start(brokers_, "engine-tasks", TopicNames(), {},
                                   [](InTopic, int32_t) { return std::nullopt; }, false, hooks);
  ASSERT_TRUE(source) << source.error().message;
  ASSERT_EQ(poll_until(*source.value(), 10).size(), 10u);
  ASSERT_EQ(assigned.size(), 1u);  // one rebalance: both tasks
  EXPECT_EQ(source.value()->tasks_taken_back(), 0u);

  // Fenced: the engine drops task 0 and would resume it from its checkpoint, telemetry[0] at
  // 2 and the registry at its end; the consumer keeps the partitions, and its fetch position.
  // Task 1 is dropped too, and the engine will not take it again: offered, not rewound.
  owned[0] = false;
  owned[1] = false;
  no_task_1 = true;
  resume = {{{InTopic::kTelemetry, 0}, 2}, {{InTopic::kRegistry, 0}, 1}};
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.telemetry", {{"t0-k6", "t0-p6"}}, 0));
  std::vector<InputRecord> again;
  std::vector<InputRecord> batch;
  wait_until([&] {
    const size_t n = source.value()->poll_batch(batch, 64, 100);
    again.insert(again.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
    return assigned.size() == 2 && !again.empty() && again.back().offset == 6 &&
           std::any_of(again.begin(), again.end(), [](const InputRecord& r) { return r.offset == 2; });
  });
  ASSERT_EQ(assigned.size(), 2u) << "never taken back";
  EXPECT_EQ(assigned.back(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(source.value()->tasks_taken_back(), 1u);  // task 0 only
  EXPECT_TRUE(source.value()->task_error());
  EXPECT_TRUE(owned[0]);
  // Before the take-back the record written meanwhile may come (the engine skips it: not
  // owned); after it, telemetry[0] again from 2, in order, and nothing of task 1 or the
  // registry again.
  std::vector<int64_t> offsets;
  for (const InputRecord& r : again) {
    ASSERT_EQ(r.topic, InTopic::kTelemetry);
    ASSERT_EQ(r.partition, 0);
    offsets.push_back(r.offset);
  }
  if (!offsets.empty() && offsets.front() == 6) offsets.erase(offsets.begin());
  EXPECT_EQ(offsets, (std::vector<int64_t>{2, 3, 4, 5, 6}));
  // Task 1 is not offered again: polled past another lease (5 s), nothing more is assigned.
  const int64_t until = RealClock::instance().steady_ns() + 6'500'000'000;
  while (RealClock::instance().steady_ns() < until) source.value()->poll_batch(batch, 64, 100);
  EXPECT_EQ(assigned.size(), 2u);
  EXPECT_TRUE(source.value()->close());
}

// What poll_batch() does when a rebalance callback ran while it collected a batch: the records
// of the moved partitions taken before are dropped, the others kept in order, and the pool
// keeps every slot and its buffer.
TEST(DropRecordsOf, DropsTheMovedPartitionsRecordsAndKeepsTheRestInOrderAndThePool) {
  std::vector<InputRecord> out(7);
  const std::pair<InTopic, int32_t> where[] = {
      {InTopic::kTelemetry, 0}, {InTopic::kTelemetry, 1}, {InTopic::kRegistry, 1},
      {InTopic::kTelemetry, 1}, {InTopic::kCalls, 0},     {InTopic::kTelemetry, 0}};
  for (size_t i = 0; i < 6; ++i) {
    out[i].topic = where[i].first;
    out[i].partition = where[i].second;
    out[i].offset = static_cast<int64_t>(i);
    out[i].payload.assign(100 + i, 'x');
  }
  std::vector<const char*> buffers;
  for (const auto& r : out) buffers.push_back(r.payload.data());
  // Task 1 moved (every topic's partition 1), then nothing.
  const std::vector<std::pair<InTopic, int32_t>> moved = {
      {InTopic::kTelemetry, 1}, {InTopic::kCalls, 1}, {InTopic::kRegistry, 1}};
  const size_t n = drop_records_of(out, 6, moved);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(out[0].offset, 0);
  EXPECT_EQ(out[1].offset, 4);
  EXPECT_EQ(out[2].offset, 5);
  EXPECT_EQ(out[1].payload.size(), 104u);  // the record moved with its slot
  ASSERT_EQ(out.size(), 7u);
  std::vector<const char*> after;
  for (const auto& r : out) after.push_back(r.payload.data());
  std::sort(buffers.begin(), buffers.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, buffers);  // the same buffers, none freed or new
  EXPECT_EQ(drop_records_of(out, n, {}), n);
  EXPECT_EQ(drop_records_of(out, 0, moved), 0u);
}

TEST_F(KafkaSourceTest, RejectsABadProperty) {
  auto source = KafkaSource::start(brokers_, "engine", TopicNames(),
                                   {{"fetch.wait.max.ms", "soon"}},
                                   [](InTopic, int32_t) { return std::nullopt; });
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code, Errc::kConfig);
  EXPECT_NE(source.error().message.find("fetch.wait.max.ms"), std::string::npos);
}

}  // namespace
}  // namespace vigil::ingest
