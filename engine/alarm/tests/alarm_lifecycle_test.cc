// Escalation of unanswered alarms, flapping hold, answer-time figures and the alarm history.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "engine/alarm/alarm_book.h"
#include "engine/codec/codec.h"
#include "engine/core/time_util.h"

namespace vigil::alarm {
namespace {

using vigil::v1::AlarmAction;
using vigil::v1::AlarmEvent;

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z

class NoDispatch final : public dispatch::DispatchPort {
 public:
  void request_order(const dispatch::OrderRequest&) override {}
  void order_action(const dispatch::OrderActionRequest&) override {}
};

rules::Rule rule(const std::string& id, vigil::v1::Severity severity) {
  rules::Rule r;
  r.id = id;
  r.kind = rules::RuleKind::kThreshold;
  r.reads = {id};
  r.severity = severity;
  return r;
}

class LifecycleTest : public ::testing::Test {
 protected:
  LifecycleTest() : book_(sink_, dispatch_, AlarmConfig{}) {
    vigil::v1::Elder p;
    p.set_elder_id("e1");
    registry::apply_profile(e_, p);
  }
  void advance(TimeMs now) {
    book_.advance_to(now, [&](const std::string& id) { return id == "e1" ? &e_ : nullptr; });
  }
  Status act(AlarmAction::Action action, const std::string& rule_id, TimeMs ts) {
    AlarmAction a;
    a.set_action(action);
    a.set_rule_id(rule_id);
    return book_.operator_action(e_, a, "op7", ts);
  }
  std::vector<vigil::v1::OperatorTask> escalations() const {
    std::vector<vigil::v1::OperatorTask> out;
    for (const auto& r : sink_.of(OutTopic::kOperator)) {
      vigil::v1::OperatorTask t;
      EXPECT_TRUE(codec::decode(r.json, codec::Format::kJson, &t));
      if (t.kind() == "escalation") out.push_back(t);
    }
    return out;
  }
  std::vector<AlarmEvent> alarms() const {
    std::vector<AlarmEvent> out;
    for (const auto& r : sink_.of(OutTopic::kAlarms)) {
      AlarmEvent a;
      EXPECT_TRUE(codec::decode(r.json, codec::Format::kJson, &a));
      out.push_back(a);
    }
    return out;
  }

  egress::CollectingSink sink_;
  NoDispatch dispatch_;
  AlarmBook book_;
  registry::ElderState e_;
};

TEST_F(LifecycleTest, UnansweredAlarmEscalatesAt60AndAgainMoreUrgentlyAt180Seconds) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  EXPECT_EQ(book_.next_due(), kT0 + 60'000);
  advance(kT0 + 59'999);
  EXPECT_TRUE(escalations().empty());
  advance(kT0 + 60'000);
  ASSERT_EQ(escalations().size(), 1u);
  EXPECT_EQ(escalations()[0].task_id(), "esc1-e1:smoke:1");
  EXPECT_EQ(escalations()[0].priority(), vigil::v1::URGENT);
  EXPECT_EQ(to_ms(escalations()[0].created_at()), kT0 + 60'000);
  advance(kT0 + 179'999);
  EXPECT_EQ(escalations().size(), 1u);
  advance(kT0 + 180'000);
  ASSERT_EQ(escalations().size(), 2u);
  EXPECT_EQ(escalations()[1].task_id(), "esc2-e1:smoke:1");
  EXPECT_EQ(escalations()[1].priority(), vigil::v1::EMERGENCY);
  EXPECT_EQ(e_.alarm_meta["smoke"].escalated, 2u);
  advance(kT0 + 3'600'000);
  EXPECT_EQ(escalations().size(), 2u);  // never more than two
}

TEST_F(LifecycleTest, AcknowledgedAlarmDoesNotEscalate) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  ASSERT_TRUE(act(AlarmAction::ACK, "smoke", kT0 + 59'000));
  advance(kT0 + 600'000);
  EXPECT_TRUE(escalations().empty());
}

TEST_F(LifecycleTest, AckBetweenTheTargetsStopsTheSecondEscalation) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  advance(kT0 + 60'000);
  ASSERT_TRUE(act(AlarmAction::ACK, "smoke", kT0 + 120'000));
  advance(kT0 + 600'000);
  EXPECT_EQ(escalations().size(), 1u);
}

TEST_F(LifecycleTest, RearmAfterLoadContinuesWhereTheEscalationsWere) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  advance(kT0 + 60'000);
  // A restart: a new book re-arms from the persisted state; the first stage is not sent again.
  egress::CollectingSink sink2;
  AlarmBook book2(sink2, dispatch_);
  auto restored = registry::from_record(registry::to_record(e_, {}), {});
  book2.rearm(restored);
  EXPECT_EQ(book2.next_due(), kT0 + 180'000);
  book2.advance_to(kT0 + 900'000, [&](const std::string&) { return &restored; });
  ASSERT_EQ(sink2.of(OutTopic::kOperator).size(), 1u);
  EXPECT_NE(sink2.of(OutTopic::kOperator)[0].json.find("esc2-e1:smoke:1"), std::string::npos);
}

TEST_F(LifecycleTest, FlappingAlarmIsHeldActiveWithItsCountRising) {
  const auto r = rule("hr_high", vigil::v1::MAJOR);
  TimeMs t = kT0;
  // Three clear -> re-raise cycles inside an hour are allowed...
  for (int i = 0; i < 4; ++i) {
    book_.raise(e_, r, "d1", t, "high");
    if (i < 3) book_.auto_clear(e_, "hr_high", t + 60'000, "back_in_range");
    t += 120'000;
  }
  EXPECT_EQ(e_.alarm_seq["hr_high"], 4u);
  // ...the fourth clear inside the window is held instead.
  book_.auto_clear(e_, "hr_high", t, "back_in_range");
  ASSERT_NE(AlarmBook::active(e_, "hr_high"), nullptr);
  EXPECT_EQ(AlarmBook::active(e_, "hr_high")->alarm_id(), "e1:hr_high:4");
  EXPECT_NE(alarms().back().message().find("flapping"), std::string::npos);
  EXPECT_EQ(alarms().back().status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(alarms().back().count(), 2u);
  const size_t records = alarms().size();
  book_.auto_clear(e_, "hr_high", t + 1000, "back_in_range");  // absorbed silently
  EXPECT_EQ(alarms().size(), records);
  EXPECT_EQ(AlarmBook::active(e_, "hr_high")->count(), 2u);
  book_.raise(e_, r, "d1", t + 2000, "high");  // a repeat raises the count, not a fifth alarm
  EXPECT_EQ(AlarmBook::active(e_, "hr_high")->count(), 3u);
  EXPECT_EQ(e_.alarm_seq["hr_high"], 4u);
  // After the window the next clear goes through.
  book_.auto_clear(e_, "hr_high", kT0 + kHour + 1, "back_in_range");
  EXPECT_EQ(AlarmBook::active(e_, "hr_high"), nullptr);
}

TEST_F(LifecycleTest, RaisesFartherApartThanTheWindowNeverHold) {
  const auto r = rule("hr_high", vigil::v1::MAJOR);
  for (int i = 0; i < 6; ++i) {
    const TimeMs t = kT0 + i * (kHour + kMinute);
    book_.raise(e_, r, "d1", t, "high");
    book_.auto_clear(e_, "hr_high", t + kMinute, "back_in_range");
    EXPECT_EQ(AlarmBook::active(e_, "hr_high"), nullptr) << i;
  }
}

// Answer-time shares against an independent count over thousands of alarms with scripted
// acknowledgement delays.
TEST(AnswerTimesTest, SharesMatchAnIndependentCount) {
  std::mt19937_64 rng(7);
  AnswerTimes at;
  uint64_t n = 0, answered = 0, in60 = 0, in180 = 0;
  std::vector<TimeMs> waits;
  for (int i = 0; i < 5000; ++i) {
    const TimeMs raised = kT0 + i * 17'000;
    const auto sev = i % 3 == 0 ? vigil::v1::CRITICAL : vigil::v1::MAJOR;
    at.on_raise(sev, raised);
    ++n;
    if (rng() % 50 == 0) continue;  // never answered
    const TimeMs wait = static_cast<TimeMs>(rng() % 400'000);
    at.on_answer(sev, raised, raised + wait);
    ++answered;
    in60 += wait <= 60'000;
    in180 += wait <= 180'000;
    waits.push_back(wait / 1000);
  }
  auto rep = at.report();
  EXPECT_EQ(rep.overall.alarms, n);
  EXPECT_EQ(rep.overall.answered, answered);
  EXPECT_EQ(rep.overall.within_first, in60);
  EXPECT_EQ(rep.overall.within_second, in180);
  EXPECT_DOUBLE_EQ(rep.overall.share_first(), double(in60) / n);
  std::sort(waits.begin(), waits.end());
  EXPECT_DOUBLE_EQ(rep.overall.median_s, double(waits[(waits.size() + 1) / 2 - 1]));
  EXPECT_DOUBLE_EQ(rep.overall.p95_s,
                   double(waits[static_cast<size_t>(std::ceil(0.95 * waits.size())) - 1]));
  EXPECT_EQ(rep.by_severity.at(vigil::v1::CRITICAL).alarms + rep.by_severity.at(vigil::v1::MAJOR).alarms, n);
  uint64_t hourly = 0;
  for (const auto& [h, row] : rep.by_hour) {
    EXPECT_EQ(h % kHour, 0);
    hourly += row.alarms;
  }
  EXPECT_EQ(hourly, n);
  EXPECT_NE(rep.str().find("answer times overall: 5000 alarms"), std::string::npos);
}

TEST_F(LifecycleTest, AckAndOperatorClearCountAsAnswers) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  book_.raise(e_, rule("gas", vigil::v1::CRITICAL), "d1", kT0, "gas");
  ASSERT_TRUE(act(AlarmAction::ACK, "smoke", kT0 + 30'000));
  ASSERT_TRUE(act(AlarmAction::CLEAR, "gas", kT0 + 120'000));
  auto rep = book_.answer_times().report();
  EXPECT_EQ(rep.overall.alarms, 2u);
  EXPECT_EQ(rep.overall.answered, 2u);
  EXPECT_EQ(rep.overall.within_first, 1u);
  EXPECT_EQ(rep.overall.within_second, 2u);
}

TEST_F(LifecycleTest, HistoryIsHandedOverAsOfTheBarrierAndInSteps) {
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0 + 1000, "smoke");
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0 + 2000, "smoke");
  book_.begin_history();  // the barrier: counts 1-3 are this checkpoint's
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0 + 3000, "smoke");  // the next's
  auto counts = [](const state::StateOps& ops) {
    std::vector<uint32_t> out;
    for (const auto& [key, value] : ops.puts) {
      EXPECT_EQ(key.substr(0, 5), "h/e1/");
      vigil::v1::AlarmEvent a;
      EXPECT_TRUE(a.ParseFromArray(value.data(), static_cast<int>(value.size())));
      out.push_back(a.count());
    }
    return out;
  };
  state::StateOps ops;
  EXPECT_FALSE(book_.move_history(ops, 2));
  EXPECT_EQ(counts(ops), (std::vector<uint32_t>{1, 2}));
  EXPECT_TRUE(book_.move_history(ops, 2));
  EXPECT_EQ(counts(ops), (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_TRUE(book_.move_history(ops, 2));  // nothing left: nothing added
  EXPECT_EQ(ops.puts.size(), 3u);
  state::StateOps next;
  book_.begin_history();
  EXPECT_TRUE(book_.move_history(next, 100));
  EXPECT_EQ(counts(next), (std::vector<uint32_t>{4}));
}

TEST_F(LifecycleTest, HistoryKeepsEveryRecordOfEveryAlarmInOrder) {
  const auto dir = std::filesystem::temp_directory_path() / ("vigil-alarm-history-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto store = state::StateStore::open(dir.string());
  ASSERT_TRUE(store);
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0, "smoke");
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0 + 1000, "smoke");
  ASSERT_TRUE(act(AlarmAction::CLEAR, "smoke", kT0 + 5000));
  book_.raise(e_, rule("smoke", vigil::v1::CRITICAL), "d1", kT0 + 9000, "smoke");
  state::StateOps ops;
  book_.collect_history(ops);
  ASSERT_TRUE(store.value()->commit({&ops}, {}));
  auto h = load_alarm_history(*store.value(), "e1");
  ASSERT_TRUE(h);
  ASSERT_EQ(h.value().size(), 5u);  // raise, repeat, CLEARED_ACK, CLOSED, new raise
  EXPECT_EQ(h.value()[0].count(), 1u);
  EXPECT_EQ(h.value()[1].count(), 2u);
  EXPECT_EQ(h.value()[2].status(), vigil::v1::CLEARED_ACK);
  EXPECT_EQ(h.value()[3].status(), vigil::v1::CLOSED);
  EXPECT_EQ(h.value()[4].alarm_id(), "e1:smoke:2");
  store.value().reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::alarm
