// Closed orders (engine/dispatch/README.md, "Closed orders"): an ended order is closed
// DispatchConfig::closed_after (7 days) after its last transition. From then on a RATE, CANCEL
// or agency update is refused as closed and a repeated request is a duplicate, whether or not
// the dispatcher still holds the order; the dispatcher then keeps only its id, and the record
// stays in the store.

#include "engine/dispatch/closed_orders.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/dispatch/order_history.h"
#include "engine/dispatch/tests/dispatcher_fixture.h"
#include "engine/state/state_store.h"

namespace vigil::dispatch {
namespace {

using namespace vigil::dispatch::testing;  // NOLINT: the fixtures and their using-declarations

constexpr TimeMs kWeek = 7 * 24 * kHour;

TEST(ClosedOrders, HoldsEveryIdAddedAndNoOther) {
  ClosedOrders c;
  for (int i = 0; i < 5000; ++i) c.add("call-" + std::to_string(i));  // several merges
  c.add("call-17");                                                    // once only
  EXPECT_EQ(c.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(c.contains("call-" + std::to_string(i))) << i;
  for (int i = 5000; i < 10000; ++i) ASSERT_FALSE(c.contains("call-" + std::to_string(i))) << i;
  EXPECT_LE(c.heap_bytes(), 2 * 5000 * sizeof(uint64_t) + 1024 * sizeof(uint64_t));
}

class ClosingTest : public DispatcherTest {
 protected:
  //! o1 accepted by `a` at kT0 and COMPLETED at `done`.
  void completed_order(const std::string& id, TimeMs done) {
    accepted_order(id, "a", kT0);
    ASSERT_TRUE(d_.on_agency_update(update("a", id, AgencyUpdate::COMPLETED, done), done));
  }
  static void expect_closed(const Status& s) {
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Errc::kRejected);
    EXPECT_NE(s.error().message.find("is closed"), std::string::npos) << s.error().message;
  }
};

TEST_F(ClosingTest, ARatedOrderClosesAWeekAfterItsRatingAndIsThenOnlyAnId) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  completed_order("o1", kT0 + kHour);
  const TimeMs rated = kT0 + 2 * kHour;
  ASSERT_TRUE(d_.on_order_action(action("o1", OrderAction::RATE, 4), rated));  // within the week
  // COMPLETED's closing finds the order rated since: it is not closed yet.
  d_.advance_to(kT0 + kHour + kWeek);
  ASSERT_NE(d_.order("o1"), nullptr);
  d_.advance_to(rated + kWeek - 1);
  ASSERT_NE(d_.order("o1"), nullptr);
  d_.advance_to(rated + kWeek);
  EXPECT_EQ(d_.order("o1"), nullptr) << "a closed order is let go of";
  EXPECT_EQ(d_.orders_held(), 0u);
  EXPECT_EQ(d_.orders_closed(), 1u);

  const size_t tracked = tracking().size();
  expect_closed(d_.on_order_action(action("o1", OrderAction::RATE, 5), rated + kWeek));
  expect_closed(d_.on_agency_update(update("a", "o1", AgencyUpdate::EN_ROUTE, rated + kWeek),
                                    rated + kWeek));
  d_.create_order(make_request("o1", "meal_delivery", vigil::v1::NORMAL, rated + kWeek),
                  rated + kWeek);
  EXPECT_EQ(tracking().size(), tracked) << "a repeated request of a closed order is a duplicate";
  EXPECT_EQ(d_.order("o1"), nullptr);
}

TEST_F(ClosingTest, TheWindowDecidesNotWhetherTheOrderIsStillHeld) {
  // Closed by time before any advance_to let it go: refused the same way (replay and live
  // agree whatever their timers' timing).
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  completed_order("o1", kT0 + kHour);
  ASSERT_NE(d_.order("o1"), nullptr);
  expect_closed(d_.on_order_action(action("o1", OrderAction::RATE, 3), kT0 + kHour + kWeek));
  EXPECT_TRUE(d_.on_order_action(action("o1", OrderAction::RATE, 3), kT0 + kHour + kWeek - 1));
}

TEST_F(ClosingTest, AnEscalatedOrderCanBeCancelledForAWeek) {
  d_.create_order(make_request("o2", "meal_delivery"), kT0);  // no agency: ESCALATED at once
  ASSERT_EQ(d_.order("o2")->state(), vigil::v1::ESCALATED);
  expect_closed(d_.on_order_action(action("o2", OrderAction::CANCEL), kT0 + kWeek));
  EXPECT_TRUE(d_.on_order_action(action("o2", OrderAction::CANCEL), kT0 + kWeek - 1));
  d_.advance_to(kT0 + kWeek);
  EXPECT_NE(d_.order("o2"), nullptr) << "CANCELLED at the end of the week: a week more";
  d_.advance_to(kT0 + 2 * kWeek - 1);
  EXPECT_EQ(d_.order("o2"), nullptr);
}

class ClosingStoreTest : public DispatcherStoreTest {};

TEST_F(ClosingStoreTest, ClosedBeforeACheckpointIsStillWrittenAndLoadsAsAnIdOnly) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  accepted_order("o1", "a", kT0);
  const TimeMs done = kT0 + kHour;
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, done), done));
  d_.advance_to(done + kWeek);  // closed while its COMPLETED is not yet written
  ASSERT_EQ(d_.order("o1"), nullptr);
  {
    auto store = state::StateStore::open(dir_.string());
    ASSERT_TRUE(store) << store.error().message;
    state::StateOps ops;
    d_.collect_dirty(ops);
    OrderRecord written;
    bool found = false;
    for (const auto& [k, v] : ops.puts) {
      if (k == order_key("o1")) found = written.ParseFromArray(v.data(), static_cast<int>(v.size()));
    }
    ASSERT_TRUE(found) << "the closed order's last state reaches the store";
    EXPECT_EQ(written.state(), vigil::v1::COMPLETED);
    ASSERT_TRUE(store.value()->commit({&ops}, {}));
    state::StateOps again;
    d_.collect_dirty(again);
    for (const auto& [k, v] : again.puts) EXPECT_NE(k, order_key("o1")) << "written once";
  }
  auto store = state::StateStore::open(dir_.string());
  ASSERT_TRUE(store);
  egress::CollectingSink sink2;
  Dispatcher before(DispatchConfig{}, sink2);  // restarted within the week
  ASSERT_TRUE(before.load(*store.value(), done + kWeek - 1));
  ASSERT_NE(before.order("o1"), nullptr);
  EXPECT_EQ(before.next_due(), done + kWeek) << "its closing is armed again";
  Dispatcher after(DispatchConfig{}, sink2);  // restarted after it
  ASSERT_TRUE(after.load(*store.value(), done + kWeek));
  EXPECT_EQ(after.order("o1"), nullptr);
  EXPECT_EQ(after.orders_closed(), 1u);
  after.create_order(make_request("o1", "meal_delivery", vigil::v1::NORMAL, done + kWeek),
                     done + kWeek);
  EXPECT_TRUE(sink2.of(OutTopic::kTracking).empty()) << "still a duplicate after a restart";
}

TEST_F(ClosingStoreTest, ARestoredClosedOrderIsWrittenAsItCameAndKeptAsAnId) {
  d_.upsert_agency(make_agency("a", 0.2, "meal_delivery"));
  accepted_order("o1", "a", kT0);
  ASSERT_TRUE(d_.on_agency_update(update("a", "o1", AgencyUpdate::COMPLETED, kT0), kT0));
  state::StateOps ops;
  d_.collect_dirty(ops);
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& [k, v] : ops.puts) kv.emplace_back(std::string(k), std::string(v));

  egress::CollectingSink sink2;
  Dispatcher next(DispatchConfig{}, sink2);
  next.restore(kv, kT0 + kWeek);  // a task that moved here a week later
  EXPECT_EQ(next.order("o1"), nullptr);
  EXPECT_EQ(next.orders_closed(), 1u);
  state::StateOps rewritten;
  next.collect_dirty(rewritten);
  bool found = false;
  for (const auto& [k, v] : rewritten.puts) found = found || k == order_key("o1");
  EXPECT_TRUE(found) << "this instance's store gets the restored record, as for any order";
}

}  // namespace
}  // namespace vigil::dispatch
