#include "engine/api/views.h"

#include <gtest/gtest.h>

#include "engine/api/push_hub.h"
#include "engine/api/tee_sink.h"
#include "engine/api/tests/test_records.h"

namespace vigil::api {
namespace {

using namespace vigil::api::testing;
using vigil::v1::AlarmEvent;

TEST(ViewStore, QueueIsSeverityThenAge) {
  SimClock clock(kT0);
  ViewStore v(clock);
  v.apply(OutTopic::kAlarms, alarm("minor-old", "e1", vigil::v1::MINOR, vigil::v1::ACTIVE_UNACK, kT0 - 500));
  v.apply(OutTopic::kAlarms, alarm("crit-new", "e2", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0));
  v.apply(OutTopic::kAlarms, alarm("crit-old", "e3", vigil::v1::CRITICAL, vigil::v1::ACTIVE_ACK, kT0 - 100));
  auto q = v.alarms({});
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].alarm_id(), "crit-old");
  EXPECT_EQ(q[1].alarm_id(), "crit-new");
  EXPECT_EQ(q[2].alarm_id(), "minor-old");
  AlarmFilter f;
  f.severity = vigil::v1::CRITICAL;
  f.status = "ACTIVE_UNACK";
  ASSERT_EQ(v.alarms(f).size(), 1u);
  EXPECT_EQ(v.alarms(f)[0].alarm_id(), "crit-new");
}

TEST(ViewStore, HistoryAndClosedAlarmsLeaveTheQueue) {
  SimClock clock(kT0);
  ViewStore v(clock);
  v.apply(OutTopic::kAlarms, alarm("a1", "e1", vigil::v1::MAJOR, vigil::v1::ACTIVE_UNACK, kT0));
  v.apply(OutTopic::kAlarms, alarm("a1", "e1", vigil::v1::MAJOR, vigil::v1::ACTIVE_ACK, kT0, kT0 + 30'000));
  v.apply(OutTopic::kAlarms, alarm("a1", "e1", vigil::v1::MAJOR, vigil::v1::CLOSED, kT0, kT0 + 90'000));
  EXPECT_TRUE(v.alarms({}).empty());
  auto a = v.alarm("a1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->history.size(), 3u);
  EXPECT_EQ(a->latest.status(), vigil::v1::CLOSED);
  AlarmFilter closed;
  closed.status = "CLOSED";
  EXPECT_EQ(v.alarms(closed).size(), 1u);
  ViewCounters c = v.counters();
  EXPECT_EQ(c.alarms_total, 1u);
  EXPECT_EQ(c.answered_within_60s, 1u);
  EXPECT_EQ(c.alarms_by_severity_status[vigil::v1::MAJOR][vigil::v1::CLOSED], 1u);
  EXPECT_EQ(c.active_by_severity[vigil::v1::MAJOR], 0u);
  EXPECT_EQ(c.alarms_today, 1u);
}

TEST(ViewStore, MemoryIsBounded) {
  SimClock clock(kT0);
  ViewLimits limits;
  limits.closed_alarms = 10;
  limits.finished_orders = 5;
  limits.alarm_history = 4;
  ViewStore v(clock, limits);
  for (int i = 0; i < 100; ++i) {
    std::string id = "a" + std::to_string(i);
    v.apply(OutTopic::kAlarms, alarm(id, "e1", vigil::v1::MINOR, vigil::v1::CLOSED, kT0 + i));
    std::string o = "o" + std::to_string(i);
    v.apply(OutTopic::kTracking, order_event(o, "e1", "ag1", vigil::v1::CANCELLED, kT0 + i));
  }
  for (int i = 0; i < 10; ++i) {
    v.apply(OutTopic::kAlarms, alarm("rep", "e1", vigil::v1::MINOR, vigil::v1::ACTIVE_UNACK, kT0));
  }
  EXPECT_FALSE(v.alarm("a0"));
  EXPECT_TRUE(v.alarm("a99"));
  AlarmFilter all;
  all.status = "CLOSED";
  EXPECT_EQ(v.alarms(all).size(), 10u);
  EXPECT_EQ(v.orders(vigil::v1::ORDER_STATE_UNSPECIFIED, "", 1000).size(), 5u);
  EXPECT_EQ(v.alarm("rep")->history.size(), 4u);
  EXPECT_EQ(v.counters().orders_by_state[vigil::v1::CANCELLED], 100u);
}

TEST(ViewStore, OrdersOffersAndRates) {
  SimClock clock(kT0);
  ViewStore v(clock);
  v.apply(OutTopic::kTracking, order_event("o1", "e1", "", vigil::v1::CREATED, kT0));
  v.apply(OutTopic::kDispatch, offer("o1", "ag1", "e1", kT0, 1, kT0 + 3'600'000));
  v.apply(OutTopic::kTracking, order_event("o1", "e1", "ag1", vigil::v1::OFFERED, kT0));
  auto offers = v.offers_of("ag1", 10);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_TRUE(offers[0].pending);
  v.apply(OutTopic::kTracking, order_event("o1", "e1", "ag1", vigil::v1::ACCEPTED, kT0 + 1000));
  v.apply(OutTopic::kTracking, order_event("o1", "e1", "ag1", vigil::v1::ARRIVED, kT0 + 60'000));
  EXPECT_FALSE(v.offers_of("ag1", 10)[0].pending);
  auto o = v.order("o1");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->state, vigil::v1::ARRIVED);
  EXPECT_EQ(o->timeline.size(), 4u);
  EXPECT_TRUE(o->visible_to_agency("ag1"));
  EXPECT_FALSE(o->visible_to_agency("ag2"));
  EXPECT_EQ(v.orders(vigil::v1::ORDER_STATE_UNSPECIFIED, "ag2", 10).size(), 0u);
  ViewCounters c = v.counters();
  EXPECT_DOUBLE_EQ(c.acceptance_rate(), 1.0);
  EXPECT_DOUBLE_EQ(c.on_time_rate(), 1.0);
  EXPECT_EQ(c.orders_today, 1u);
  auto e = v.elder("e1", 10);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->orders.size(), 1u);
}

TEST(TeeSink, ForwardsEveryRecordAndPushesOnlyWhenSomeoneListens) {
  SimClock clock(kT0);
  ViewStore v(clock);
  PushHub hub(4);
  egress::CollectingSink down;
  TeeSink tee(&down, v, hub);
  tee.emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::MAJOR, vigil::v1::ACTIVE_UNACK, kT0));
  EXPECT_EQ(hub.published(), 0u);
  hub.add_listener();
  for (int i = 0; i < 10; ++i) {
    tee.emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::MAJOR, vigil::v1::ACTIVE_UNACK, kT0));
  }
  vigil::v1::Reminder r;
  r.set_elder_id("e1");
  tee.emit(OutTopic::kReminders, "e1", r);
  EXPECT_EQ(down.records().size(), 12u);
  EXPECT_EQ(hub.published(), 10u);
  EXPECT_EQ(hub.dropped(), 6u);
  auto batch = hub.drain();
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_TRUE(batch[0].operators_only);
  EXPECT_EQ(batch[0].json->rfind(R"({"topic":"alarms","value":{"alarm_id":"a1")", 0), 0u);
}

}  // namespace
}  // namespace vigil::api
