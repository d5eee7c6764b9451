#include "engine/alarm/alarm_book.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/core/time_util.h"

namespace vigil::alarm {
namespace {

using vigil::v1::AlarmAction;
using vigil::v1::AlarmEvent;

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z

//! Records the orders the book asks for.
class FakeDispatch final : public dispatch::DispatchPort {
 public:
  void request_order(const dispatch::OrderRequest& r) override { requests.push_back(r); }
  void order_action(const dispatch::OrderActionRequest& r) override { actions.push_back(r); }
  std::vector<dispatch::OrderRequest> requests;
  std::vector<dispatch::OrderActionRequest> actions;
};

rules::Rule make_rule(const std::string& id, vigil::v1::Severity severity,
                      const std::string& dispatch = "") {
  rules::Rule r;
  r.id = id;
  r.kind = rules::RuleKind::kEvent;
  r.reads = {id};
  r.severity = severity;
  r.actions.dispatch = dispatch;
  return r;
}

template <class M>
std::vector<M> decoded(const egress::CollectingSink& sink, OutTopic topic) {
  std::vector<M> out;
  for (const auto& rec : sink.of(topic)) {
    M m;
    auto s = codec::decode(rec.json, codec::Format::kJson, &m);
    EXPECT_TRUE(s) << rec.json;
    out.push_back(m);
  }
  return out;
}

class AlarmBookTest : public ::testing::Test {
 protected:
  AlarmBookTest() : book_(sink_, dispatch_) {
    vigil::v1::Elder p;
    p.set_elder_id("e1");
    p.set_home_lat(31.2304);
    p.set_home_lon(121.4737);
    registry::apply_profile(e_, p);
  }

  std::vector<AlarmEvent> alarms() const { return decoded<AlarmEvent>(sink_, OutTopic::kAlarms); }
  std::vector<vigil::v1::OperatorTask> tasks() const {
    return decoded<vigil::v1::OperatorTask>(sink_, OutTopic::kOperator);
  }
  std::vector<vigil::v1::AlarmStatus> status_trail() const {
    std::vector<vigil::v1::AlarmStatus> out;
    for (const auto& a : alarms()) out.push_back(a.status());
    return out;
  }

  Status act(AlarmAction::Action action, const std::string& alarm_id, TimeMs ts,
             const std::string& rule_id = "") {
    AlarmAction a;
    a.set_action(action);
    a.set_alarm_id(alarm_id);
    a.set_rule_id(rule_id);
    return book_.operator_action(e_, a, "op7", ts);
  }

  egress::CollectingSink sink_;
  FakeDispatch dispatch_;
  AlarmBook book_;
  registry::ElderState e_;
  rules::Rule sos_ = make_rule("sos", vigil::v1::CRITICAL, "emergency_response");
  rules::Rule hr_ = make_rule("hr_high", vigil::v1::MAJOR);
  rules::Rule fever_ = make_rule("fever", vigil::v1::MINOR);
};

TEST_F(AlarmBookTest, RaiseOpensActiveUnackAlarmWithOperatorTaskAndOrder) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos from device e1-sos");

  auto a = alarms();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].alarm_id(), "e1:sos:1");
  EXPECT_EQ(a[0].elder_id(), "e1");
  EXPECT_EQ(a[0].device_id(), "e1-sos");
  EXPECT_EQ(a[0].rule_id(), "sos");
  EXPECT_EQ(a[0].severity(), vigil::v1::CRITICAL);
  EXPECT_EQ(a[0].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(a[0].count(), 1u);
  EXPECT_EQ(to_ms(a[0].raised_at()), kT0);
  EXPECT_EQ(to_ms(a[0].updated_at()), kT0);
  EXPECT_EQ(a[0].order_id(), "ord-e1:sos:1");
  EXPECT_EQ(sink_.of(OutTopic::kAlarms)[0].key, "e1");

  auto t = tasks();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].kind(), "alarm");
  EXPECT_EQ(t[0].task_id(), "task-e1:sos:1");
  EXPECT_EQ(t[0].alarm_id(), "e1:sos:1");
  EXPECT_EQ(t[0].order_id(), "ord-e1:sos:1");
  EXPECT_EQ(t[0].priority(), vigil::v1::EMERGENCY);
  EXPECT_EQ(to_ms(t[0].created_at()), kT0);

  ASSERT_EQ(dispatch_.requests.size(), 1u);
  const auto& r = dispatch_.requests[0];
  EXPECT_EQ(r.order_id, "ord-e1:sos:1");
  EXPECT_EQ(r.elder_id, "e1");
  EXPECT_EQ(r.alarm_id, "e1:sos:1");
  EXPECT_EQ(r.category, "emergency_response");
  EXPECT_EQ(r.priority, vigil::v1::EMERGENCY);
  EXPECT_TRUE(r.has_location);
  EXPECT_EQ(r.lat, 31.2304);
  EXPECT_EQ(r.lon, 121.4737);
  EXPECT_EQ(r.created, kT0);

  ASSERT_NE(AlarmBook::active(e_, "sos"), nullptr);
  EXPECT_TRUE(e_.dirty);
}

TEST_F(AlarmBookTest, MajorRaiseMakesAnUrgentTaskAndNoOrder) {
  book_.raise(e_, hr_, "e1-hr", kT0, "heart_rate out of range for 600 s");
  auto a = alarms();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].order_id(), "");
  auto t = tasks();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].priority(), vigil::v1::URGENT);
  EXPECT_EQ(t[0].message(), "hr_high: heart_rate out of range for 600 s");
  EXPECT_TRUE(dispatch_.requests.empty());
}

TEST_F(AlarmBookTest, MinorRaiseMakesNoTaskUnlessTheRuleAsksForOne) {
  book_.raise(e_, fever_, "e1-thermo", kT0, "fever");
  EXPECT_EQ(alarms().size(), 1u);
  EXPECT_TRUE(tasks().empty());

  rules::Rule welfare = make_rule("meal_missed", vigil::v1::MINOR);
  welfare.actions.operator_task = "welfare_call";
  book_.raise(e_, welfare, "", kT0, "no meal_checkin");
  auto t = tasks();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].kind(), "welfare_call");
  EXPECT_EQ(t[0].priority(), vigil::v1::NORMAL);
}

TEST_F(AlarmBookTest, RepeatKeepsTheAlarmIdAndRaisesTheCount) {
  book_.raise(e_, sos_, "e1-sos", kT0, "first");
  book_.raise(e_, sos_, "e1-sos", kT0 + 20 * kSecond, "second");
  auto a = alarms();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].alarm_id(), a[0].alarm_id());
  EXPECT_EQ(a[1].count(), 2u);
  EXPECT_EQ(a[1].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(to_ms(a[1].raised_at()), kT0);
  EXPECT_EQ(to_ms(a[1].updated_at()), kT0 + 20 * kSecond);
  EXPECT_EQ(a[1].order_id(), "ord-e1:sos:1");
  EXPECT_EQ(tasks().size(), 1u);               // no second task
  EXPECT_EQ(dispatch_.requests.size(), 1u);    // no second order
  EXPECT_EQ(e_.alarms.size(), 1u);
}

TEST_F(AlarmBookTest, AckThenAutoClearGoesClearedAckThenClosed) {
  book_.raise(e_, hr_, "e1-hr", kT0, "high");
  ASSERT_TRUE(act(AlarmAction::ACK, "e1:hr_high:1", kT0 + kMinute));
  book_.auto_clear(e_, "hr_high", kT0 + kHour, "back_in_range");
  EXPECT_EQ(status_trail(),
            (std::vector<vigil::v1::AlarmStatus>{vigil::v1::ACTIVE_UNACK, vigil::v1::ACTIVE_ACK,
                                                 vigil::v1::CLEARED_ACK, vigil::v1::CLOSED}));
  auto a = alarms();
  EXPECT_EQ(a[1].message(), "acknowledged by op7");
  EXPECT_EQ(to_ms(a[1].updated_at()), kT0 + kMinute);
  EXPECT_EQ(a[2].message(), "cleared: back_in_range");
  EXPECT_EQ(to_ms(a[2].updated_at()), kT0 + kHour);
  EXPECT_EQ(to_ms(a[3].updated_at()), kT0 + kHour);
  EXPECT_TRUE(e_.alarms.empty());
  EXPECT_EQ(AlarmBook::active(e_, "hr_high"), nullptr);
}

TEST_F(AlarmBookTest, AutoClearThenAckGoesClearedUnackThenClearedAckThenClosed) {
  book_.raise(e_, hr_, "e1-hr", kT0, "high");
  book_.auto_clear(e_, "hr_high", kT0 + kHour, "back_in_range");
  EXPECT_EQ(AlarmBook::active(e_, "hr_high"), nullptr);
  ASSERT_EQ(e_.alarms.size(), 1u);  // cleared but not yet acknowledged: still open
  ASSERT_TRUE(act(AlarmAction::ACK, "e1:hr_high:1", kT0 + 2 * kHour));
  EXPECT_EQ(status_trail(),
            (std::vector<vigil::v1::AlarmStatus>{vigil::v1::ACTIVE_UNACK, vigil::v1::CLEARED_UNACK,
                                                 vigil::v1::CLEARED_ACK, vigil::v1::CLOSED}));
  EXPECT_TRUE(e_.alarms.empty());
}

TEST_F(AlarmBookTest, AutoClearWithoutAnActiveAlarmDoesNothing) {
  book_.auto_clear(e_, "hr_high", kT0, "back_in_range");
  EXPECT_TRUE(sink_.records().empty());
}

TEST_F(AlarmBookTest, AckByRuleIdFindsTheActiveAlarm) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  ASSERT_TRUE(act(AlarmAction::ACK, "", kT0 + kMinute, "sos"));
  EXPECT_EQ(alarms().back().status(), vigil::v1::ACTIVE_ACK);
  EXPECT_EQ(alarms().back().alarm_id(), "e1:sos:1");
}

TEST_F(AlarmBookTest, OperatorClearClosesAtOnce) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  ASSERT_TRUE(act(AlarmAction::CLEAR, "e1:sos:1", kT0 + kMinute));
  EXPECT_EQ(status_trail(),
            (std::vector<vigil::v1::AlarmStatus>{vigil::v1::ACTIVE_UNACK, vigil::v1::CLEARED_ACK,
                                                 vigil::v1::CLOSED}));
  EXPECT_TRUE(e_.alarms.empty());
}

TEST_F(AlarmBookTest, ActionOnUnknownAlarmIsNotFoundAndChangesNothing) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  const size_t before = sink_.records().size();
  auto s = act(AlarmAction::ACK, "e1:sos:9", kT0 + kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
  EXPECT_NE(s.error().message.find("e1:sos:9"), std::string::npos);
  s = act(AlarmAction::ACK, "", kT0 + kMinute, "hr_high");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
  EXPECT_EQ(sink_.records().size(), before);
}

TEST_F(AlarmBookTest, ActionOnClosedAlarmIsNotFound) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  ASSERT_TRUE(act(AlarmAction::CLEAR, "e1:sos:1", kT0 + kMinute));
  auto s = act(AlarmAction::ACK, "e1:sos:1", kT0 + 2 * kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kNotFound);
}

TEST_F(AlarmBookTest, DoubleAckIsRejectedAndChangesNothing) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  ASSERT_TRUE(act(AlarmAction::ACK, "e1:sos:1", kT0 + kMinute));
  const size_t before = sink_.records().size();
  auto s = act(AlarmAction::ACK, "e1:sos:1", kT0 + 2 * kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kRejected);
  EXPECT_EQ(sink_.records().size(), before);
  EXPECT_EQ(e_.alarms[0].status(), vigil::v1::ACTIVE_ACK);
  EXPECT_EQ(to_ms(e_.alarms[0].updated_at()), kT0 + kMinute);
}

TEST_F(AlarmBookTest, AssignWithoutAssigneeIsInvalid) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  auto s = act(AlarmAction::ASSIGN, "e1:sos:1", kT0 + kMinute);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidInput);
}

TEST_F(AlarmBookTest, NewRaiseAfterClosedGetsANewAlarmId) {
  book_.raise(e_, sos_, "e1-sos", kT0, "sos");
  ASSERT_TRUE(act(AlarmAction::CLEAR, "e1:sos:1", kT0 + kMinute));
  book_.raise(e_, sos_, "e1-sos", kT0 + kHour, "sos again");
  auto a = alarms();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[3].alarm_id(), "e1:sos:2");
  EXPECT_EQ(a[3].count(), 1u);
  EXPECT_EQ(a[3].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(a[3].order_id(), "ord-e1:sos:2");
  ASSERT_EQ(dispatch_.requests.size(), 2u);
  EXPECT_EQ(dispatch_.requests[1].order_id, "ord-e1:sos:2");
}

TEST_F(AlarmBookTest, RaiseWhileClearedUnackOpensASecondAlarm) {
  book_.raise(e_, hr_, "e1-hr", kT0, "high");
  book_.auto_clear(e_, "hr_high", kT0 + kHour, "back_in_range");
  book_.raise(e_, hr_, "e1-hr", kT0 + 2 * kHour, "high again");
  EXPECT_EQ(alarms().back().alarm_id(), "e1:hr_high:2");
  EXPECT_EQ(alarms().back().status(), vigil::v1::ACTIVE_UNACK);
  ASSERT_EQ(e_.alarms.size(), 2u);
  // ACK by rule_id goes to the active one.
  ASSERT_TRUE(act(AlarmAction::ACK, "", kT0 + 3 * kHour, "hr_high"));
  EXPECT_EQ(alarms().back().alarm_id(), "e1:hr_high:2");
}

}  // namespace
}  // namespace vigil::alarm
