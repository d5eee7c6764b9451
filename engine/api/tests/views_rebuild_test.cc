// Views after a restart: rebuild_views() reads the tail of the output topics from a real
// embedded broker (librdkafka mock cluster over TCP) into a fresh ViewStore.

#include <gtest/gtest.h>

#include "engine/api/tests/test_records.h"
#include "engine/api/views_rebuild.h"
#include "engine/broker/embedded_broker.h"
#include "engine/egress/kafka_sink.h"

namespace vigil::api {
namespace {

using namespace vigil::api::testing;

class ViewsRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = broker::EmbeddedBroker::start(1, 2, topics_);
    ASSERT_TRUE(b) << b.error().message;
    broker_ = std::move(b).value();
  }
  // What a previous engine run left on the output topics.
  void produce_history() {
    auto sink = egress::KafkaSink::start(broker_->bootstrap_servers(), topics_);
    ASSERT_TRUE(sink) << sink.error().message;
    auto& s = *sink.value();
    s.emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0 - 5000));
    s.emit(OutTopic::kAlarms, "e2", alarm("a2", "e2", vigil::v1::MINOR, vigil::v1::ACTIVE_UNACK, kT0 - 9000));
    s.emit(OutTopic::kAlarms, "e2", alarm("a2", "e2", vigil::v1::MINOR, vigil::v1::CLOSED, kT0 - 9000, kT0 - 1000));
    s.emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "", vigil::v1::CREATED, kT0 - 4000));
    s.emit(OutTopic::kDispatch, "ag1", offer("o1", "ag1", "e1", kT0 - 4000));
    s.emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "ag1", vigil::v1::OFFERED, kT0 - 4000));
    s.emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "ag1", vigil::v1::ACCEPTED, kT0 - 3000));
    s.emit(OutTopic::kOperator, "e1", task("t1", "e1", kT0 - 5000));
    ASSERT_TRUE(s.flush(10'000));
  }

  TopicNames topics_;
  std::unique_ptr<broker::EmbeddedBroker> broker_;
  SimClock clock_{kT0};
};

TEST_F(ViewsRebuildTest, OpenAlarmsOrdersAndTasksComeBackAfterARestart) {
  produce_history();
  ViewStore views(clock_);
  auto r = rebuild_views(broker_->bootstrap_servers(), topics_, views);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().records, 8u);
  EXPECT_EQ(r.value().undecodable, 0u);
  auto open = views.alarms(AlarmFilter{});
  ASSERT_EQ(open.size(), 1u);  // a2 was closed before the restart
  EXPECT_EQ(open[0].alarm_id(), "a1");
  ASSERT_TRUE(views.alarm("a2"));
  EXPECT_EQ(views.alarm("a2")->latest.status(), vigil::v1::CLOSED);
  auto o1 = views.order("o1");
  ASSERT_TRUE(o1);
  EXPECT_EQ(o1->state, vigil::v1::ACCEPTED);
  ASSERT_EQ(o1->timeline.size(), 3u);
  EXPECT_EQ(o1->timeline[0].state(), vigil::v1::CREATED);
  EXPECT_EQ(o1->agency_id, "ag1");
  EXPECT_EQ(views.tasks(10).size(), 1u);
  EXPECT_EQ(views.offers_of("ag1", 10).size(), 1u);
}

TEST_F(ViewsRebuildTest, ReadsOnlyTheTailOfEachPartition) {
  produce_history();
  ViewStore views(clock_);
  auto r = rebuild_views(broker_->bootstrap_servers(), topics_, views, 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r.value().records, 0u);
  EXPECT_LT(r.value().records, 8u);
  EXPECT_LE(r.value().records, static_cast<uint64_t>(r.value().partitions));
}

TEST_F(ViewsRebuildTest, EmptyTopicsLeaveTheViewsEmpty) {
  ViewStore views(clock_);
  auto r = rebuild_views(broker_->bootstrap_servers(), topics_, views);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().records, 0u);
  EXPECT_EQ(r.value().partitions, 0);
  EXPECT_TRUE(views.alarms(AlarmFilter{}).empty());
}

TEST(ViewsRebuildNoBrokerTest, UnreachableBrokerIsAnErrorNotAHang) {
  SimClock clock{kT0};
  ViewStore views(clock);
  auto r = rebuild_views("127.0.0.1:1", TopicNames(), views, 100, 2000);
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace vigil::api
