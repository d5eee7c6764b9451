// The shipped pack's rules, event by event and timer by timer: event, threshold (with its
// confirmation and auto-clear), sequence, absence, night windows in the elder's own zone,
// overrides, stale timers and re-arming after a restart. Other kinds: rule_kinds_test.cc.

#include <algorithm>

#include "engine/rules/tests/rule_engine_fixture.h"

namespace vigil::rules::test {
namespace {

TEST_F(RuleEngineTest, EventRuleRaisesOncePerMatchingEvent) {
  event("e1", "sos", 1, kT0);
  event("e1", "sos", 1, kT0 + 20 * kSecond);
  event("e1", "heart_rate", 80, kT0 + 30 * kSecond);
  ASSERT_EQ(raised("sos").size(), 2u);
  EXPECT_EQ(raised("sos")[0].ts, kT0);
  EXPECT_EQ(raised("sos")[0].device, "e1-sos");
  EXPECT_EQ(raised("sos")[0].message, "sos from device e1-sos");
  EXPECT_EQ(raised("sos")[1].ts, kT0 + 20 * kSecond);
  EXPECT_EQ(fx_.raised.size(), 2u);
  EXPECT_EQ(fx_.arms, 1);  // device_offline's timer only: an in-range heart rate starts no episode
}

TEST_F(RuleEngineTest, EventRuleRaisesOnlyWhenItsConditionHolds) {
  event("e1", "body_temperature", 37.9, kT0);
  event("e1", "battery", 15, kT0);
  EXPECT_TRUE(fx_.raised.empty());
  event("e1", "body_temperature", 38.0, kT0 + kMinute);
  event("e1", "battery", 14, kT0 + kMinute);
  ASSERT_EQ(raised("fever").size(), 1u);
  ASSERT_EQ(raised("low_battery").size(), 1u);
  EXPECT_EQ(fx_.arms, 1);  // device_offline's timer only
}

TEST_F(RuleEngineTest, HrHighFiresExactlyAtSincePlus600s) {
  event("e1", "heart_rate", 130, kT0);
  for (int m = 1; m < 10; ++m) event("e1", "heart_rate", 125 + m, kT0 + m * kMinute);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("hr_high", kT0 + 600 * kSecond));
  EXPECT_EQ(raised("hr_high")[0].device, "e1-heart_rate");
  EXPECT_EQ(raised("hr_high")[0].message, "heart_rate out of range for 600 s");
  // Still high afterwards: the active alarm is not raised again by the threshold.
  event("e1", "heart_rate", 140, kT0 + 700 * kSecond);
  advance_to(kT0 + 2 * kHour);
  EXPECT_EQ(raised("hr_high").size(), 1u);
}

TEST_F(RuleEngineTest, HrHighDoesNotFireWhenBackInRangeAt599s) {
  event("e1", "heart_rate", 130, kT0);
  event("e1", "heart_rate", 120, kT0 + 599 * kSecond);  // 120 is not > 120
  advance_to(kT0 + kHour);
  EXPECT_TRUE(raised("hr_high").empty());
  // A new episode starts its own 600 s.
  event("e1", "heart_rate", 121, kT0 + kHour);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("hr_high", kT0 + kHour + 600 * kSecond));
}

TEST_F(RuleEngineTest, HrHighMotionInsideTheWindowPostponesUntil600sWithoutMotion) {
  event("e1", "heart_rate", 130, kT0);
  event("e1", "motion", 1, kT0 + 300 * kSecond);
  // 600 s of high heart rate with no motion:
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("hr_high", kT0 + 900 * kSecond));
}

TEST_F(RuleEngineTest, HrHighMotionAtTheLastSecondPostponesAgain) {
  event("e1", "heart_rate", 130, kT0);
  event("e1", "motion", 1, kT0 + 599 * kSecond);
  event("e1", "motion", 1, kT0 + 1000 * kSecond);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("hr_high", kT0 + 1600 * kSecond));
}

TEST_F(RuleEngineTest, HrHighMotionBeforeTheEpisodeDoesNotPostpone) {
  event("e1", "motion", 1, kT0 - kSecond);
  event("e1", "heart_rate", 130, kT0);
  advance_to(kT0 + 600 * kSecond);
  ASSERT_EQ(raised("hr_high").size(), 1u);
  EXPECT_EQ(raised("hr_high")[0].ts, kT0 + 600 * kSecond);
}

TEST_F(RuleEngineTest, HrHighAutoClearsAfterBackInRangeForTheDuration) {
  event("e1", "heart_rate", 130, kT0);
  advance_to(kT0 + 600 * kSecond);
  ASSERT_EQ(raised("hr_high").size(), 1u);
  // Back in range, then high again before 600 s: the clear is cancelled.
  event("e1", "heart_rate", 90, kT0 + 700 * kSecond);
  event("e1", "heart_rate", 130, kT0 + 1200 * kSecond);
  advance_to(kT0 + 1400 * kSecond);
  EXPECT_TRUE(fx_.cleared.empty());
  // Back in range for good: cleared exactly 600 s later.
  event("e1", "heart_rate", 90, kT0 + 1500 * kSecond);
  event("e1", "heart_rate", 85, kT0 + 1800 * kSecond);
  advance_to(kT0 + 2100 * kSecond - 1);
  EXPECT_TRUE(fx_.cleared.empty());
  advance_to(kT0 + 2100 * kSecond);
  ASSERT_EQ(fx_.cleared.size(), 1u);
  EXPECT_EQ(fx_.cleared[0].rule, "hr_high");
  EXPECT_EQ(fx_.cleared[0].ts, kT0 + 2100 * kSecond);
  EXPECT_EQ(fx_.cleared[0].reason, "back_in_range");
  EXPECT_EQ(raised("hr_high").size(), 1u);
}

TEST_F(RuleEngineTest, OverrideChangesOneEldersThresholdOnly) {
  elder("e1").profile.set_override("hr_high.threshold", 110);
  elder("e2");
  event("e1", "heart_rate", 115, kT0);
  event("e2", "heart_rate", 115, kT0);
  advance_to(kT0 + kHour);
  ASSERT_EQ(raised("hr_high").size(), 1u);
  EXPECT_EQ(raised("hr_high")[0].elder, "e1");
  EXPECT_EQ(raised("hr_high")[0].ts, kT0 + 600 * kSecond);
}

TEST_F(RuleEngineTest, OverrideOfDurationChangesWhenItFires) {
  elder("e1").profile.set_override("hr_high.duration_s", 300);
  event("e1", "heart_rate", 130, kT0);
  event("e2", "heart_rate", 130, kT0);
  advance_to(kT0 + kHour);
  ASSERT_EQ(raised("hr_high").size(), 2u);
  EXPECT_EQ(raised("hr_high")[0].elder, "e1");
  EXPECT_EQ(raised("hr_high")[0].ts, kT0 + 300 * kSecond);
  EXPECT_EQ(raised("hr_high")[1].elder, "e2");
  EXPECT_EQ(raised("hr_high")[1].ts, kT0 + 600 * kSecond);
}

TEST_F(RuleEngineTest, FallWithoutRecoveryFiresAt60s) {
  event("e1", "fall", 1, kT0);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("fall_no_recovery", kT0 + 60 * kSecond));
  EXPECT_EQ(raised("fall_no_recovery")[0].device, "e1-fall");
  EXPECT_EQ(raised("fall_no_recovery")[0].message, "fall not followed by fall_cancel within 60 s");
}

TEST_F(RuleEngineTest, FallCancelAt59sPreventsTheAlarm) {
  event("e1", "fall", 1, kT0);
  event("e1", "fall_cancel", 1, kT0 + 59 * kSecond);
  advance_to(kT0 + kHour);
  EXPECT_TRUE(raised("fall_no_recovery").empty());
}

TEST_F(RuleEngineTest, MotionAt59sPreventsTheFallAlarm) {
  event("e1", "fall", 1, kT0);
  event("e1", "motion", 1, kT0 + 59 * kSecond);
  advance_to(kT0 + kHour);
  EXPECT_TRUE(raised("fall_no_recovery").empty());
  // Motion with no fall pending does nothing; the next fall is watched again.
  event("e1", "fall", 1, kT0 + 2 * kHour);
  advance_to(kT0 + 2 * kHour + 60 * kSecond);
  EXPECT_EQ(raised("fall_no_recovery").size(), 1u);
}

TEST_F(RuleEngineTest, BpCrisisConfirmedBySecondReadingFiveMinutesLater) {
  event("e1", "blood_pressure", 185, kT0, 95);
  event("e1", "blood_pressure", 190, kT0 + 300 * kSecond - 1, 100);  // too early: ignored
  EXPECT_TRUE(raised("bp_crisis").empty());
  event("e1", "blood_pressure", 182, kT0 + 300 * kSecond, 90);
  ASSERT_EQ(raised("bp_crisis").size(), 1u);
  EXPECT_EQ(raised("bp_crisis")[0].ts, kT0 + 300 * kSecond);
  EXPECT_EQ(raised("bp_crisis")[0].message, "blood_pressure confirmed 300 s after the first");
}

TEST_F(RuleEngineTest, BpCrisisConfirmedByDiastolicJustBefore15Minutes) {
  event("e1", "blood_pressure", 150, kT0, 125);
  event("e1", "blood_pressure", 150, kT0 + 899 * kSecond, 121);
  ASSERT_EQ(raised("bp_crisis").size(), 1u);
  EXPECT_EQ(raised("bp_crisis")[0].ts, kT0 + 899 * kSecond);
}

TEST_F(RuleEngineTest, BpCrisisNotConfirmedAfter15Minutes) {
  event("e1", "blood_pressure", 185, kT0, 95);
  event("e1", "blood_pressure", 185, kT0 + 901 * kSecond, 95);  // window over: a new first
  EXPECT_TRUE(raised("bp_crisis").empty());
  event("e1", "blood_pressure", 185, kT0 + 1201 * kSecond, 95);  // confirms the new first
  ASSERT_EQ(raised("bp_crisis").size(), 1u);
  EXPECT_EQ(raised("bp_crisis")[0].ts, kT0 + 1201 * kSecond);
}

TEST_F(RuleEngineTest, BpCrisisNeedsACrisisReadingToStartAndToConfirm) {
  event("e1", "blood_pressure", 179, kT0, 119);  // below both limits
  event("e1", "blood_pressure", 185, kT0 + 400 * kSecond, 95);  // the first crisis reading
  event("e1", "blood_pressure", 140, kT0 + 800 * kSecond, 85);  // normal: does not confirm
  EXPECT_TRUE(raised("bp_crisis").empty());
  advance_to(kT0 + 2 * kHour);
  EXPECT_TRUE(raised("bp_crisis").empty());
}

TEST_F(RuleEngineTest, NightDoorOpenOnlyBetween22And06ShanghaiTime) {
  // Asia/Shanghai is UTC+8: 22:00 local is 14:00Z, 06:00 local is 22:00Z.
  event("e1", "door_open", 1, kDay + 14 * kHour - kSecond);  // 21:59:59 local
  advance_to(kDay + 14 * kHour + kHour);
  EXPECT_TRUE(raised("night_door_open").empty());

  event("e2", "door_open", 1, kDay + 14 * kHour);  // 22:00:00 local
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("night_door_open", kDay + 14 * kHour + 900 * kSecond));
  EXPECT_EQ(raised("night_door_open")[0].elder, "e2");

  event("e3", "door_open", 1, kDay + 22 * kHour - kSecond);  // 05:59:59 local
  event("e4", "door_open", 1, kDay + 22 * kHour);            // 06:00:00 local
  advance_to(kDay + 24 * kHour);
  ASSERT_EQ(raised("night_door_open").size(), 2u);
  EXPECT_EQ(raised("night_door_open")[1].elder, "e3");
  EXPECT_EQ(raised("night_door_open")[1].ts, kDay + 22 * kHour - kSecond + 900 * kSecond);
}

TEST_F(RuleEngineTest, NightDoorOpenUsesTheEldersOwnTimeZone) {
  elder("berlin", "Europe/Berlin");  // UTC+1 in March
  event("berlin", "door_open", 1, kDay + 14 * kHour);  // 15:00 in Berlin, 22:00 in Shanghai
  event("berlin", "door_open", 1, kDay + 21 * kHour);  // 22:00 in Berlin
  advance_to(kDay + 24 * kHour);
  ASSERT_EQ(raised("night_door_open").size(), 1u);
  EXPECT_EQ(raised("night_door_open")[0].ts, kDay + 21 * kHour + 900 * kSecond);
}

TEST_F(RuleEngineTest, DoorClosedWithin15MinutesAtNightDoesNotFire) {
  event("e1", "door_open", 1, kDay + 15 * kHour);
  event("e1", "door_close", 1, kDay + 15 * kHour + 899 * kSecond);
  advance_to(kDay + 17 * kHour);
  EXPECT_TRUE(raised("night_door_open").empty());
}

TEST_F(RuleEngineTest, StaleTimerGenerationsAreIgnored) {
  const uint32_t hr = index("hr_high");
  event("e1", "heart_rate", 130, kT0);                    // arms for T0+600
  const uint64_t first = elder("e1").slots[hr].generation;
  event("e1", "heart_rate", 90, kT0 + 100 * kSecond);     // disarms
  event("e1", "heart_rate", 130, kT0 + 200 * kSecond);    // arms for T0+800
  EXPECT_GT(elder("e1").slots[hr].generation, first);
  // The first timer comes due at T0+600 and must do nothing.
  advance_to(kT0 + 600 * kSecond);
  EXPECT_TRUE(raised("hr_high").empty());
  // Handing the engine an old generation directly does nothing either.
  engine_.on_timer(elder("e1"), hr, first, kT0 + 700 * kSecond, fx_);
  EXPECT_TRUE(raised("hr_high").empty());
  advance_to(kT0 + 800 * kSecond);
  ASSERT_EQ(raised("hr_high").size(), 1u);
  EXPECT_EQ(raised("hr_high")[0].ts, kT0 + 800 * kSecond);
  // A timer for a rule index the elder has no slot for is ignored.
  engine_.on_timer(elder("e1"), 10'000, 1, kT0 + 900 * kSecond, fx_);
  EXPECT_EQ(fx_.raised.size(), 1u);
}

TEST_F(RuleEngineTest, RearmRestoresArmedTimersWithTheirGeneration) {
  event("e1", "fall", 1, kT0);
  ElderState copy = elder("e1");  // as if loaded from disk
  FakeEffects restored(engine_.rules());
  engine_.rearm(copy, restored);
  pipeline::Timer t;
  ASSERT_TRUE(restored.timers.pop_due(kT0 + 60 * kSecond, &t));
  EXPECT_EQ(t.due, kT0 + 60 * kSecond);
  EXPECT_EQ(t.slot, index("fall_no_recovery"));
  engine_.on_timer(copy, t.slot, t.generation, t.due, restored);
  ASSERT_EQ(restored.raised.size(), 1u);
  EXPECT_EQ(restored.raised[0].rule, "fall_no_recovery");
}

}  // namespace
}  // namespace vigil::rules::test
