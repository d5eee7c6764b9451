#include "engine/dispatch/dispatcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/core/time_util.h"
#include "engine/dispatch/order_history.h"
#include "engine/dispatch/tests/dispatcher_fixture.h"

namespace vigil::dispatch {
namespace {

using namespace vigil::dispatch::testing;  // NOLINT: the fixtures and their using-declarations

TEST(DispatchConfig, ServiceCircleIsOneKmWalkingAndTenKmForEmergencies) {
  DispatchConfig c;
  EXPECT_DOUBLE_EQ(c.radius_km("meal_delivery"), 1.0);
  EXPECT_DOUBLE_EQ(c.radius_km("emergency_response"), 10.0);
}

TEST_F(DispatcherTest, PicksTheNearestActiveAgencyOfTheCategoryWithinOneKm) {
  d_.upsert_agency(make_agency("m-mid", 0.8, "meal_delivery"));
  d_.upsert_agency(make_agency("m-near", 0.3, "meal_delivery"));
  d_.upsert_agency(make_agency("m-edge", 0.99, "meal_delivery"));
  d_.upsert_agency(make_agency("m-out", 1.01, "meal_delivery"));
  d_.upsert_agency(make_agency("m-inactive", 0.05, "meal_delivery", 3, 5, false));
  d_.upsert_agency(make_agency("bath", 0.02, "bathing"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);

  const OrderRecord* o = d_.order("o1");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(std::vector<std::string>(o->candidates().begin(), o->candidates().end()),
            (std::vector<std::string>{"m-near", "m-mid", "m-edge"}));
  EXPECT_EQ(states("o1"), (std::vector<OrderState>{vigil::v1::CREATED, vigil::v1::OFFERED}));
  auto off = offers();
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].agency_id(), "m-near");
  EXPECT_EQ(off[0].order_id(), "o1");
  EXPECT_EQ(off[0].elder_id(), "e1");
  EXPECT_EQ(off[0].category(), "meal_delivery");
  EXPECT_EQ(off[0].attempt(), 1u);
  EXPECT_EQ(to_ms(off[0].offered_at()), kT0);
  EXPECT_EQ(to_ms(off[0].expires_at()), kT0 + 10 * kMinute);
  EXPECT_EQ(sink_.of(OutTopic::kDispatch)[0].key, "m-near");
  EXPECT_EQ(agency("m-near").pending, 1);
}

TEST_F(DispatcherTest, FullAgencyIsSkippedForTheNextCandidate) {
  vigil::state::AgencyRecord full;
  *full.mutable_agency() = make_agency("m-full", 0.1, "meal_delivery", 2);
  full.set_load(2);
  d_.agencies().restore(full);
  d_.upsert_agency(make_agency("m-free", 0.95, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  EXPECT_EQ(offered_to("o1"), std::vector<std::string>{"m-free"});
  EXPECT_EQ(agency("m-full").pending, 0);
  expect_no_agency_over_capacity();
}

TEST_F(DispatcherTest, EmergencyResponseSearchesTheTenKmVehicleCircle) {
  d_.upsert_agency(make_agency("er-in", 9.9, "emergency_response"));
  d_.upsert_agency(make_agency("er-out", 10.1, "emergency_response"));
  d_.upsert_agency(make_agency("meal-2km", 2, "meal_delivery"));
  d_.create_order(make_request("ord-e1:sos:1", "emergency_response", vigil::v1::EMERGENCY), kT0);
  const OrderRecord* o = d_.order("ord-e1:sos:1");
  EXPECT_EQ(std::vector<std::string>(o->candidates().begin(), o->candidates().end()),
            std::vector<std::string>{"er-in"});
  auto off = offers();
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(to_ms(off[0].expires_at()), kT0 + 45 * kSecond);
  EXPECT_EQ(off[0].priority(), vigil::v1::EMERGENCY);
  // Meals are walked: an agency 2 km away is outside their 1 km circle.
  d_.create_order(make_request("o2", "meal_delivery"), kT0);
  EXPECT_EQ(states("o2"), (std::vector<OrderState>{vigil::v1::CREATED, vigil::v1::ESCALATED}));
}

TEST_F(DispatcherTest, DeclineOffersTheNextCandidate) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::DECLINED, kT0 + kMinute), kT0 + kMinute));
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "b"}));
  auto off = offers();
  EXPECT_EQ(off[1].attempt(), 2u);
  EXPECT_EQ(to_ms(off[1].offered_at()), kT0 + kMinute);
  EXPECT_EQ(to_ms(off[1].expires_at()), kT0 + kMinute + 10 * kMinute);
  auto t = tracking();
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2].state(), vigil::v1::OFFERED);
  EXPECT_EQ(t[2].agency_id(), "b");
  EXPECT_EQ(t[2].reason(), "a declined");
  EXPECT_EQ(agency("a").pending, 0);
  EXPECT_EQ(agency("b").pending, 1);
  // The declined offer's expiry is stale: nothing happens when it comes due.
  d_.advance_to(kT0 + 10 * kMinute);
  EXPECT_EQ(offers().size(), 2u);
}

TEST_F(DispatcherTest, ExpiryAtExactlyExpiresAtOffersTheNextCandidate) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  EXPECT_EQ(d_.next_due(), kT0 + 10 * kMinute);
  d_.advance_to(kT0 + 10 * kMinute - 1);
  EXPECT_EQ(offered_to("o1"), std::vector<std::string>{"a"});
  d_.advance_to(kT0 + 10 * kMinute);
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "b"}));
  auto off = offers();
  EXPECT_EQ(to_ms(off[1].offered_at()), kT0 + 10 * kMinute);
  EXPECT_EQ(tracking().back().reason(), "a did not answer in time");
  EXPECT_EQ(agency("a").pending, 0);
  // A late answer from the first agency is refused.
  auto s = d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0 + 11 * kMinute),
                               kT0 + 11 * kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
}

TEST_F(DispatcherTest, EveryCandidateOfferedTwiceThenEscalatedWithATask) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  TimeMs t = kT0;
  for (const char* who : {"a", "b", "a"}) {
    t += kMinute;
    ASSERT_TRUE(d_.on_agency_update(update(who, "o1", AgencyUpdate::DECLINED, t), t));
  }
  d_.advance_to(t + 10 * kMinute);  // b lets its second offer expire
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "b", "a", "b"}));
  const OrderRecord* o = d_.order("o1");
  EXPECT_EQ(o->state(), vigil::v1::ESCALATED);
  EXPECT_EQ(o->agency_id(), "");
  auto tr = tracking();
  EXPECT_EQ(tr.back().state(), vigil::v1::ESCALATED);
  EXPECT_EQ(tr.back().reason(), "no_agency_accepted");
  EXPECT_EQ(to_ms(tr.back().ts()), t + 10 * kMinute);
  auto tasks_out = tasks();
  ASSERT_EQ(tasks_out.size(), 1u);
  EXPECT_EQ(tasks_out[0].kind(), "escalation");
  EXPECT_EQ(tasks_out[0].task_id(), "esc-o1");
  EXPECT_EQ(tasks_out[0].order_id(), "o1");
  EXPECT_EQ(tasks_out[0].priority(), vigil::v1::URGENT);
  EXPECT_EQ(agency("a").pending, 0);
  EXPECT_EQ(agency("b").pending, 0);
}

TEST_F(DispatcherTest, NoCandidateEscalatesAtOnce) {
  d_.upsert_agency(make_agency("far", 3, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  EXPECT_EQ(states("o1"), (std::vector<OrderState>{vigil::v1::CREATED, vigil::v1::ESCALATED}));
  EXPECT_EQ(tracking().back().reason(), "no_candidate");
  EXPECT_TRUE(offers().empty());
  ASSERT_EQ(tasks().size(), 1u);
  EXPECT_EQ(tasks()[0].kind(), "escalation");
  EXPECT_EQ(to_ms(tasks()[0].created_at()), kT0);
  // No offer expiry nor late deadline: only the closing of the ended order, a week on.
  EXPECT_EQ(d_.next_due(), kT0 + DispatchConfig{}.closed_after);

  OrderRequest nowhere = make_request("o2", "meal_delivery", vigil::v1::EMERGENCY);
  nowhere.has_location = false;
  d_.create_order(nowhere, kT0);
  EXPECT_EQ(tracking().back().reason(), "no_location");
  EXPECT_EQ(tasks().back().priority(), vigil::v1::EMERGENCY);
}

TEST_F(DispatcherTest, DuplicateOrderRequestIsIgnored) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  const size_t before = sink_.records().size();
  d_.create_order(make_request("o1", "meal_delivery"), kT0 + kSecond);
  EXPECT_EQ(sink_.records().size(), before);
  EXPECT_EQ(agency("a").pending, 1);
}

TEST_F(DispatcherTest, UpdateFromAnotherAgencyIsRejected) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  const size_t before = sink_.records().size();
  auto s = d_.on_agency_update(update("b", "o1", AgencyUpdate::ACCEPTED, kT0), kT0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
  EXPECT_EQ(sink_.records().size(), before);
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::OFFERED);
  EXPECT_EQ(d_.order("o1")->agency_id(), "a");
  EXPECT_EQ(agency("b").record.load(), 0);

  s = d_.on_agency_update(update("a", "nope", AgencyUpdate::ACCEPTED, kT0), kT0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
}

TEST_F(DispatcherTest, CapacityOneAgencyIsNeverOverCapacity) {
  d_.upsert_agency(make_agency("one", 0.1, "meal_delivery", 1));
  d_.upsert_agency(make_agency("big", 0.9, "meal_delivery", 5));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  d_.create_order(make_request("o2", "meal_delivery"), kT0);
  expect_no_agency_over_capacity();
  EXPECT_EQ(offered_to("o1"), std::vector<std::string>{"one"});
  EXPECT_EQ(offered_to("o2"), std::vector<std::string>{"big"});
  ASSERT_TRUE(d_.on_agency_update(update("one", "o1", AgencyUpdate::ACCEPTED, kT0), kT0));
  // big declines: "one" is still busy with o1, so o2 can only go back to big.
  ASSERT_TRUE(d_.on_agency_update(update("big", "o2", AgencyUpdate::DECLINED, kT0), kT0));
  expect_no_agency_over_capacity();
  EXPECT_EQ(offered_to("o2"), (std::vector<std::string>{"big", "big"}));
  EXPECT_EQ(agency("one").record.load(), 1);
  EXPECT_EQ(agency("one").record.agency().capacity(), 1);
  // Once o1 is done, "one" takes work again.
  ASSERT_TRUE(
      d_.on_agency_update(update("one", "o1", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  EXPECT_EQ(agency("one").record.load(), 0);
  d_.create_order(make_request("o3", "meal_delivery", vigil::v1::NORMAL, kT0 + kHour), kT0 + kHour);
  EXPECT_EQ(offered_to("o3"), std::vector<std::string>{"one"});
  expect_no_agency_over_capacity();
}

TEST_F(DispatcherTest, CapacityOneAgencyAloneEscalatesTheSecondOrder) {
  d_.upsert_agency(make_agency("one", 0.1, "meal_delivery", 1));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  d_.create_order(make_request("o2", "meal_delivery"), kT0);
  expect_no_agency_over_capacity();
  EXPECT_EQ(offered_to("o2"), std::vector<std::string>{});
  EXPECT_EQ(d_.order("o2")->state(), vigil::v1::ESCALATED);
  EXPECT_EQ(agency("one").committed(), 1);
}

TEST_F(DispatcherTest, IllegalTransitionsAreRejected) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  auto s = d_.on_agency_update(update("a", "o1", AgencyUpdate::ARRIVED, kT0), kT0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
  EXPECT_EQ(s.error().message, "order o1 cannot go from OFFERED to ARRIVED");
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::OFFERED);

  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0), kT0));
  s = d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0), kT0);
  EXPECT_FALSE(s);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::ARRIVED, kT0 + kMinute), kT0 + kMinute));
  s = d_.on_agency_update(update("a", "o1", AgencyUpdate::EN_ROUTE, kT0 + kMinute), kT0 + kMinute);
  ASSERT_FALSE(s);  // no going back
  EXPECT_EQ(s.error().code, Errc::kRejected);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  s = d_.on_agency_update(update("a", "o1", AgencyUpdate::FAILED, kT0 + kHour), kT0 + kHour);
  EXPECT_FALSE(s);  // a finished order stays finished
  EXPECT_EQ(states("o1"),
            (std::vector<OrderState>{vigil::v1::CREATED, vigil::v1::OFFERED, vigil::v1::ACCEPTED,
                                     vigil::v1::ARRIVED, vigil::v1::COMPLETED}));
  EXPECT_EQ(agency("a").record.load(), 0);
}

TEST_F(DispatcherTest, CancelReleasesTheAgencysLoad) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery", 1));
  accepted_order("o1", "a", kT0);
  EXPECT_EQ(agency("a").record.load(), 1);
  ASSERT_TRUE(d_.on_order_action(action("o1", OrderAction::CANCEL), kT0 + kMinute));
  EXPECT_EQ(agency("a").record.load(), 0);
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::CANCELLED);
  EXPECT_EQ(tracking().back().reason(), "cancelled");
  auto s = d_.on_order_action(action("o1", OrderAction::CANCEL), kT0 + kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
  // Cancelling an offer still out frees the reserved place too.
  d_.create_order(make_request("o2", "meal_delivery"), kT0 + kHour);
  EXPECT_EQ(agency("a").pending, 1);
  ASSERT_TRUE(d_.on_order_action(action("o2", OrderAction::CANCEL), kT0 + kHour));
  EXPECT_EQ(agency("a").pending, 0);
  d_.advance_to(kT0 + 2 * kHour);  // the cancelled offer's expiry is stale
  EXPECT_EQ(d_.order("o2")->state(), vigil::v1::CANCELLED);
  // Another elder cannot cancel e1's order.
  d_.create_order(make_request("o3", "meal_delivery"), kT0 + 2 * kHour);
  s = d_.on_order_action(action("o3", OrderAction::CANCEL, 0, "e2"), kT0 + 2 * kHour);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
}

TEST_F(DispatcherTest, RateOnlyAfterCompletedAndMovesTheRatingByEma) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery", 3, 4.0));
  accepted_order("o1", "a", kT0);
  auto s = d_.on_order_action(action("o1", OrderAction::RATE, 5), kT0 + kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
  EXPECT_DOUBLE_EQ(agency("a").record.agency().rating(), 4.0);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  s = d_.on_order_action(action("o1", OrderAction::RATE, 6), kT0 + kHour);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidInput);
  ASSERT_TRUE(d_.on_order_action(action("o1", OrderAction::RATE, 1), kT0 + kHour));
  EXPECT_DOUBLE_EQ(agency("a").record.agency().rating(), 0.9 * 4.0 + 0.1 * 1);
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::RATED);
  EXPECT_EQ(tracking().back().reason(), "rating 1");
  s = d_.on_order_action(action("o1", OrderAction::RATE, 5), kT0 + kHour);
  EXPECT_FALSE(s);  // rated once
  EXPECT_DOUBLE_EQ(agency("a").record.agency().rating(), 3.7);
}

TEST_F(DispatcherTest, AgencyFullAtItsTurnKeepsItsTwoOffers) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery", 1));
  accepted_order("busy", "a", kT0 - kHour);  // a has room for more; nothing else
  // Make b full with an order of its own, offered to b because a is the one declining.
  d_.create_order(make_request("fill", "meal_delivery"), kT0 - kHour);
  ASSERT_EQ(d_.order("fill")->agency_id(), "a");
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "fill", AgencyUpdate::DECLINED, kT0 - kHour), kT0 - kHour));
  ASSERT_TRUE(
      d_.on_agency_update(update("b", "fill", AgencyUpdate::ACCEPTED, kT0 - kHour), kT0 - kHour));
  ASSERT_FALSE(agency("b").has_room());

  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::DECLINED, kT0 + kMinute), kT0 + kMinute));
  // b is full at its turn: passed over, a gets its second offer at once.
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "a"}));
  EXPECT_EQ(d_.order("o1")->offered(1), 0u);
  // b finishes its job before a answers again: b still has both of its offers.
  ASSERT_TRUE(d_.on_agency_update(update("b", "fill", AgencyUpdate::COMPLETED, kT0 + 2 * kMinute),
                                  kT0 + 2 * kMinute));
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::DECLINED, kT0 + 3 * kMinute),
                                  kT0 + 3 * kMinute));
  ASSERT_TRUE(d_.on_agency_update(update("b", "o1", AgencyUpdate::DECLINED, kT0 + 4 * kMinute),
                                  kT0 + 4 * kMinute));
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "a", "b", "b"}));
  ASSERT_TRUE(d_.on_agency_update(update("b", "o1", AgencyUpdate::DECLINED, kT0 + 5 * kMinute),
                                  kT0 + 5 * kMinute));
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::ESCALATED);
  EXPECT_EQ(tracking().back().reason(), "no_agency_accepted");
  EXPECT_EQ(offers().back().attempt(), 4u);
  expect_no_agency_over_capacity();
}

TEST_F(DispatcherTest, CandidatesWithOffersLeftAllFullEscalatesNoAgencyFree) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.upsert_agency(make_agency("b", 0.5, "meal_delivery", 1));
  d_.agencies().find("b")->record.set_load(1);  // b is busy with an order of its own
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::DECLINED, kT0), kT0));
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::DECLINED, kT0 + kMinute), kT0 + kMinute));
  EXPECT_EQ(offered_to("o1"), (std::vector<std::string>{"a", "a"}));
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::ESCALATED);
  EXPECT_EQ(tracking().back().reason(), "no_agency_free");
  EXPECT_EQ(tasks().back().kind(), "escalation");
}

class LateOrderTest : public DispatcherTest {
 protected:
  std::vector<vigil::v1::AlarmEvent> alarms() const {
    return decoded<vigil::v1::AlarmEvent>(sink_, OutTopic::kAlarms);
  }
  OrderRequest windowed(const std::string& id, TimeMs window_end) {
    OrderRequest r = make_request(id, "meal_delivery");
    r.window_end = window_end;
    return r;
  }
};

TEST_F(LateOrderTest, NotArrivedByWindowEndRaisesOrderLateAndLateOrderTask) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.create_order(windowed("o1", kT0 + kHour), kT0);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0 + kMinute), kT0 + kMinute));
  d_.advance_to(kT0 + kHour - 1);
  EXPECT_TRUE(alarms().empty());
  d_.advance_to(kT0 + kHour);  // due at exactly the window end: "by" means before it
  auto al = alarms();
  ASSERT_EQ(al.size(), 1u);
  EXPECT_EQ(al[0].alarm_id(), "e1:order_late:o1");
  EXPECT_EQ(al[0].rule_id(), "order_late");
  EXPECT_EQ(al[0].severity(), vigil::v1::MAJOR);
  EXPECT_EQ(al[0].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(al[0].order_id(), "o1");
  EXPECT_EQ(to_ms(al[0].raised_at()), kT0 + kHour);
  EXPECT_EQ(sink_.of(OutTopic::kAlarms)[0].key, "e1");
  auto t = tasks();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].kind(), "late_order");
  EXPECT_EQ(t[0].task_id(), "late-o1");
  EXPECT_EQ(t[0].alarm_id(), "e1:order_late:o1");
  EXPECT_EQ(t[0].priority(), vigil::v1::URGENT);
  EXPECT_EQ(to_ms(t[0].created_at()), kT0 + kHour);
  // Arrival clears and closes it; no second alarm for the same order.
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::ARRIVED, kT0 + 70 * kMinute),
                                  kT0 + 70 * kMinute));
  al = alarms();
  ASSERT_EQ(al.size(), 3u);
  EXPECT_EQ(al[1].status(), vigil::v1::CLEARED_UNACK);
  EXPECT_EQ(al[2].status(), vigil::v1::CLOSED);
  EXPECT_EQ(to_ms(al[2].updated_at()), kT0 + 70 * kMinute);
  EXPECT_EQ(to_ms(al[2].raised_at()), kT0 + kHour);
  EXPECT_FALSE(d_.order("o1")->late_active());
  d_.advance_to(kT0 + 5 * kHour);
  EXPECT_EQ(alarms().size(), 3u);
}

TEST_F(LateOrderTest, ArrivedJustBeforeTheWindowEndIsNotLate) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.create_order(windowed("o1", kT0 + kHour), kT0);
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0), kT0));
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::ARRIVED, kT0 + kHour - 1),
                                  kT0 + kHour - 1));
  d_.advance_to(kT0 + 2 * kHour);
  EXPECT_TRUE(alarms().empty());
  EXPECT_TRUE(tasks().empty());
}

TEST_F(LateOrderTest, EmergencyIsLateAtTheAgencysLatestEta) {
  d_.upsert_agency(make_agency("er", 2, "emergency_response"));
  d_.create_order(make_request("o1", "emergency_response", vigil::v1::EMERGENCY), kT0);
  EXPECT_EQ(d_.order("o1")->late_due_ms(), 0);  // no window end, no eta yet
  auto acc = update("er", "o1", AgencyUpdate::ACCEPTED, kT0 + 10 * kSecond);
  set_ts(acc.mutable_eta(), kT0 + 6 * kMinute);
  ASSERT_TRUE(d_.on_agency_update(acc, kT0 + 10 * kSecond));
  EXPECT_EQ(d_.order("o1")->late_due_ms(), kT0 + 6 * kMinute);
  auto er = update("er", "o1", AgencyUpdate::EN_ROUTE, kT0 + kMinute);
  set_ts(er.mutable_eta(), kT0 + 8 * kMinute);
  ASSERT_TRUE(d_.on_agency_update(er, kT0 + kMinute));
  d_.advance_to(kT0 + 8 * kMinute - 1);
  EXPECT_TRUE(alarms().empty());
  d_.advance_to(kT0 + 8 * kMinute);
  ASSERT_EQ(alarms().size(), 1u);
  EXPECT_NE(alarms()[0].message().find("eta 2026-03-01T08:08:00Z"), std::string::npos)
      << alarms()[0].message();
  EXPECT_EQ(tasks().back().priority(), vigil::v1::EMERGENCY);
  // Cancelling a late order closes its alarm too.
  ASSERT_TRUE(d_.on_order_action(action("o1", OrderAction::CANCEL), kT0 + 9 * kMinute));
  ASSERT_EQ(alarms().size(), 3u);
  EXPECT_EQ(alarms()[2].status(), vigil::v1::CLOSED);
}

TEST_F(LateOrderTest, UnansweredOrderIsLateToo) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  d_.create_order(windowed("o1", kT0 + 5 * kMinute), kT0);
  d_.advance_to(kT0 + 5 * kMinute);
  ASSERT_EQ(alarms().size(), 1u);
  EXPECT_EQ(d_.order("o1")->state(), vigil::v1::OFFERED);
  EXPECT_NE(alarms()[0].message().find("OFFERED with a"), std::string::npos)
      << alarms()[0].message();
}

TEST_F(DispatcherTest, EscalatedOrderCanBeCancelledCompletedCannot) {
  d_.create_order(make_request("o1", "meal_delivery"), kT0);
  ASSERT_EQ(d_.order("o1")->state(), vigil::v1::ESCALATED);
  ASSERT_TRUE(d_.on_order_action(action("o1", OrderAction::CANCEL), kT0 + kMinute));
  EXPECT_EQ(states("o1"), (std::vector<OrderState>{vigil::v1::CREATED, vigil::v1::ESCALATED,
                                                   vigil::v1::CANCELLED}));
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  accepted_order("o2", "a", kT0);
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o2", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  auto s = d_.on_order_action(action("o2", OrderAction::CANCEL), kT0 + kHour);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "order o2 is already COMPLETED");
}


TEST_F(DispatcherTest, SnapshotHoldsTheBarrierStateOfOrdersChangedAfterIt) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery", 3));
  accepted_order("o1", "a", kT0);
  d_.create_order(make_request("o2", "meal_delivery"), kT0 + kMinute);  // offered to a
  auto state_in = [](const state::StateOps& ops, const std::string& id) {
    for (const auto& [k, v] : ops.puts) {
      if (k != "d/" + id) continue;
      OrderRecord o;
      EXPECT_TRUE(o.ParseFromArray(v.data(), static_cast<int>(v.size())));
      return o.state();
    }
    return vigil::v1::ORDER_STATE_UNSPECIFIED;
  };
  state::StateOps ops;
  d_.begin_snapshot(ops);  // the barrier
  EXPECT_EQ(d_.snapshot_owed(), 2u);
  EXPECT_EQ(ops.puts.size(), 1u) << "the agency at once, the orders owed";
  // After the barrier o1 completes: it is written as it was at the barrier first.
  ASSERT_TRUE(
      d_.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  EXPECT_EQ(d_.snapshot_owed(), 1u);
  EXPECT_EQ(state_in(ops, "o1"), vigil::v1::ACCEPTED);
  EXPECT_FALSE(d_.continue_snapshot(0));
  EXPECT_TRUE(d_.continue_snapshot(1));
  EXPECT_EQ(d_.snapshot_owed(), 0u);
  EXPECT_EQ(state_in(ops, "o2"), vigil::v1::OFFERED);
  EXPECT_EQ(ops.puts.size(), 5u);  // the agency, two orders and their elder index keys
  // The next snapshot has what changed after the barrier: o1 completed, and the agency.
  state::StateOps next;
  d_.collect_dirty(next);
  EXPECT_EQ(state_in(next, "o1"), vigil::v1::COMPLETED);
  EXPECT_EQ(state_in(next, "o2"), vigil::v1::ORDER_STATE_UNSPECIFIED) << "o2 did not change";
  EXPECT_EQ(next.puts.size(), 3u);
}

TEST_F(DispatcherStoreTest, CollectDirtyAndLoadRestoreOrdersAndLoad) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery", 2));
  d_.upsert_agency(make_agency("b", 0.9, "meal_delivery", 2));
  accepted_order("o1", "a", kT0);
  d_.create_order(make_request("o2", "meal_delivery"), kT0 + kMinute);  // offered to a
  ASSERT_EQ(d_.order("o2")->agency_id(), "a");
  {
    auto store = state::StateStore::open(dir_.string());
    ASSERT_TRUE(store) << store.error().message;
    state::StateOps ops;
    d_.collect_dirty(ops);
    EXPECT_EQ(ops.puts.size(), 6u);  // two orders, their elder index keys, two agencies
    ASSERT_TRUE(store.value()->commit({&ops}, {}));
    state::StateOps again;
    d_.collect_dirty(again);
    EXPECT_TRUE(again.empty());  // nothing changed since
  }
  auto store = state::StateStore::open(dir_.string());
  ASSERT_TRUE(store);
  egress::CollectingSink sink2;
  Dispatcher fresh(DispatchConfig{}, sink2);
  ASSERT_TRUE(fresh.load(*store.value(), kT0 + kMinute));

  const OrderRecord* o1 = fresh.order("o1");
  ASSERT_NE(o1, nullptr);
  EXPECT_EQ(o1->state(), vigil::v1::ACCEPTED);
  EXPECT_EQ(o1->agency_id(), "a");
  EXPECT_EQ(o1->history_size(), 3);
  const OrderRecord* o2 = fresh.order("o2");
  ASSERT_NE(o2, nullptr);
  EXPECT_EQ(o2->state(), vigil::v1::OFFERED);
  AgencyEntry* a = fresh.agencies().find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->record.load(), 1);
  EXPECT_EQ(a->pending, 1);  // o2's offer still reserves its place
  EXPECT_FALSE(a->has_room());
  // The restored agency is in the spatial index and the offer expiry is armed again.
  EXPECT_EQ(fresh.next_due(), kT0 + kMinute + 10 * kMinute);
  fresh.advance_to(kT0 + kMinute + 10 * kMinute);
  auto off = decoded<DispatchOffer>(sink2, OutTopic::kDispatch);
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].agency_id(), "b");
  EXPECT_EQ(a->pending, 0);
  // The restored accepted order goes on where it left off.
  ASSERT_TRUE(
      fresh.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, kT0 + kHour), kT0 + kHour));
  EXPECT_EQ(a->record.load(), 0);
}

TEST_F(DispatcherStoreTest, LateDeadlineSurvivesARestart) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  OrderRequest r = make_request("o1", "meal_delivery");
  r.window_end = kT0 + kHour;
  d_.create_order(r, kT0);
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::ACCEPTED, kT0), kT0));
  {
    auto store = state::StateStore::open(dir_.string());
    ASSERT_TRUE(store);
    state::StateOps ops;
    d_.collect_dirty(ops);
    ASSERT_TRUE(store.value()->commit({&ops}, {}));
  }
  auto store = state::StateStore::open(dir_.string());
  ASSERT_TRUE(store);
  egress::CollectingSink sink2;
  Dispatcher fresh(DispatchConfig{}, sink2);
  ASSERT_TRUE(fresh.load(*store.value(), kT0 + kMinute));
  EXPECT_EQ(fresh.next_due(), kT0 + kHour);
  fresh.advance_to(kT0 + 2 * kHour);  // down past the deadline: it fires right after start-up
  auto al = decoded<vigil::v1::AlarmEvent>(sink2, OutTopic::kAlarms);
  ASSERT_EQ(al.size(), 1u);
  EXPECT_EQ(to_ms(al[0].raised_at()), kT0 + kHour);
  EXPECT_EQ(decoded<vigil::v1::OperatorTask>(sink2, OutTopic::kOperator).size(), 1u);
}

TEST_F(DispatcherStoreTest, HistoryIsQueryableByOrderIdAndByElder) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  accepted_order("o-b", "a", kT0);
  d_.create_order(make_request("o-a", "meal_delivery", vigil::v1::NORMAL, kT0 + kMinute),
                  kT0 + kMinute);
  OrderRequest other = make_request("o-c", "meal_delivery", vigil::v1::NORMAL, kT0);
  other.elder_id = "e1/x";  // shares the key prefix "do/e1/" with e1
  d_.create_order(other, kT0);
  auto store = state::StateStore::open(dir_.string());
  ASSERT_TRUE(store);
  state::StateOps ops;
  d_.collect_dirty(ops);
  ASSERT_TRUE(store.value()->commit({&ops}, {}));

  auto one = find_order(*store.value(), "o-b");
  ASSERT_TRUE(one);
  ASSERT_TRUE(one.value().has_value());
  EXPECT_EQ(one.value()->state(), vigil::v1::ACCEPTED);
  ASSERT_EQ(one.value()->history_size(), 3);
  EXPECT_EQ(one.value()->history(2).state(), vigil::v1::ACCEPTED);
  auto none = find_order(*store.value(), "nope");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none.value().has_value());

  auto mine = orders_of_elder(*store.value(), "e1");
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine.value().size(), 2u);
  EXPECT_EQ(mine.value()[0].order_id(), "o-b");  // created first
  EXPECT_EQ(mine.value()[1].order_id(), "o-a");
  auto newest = orders_of_elder(*store.value(), "e1", 1);
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest.value().size(), 1u);
  EXPECT_EQ(newest.value()[0].order_id(), "o-a");
  auto nobody = orders_of_elder(*store.value(), "e9");
  ASSERT_TRUE(nobody);
  EXPECT_TRUE(nobody.value().empty());
}

}  // namespace
}  // namespace vigil::dispatch
