// The rule kinds beyond the pack's basics: NEWS2 scores and their bands, geofences, per-device
// absence, schedules counted across midnight, care-plan times (`at` rules: medication and meal
// reminders), the rule state's size per elder, and aggregates over a sliding window.

#include <algorithm>

#include "engine/rules/tests/rule_engine_fixture.h"

namespace vigil::rules::test {
namespace {

TEST(News2, PublishedBandsPerVital) {
  // Respiration rate: <=8 3, 9-11 1, 12-20 0, 21-24 2, >=25 3.
  EXPECT_EQ(news2_points(0, 8), 3);
  EXPECT_EQ(news2_points(0, 9), 1);
  EXPECT_EQ(news2_points(0, 11), 1);
  EXPECT_EQ(news2_points(0, 12), 0);
  EXPECT_EQ(news2_points(0, 20), 0);
  EXPECT_EQ(news2_points(0, 21), 2);
  EXPECT_EQ(news2_points(0, 24), 2);
  EXPECT_EQ(news2_points(0, 25), 3);
  // SpO2 scale 1: <=91 3, 92-93 2, 94-95 1, >=96 0.
  EXPECT_EQ(news2_points(1, 91), 3);
  EXPECT_EQ(news2_points(1, 92), 2);
  EXPECT_EQ(news2_points(1, 93), 2);
  EXPECT_EQ(news2_points(1, 94), 1);
  EXPECT_EQ(news2_points(1, 95), 1);
  EXPECT_EQ(news2_points(1, 96), 0);
  // Systolic: <=90 3, 91-100 2, 101-110 1, 111-219 0, >=220 3.
  EXPECT_EQ(news2_points(2, 90), 3);
  EXPECT_EQ(news2_points(2, 91), 2);
  EXPECT_EQ(news2_points(2, 100), 2);
  EXPECT_EQ(news2_points(2, 101), 1);
  EXPECT_EQ(news2_points(2, 110), 1);
  EXPECT_EQ(news2_points(2, 111), 0);
  EXPECT_EQ(news2_points(2, 219), 0);
  EXPECT_EQ(news2_points(2, 220), 3);
  // Pulse: <=40 3, 41-50 1, 51-90 0, 91-110 1, 111-130 2, >=131 3.
  EXPECT_EQ(news2_points(3, 40), 3);
  EXPECT_EQ(news2_points(3, 41), 1);
  EXPECT_EQ(news2_points(3, 50), 1);
  EXPECT_EQ(news2_points(3, 51), 0);
  EXPECT_EQ(news2_points(3, 90), 0);
  EXPECT_EQ(news2_points(3, 91), 1);
  EXPECT_EQ(news2_points(3, 110), 1);
  EXPECT_EQ(news2_points(3, 111), 2);
  EXPECT_EQ(news2_points(3, 130), 2);
  EXPECT_EQ(news2_points(3, 131), 3);
  // Consciousness: alert 0, not alert 3.
  EXPECT_EQ(news2_points(4, 0), 0);
  EXPECT_EQ(news2_points(4, 1), 3);
  // Temperature: <=35.0 3, 35.1-36.0 1, 36.1-38.0 0, 38.1-39.0 1, >=39.1 2.
  EXPECT_EQ(news2_points(5, 35.0), 3);
  EXPECT_EQ(news2_points(5, 35.1), 1);
  EXPECT_EQ(news2_points(5, 36.0), 1);
  EXPECT_EQ(news2_points(5, 36.1), 0);
  EXPECT_EQ(news2_points(5, 38.0), 0);
  EXPECT_EQ(news2_points(5, 38.1), 1);
  EXPECT_EQ(news2_points(5, 39.0), 1);
  EXPECT_EQ(news2_points(5, 39.1), 2);
}

class NewKindsTest : public RuleEngineTest {
 protected:
  void vitals(const std::string& e, TimeMs ts, double rr, double spo2, double sbp, double hr,
              double cons, double temp) {
    event(e, "respiration_rate", rr, ts);
    event(e, "spo2", spo2, ts);
    event(e, "blood_pressure", sbp, ts, 80);
    event(e, "heart_rate", hr, ts);
    event(e, "consciousness", cons, ts);
    event(e, "body_temperature", temp, ts);
  }
  void fix(const std::string& e, TimeMs ts, double dlat) {
    advance_to(ts);
    vigil::v1::DeviceEvent ev;
    ev.set_elder_id(e);
    ev.set_device_id(e + "-gps");
    ev.set_type("location");
    ev.set_lat(31.2304 + dlat);
    ev.set_lon(121.4737);
    engine_.on_event(elder(e), ev, ts, fx_);
  }
  ElderState& home(const std::string& id) {
    ElderState& e = elder(id);
    e.profile.set_home_lat(31.2304);
    e.profile.set_home_lon(121.4737);
    return e;
  }
};

TEST_F(NewKindsTest, ScoreRaisesItsBandsSeverityAndClearsBelowTheBands) {
  vitals("e1", kT0, 16, 97, 120, 75, 0, 37.0);  // 0
  event("e1", "heart_rate", 111, kT0 + kMinute);  // 2
  event("e1", "respiration_rate", 21, kT0 + 2 * kMinute);  // 4: under MAJOR
  EXPECT_TRUE(raised("news2_high").empty());
  event("e1", "spo2", 95, kT0 + 3 * kMinute);  // 5: MAJOR
  ASSERT_EQ(raised("news2_high").size(), 1u);
  EXPECT_EQ(raised("news2_high")[0].severity, vigil::v1::MAJOR);
  event("e1", "spo2", 94, kT0 + 4 * kMinute);  // still 5: nothing new
  EXPECT_EQ(raised("news2_high").size(), 1u);
  event("e1", "consciousness", 1, kT0 + 5 * kMinute);  // 8: CRITICAL
  ASSERT_EQ(raised("news2_high").size(), 2u);
  EXPECT_EQ(raised("news2_high")[1].severity, vigil::v1::CRITICAL);
  ASSERT_EQ(fx_.cleared.size(), 1u);
  EXPECT_EQ(fx_.cleared[0].reason, "score_rose");
  event("e1", "consciousness", 0, kT0 + 6 * kMinute);  // 5: a lower band raises nothing
  EXPECT_EQ(raised("news2_high").size(), 2u);
  event("e1", "heart_rate", 75, kT0 + 7 * kMinute);  // 3: below the bands
  ASSERT_EQ(fx_.cleared.size(), 2u);
  EXPECT_EQ(fx_.cleared[1].reason, "score_below_bands");
  EXPECT_EQ(fx_.cleared[1].ts, kT0 + 7 * kMinute);
}

TEST_F(NewKindsTest, ScoreNeedsEveryVitalAtMostMaxAgeOld) {
  vitals("e1", kT0, 16, 97, 120, 75, 0, 37.0);
  event("e1", "heart_rate", 140, kT0 + kHour + kSecond);  // 3, the rest 1 h 1 s old
  event("e1", "consciousness", 1, kT0 + kHour + kSecond);  // 6 if the rest counted
  EXPECT_TRUE(raised("news2_high").empty());
  vitals("e2", kT0, 16, 97, 120, 75, 0, 37.0);
  event("e2", "heart_rate", 140, kT0 + kHour);  // the rest exactly 1 h old: usable
  event("e2", "consciousness", 1, kT0 + kHour);
  ASSERT_EQ(raised("news2_high").size(), 1u);
  EXPECT_EQ(raised("news2_high")[0].elder, "e2");
  // A vital never seen: no score at all.
  event("e3", "heart_rate", 140, kT0);
  event("e3", "consciousness", 1, kT0);
  EXPECT_EQ(raised("news2_high").size(), 1u);
}

TEST_F(NewKindsTest, GeofenceNeedsConsecutiveFixesOutsideAndClearsInside) {
  home("e1");
  fix("e1", kT0, 0.0046);  // 511 m
  fix("e1", kT0 + kMinute, 0.0044);  // 489 m: the streak ends
  fix("e1", kT0 + 2 * kMinute, 0.0046);
  EXPECT_TRUE(raised("geofence_exit").empty());
  fix("e1", kT0 + 3 * kMinute, 0.0046);
  ASSERT_EQ(raised("geofence_exit").size(), 1u);
  EXPECT_EQ(raised("geofence_exit")[0].ts, kT0 + 3 * kMinute);
  fix("e1", kT0 + 4 * kMinute, 0.0100);  // still outside: no repeat
  EXPECT_EQ(raised("geofence_exit").size(), 1u);
  fix("e1", kT0 + 5 * kMinute, 0.0);
  ASSERT_EQ(fx_.cleared.size(), 1u);
  EXPECT_EQ(fx_.cleared[0].reason, "back_inside");
  // The elder's own radius and an override of `consecutive`.
  home("e2").profile.set_geofence_radius_m(1000);
  home("e2").profile.set_override("geofence_exit.consecutive", 3);
  fix("e2", kT0, 0.0072);  // 801 m: inside 1000 m
  fix("e2", kT0 + kMinute, 0.0091);
  fix("e2", kT0 + 2 * kMinute, 0.0091);
  EXPECT_EQ(raised("geofence_exit").size(), 1u);
  fix("e2", kT0 + 3 * kMinute, 0.0091);
  ASSERT_EQ(raised("geofence_exit").size(), 2u);
  EXPECT_EQ(raised("geofence_exit")[1].elder, "e2");
}

TEST_F(NewKindsTest, DeviceOfflineIsPerDeviceAndClearsWhenAllAreBack) {
  event("e1", "heartbeat", 1, kT0);  // device e1-heartbeat
  event("e1", "motion", 1, kT0 + 10 * kMinute);  // device e1-motion
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("device_offline", kT0 + 45 * kMinute));
  EXPECT_EQ(raised("device_offline")[0].device, "e1-heartbeat");
  advance_to(kT0 + 55 * kMinute);
  ASSERT_EQ(raised("device_offline").size(), 2u);
  EXPECT_EQ(raised("device_offline")[1].device, "e1-motion");
  event("e1", "heartbeat", 1, kT0 + kHour);
  EXPECT_TRUE(fx_.cleared.empty());  // the motion sensor is still silent
  event("e1", "motion", 1, kT0 + kHour + kSecond);
  ASSERT_EQ(fx_.cleared.size(), 1u);
  EXPECT_EQ(fx_.cleared[0].reason, "event_seen");
}

TEST_F(NewKindsTest, AbsenceTimersAreNotArmedPerEvent) {
  event("e1", "motion", 1, kT0);
  const int after_first = fx_.arms;
  for (int i = 1; i <= 1000; ++i) event("e1", "motion", 1, kT0 + i * kSecond);
  EXPECT_EQ(fx_.arms, after_first);  // moved when the armed timer fires, not per event
  // State stays bounded: one entry per device, fixed-size kind data.
  EXPECT_EQ(elder("e1").slots[index("device_offline")].keyed().size(), 1u);
}

TEST_F(NewKindsTest, InactivityCountsOnlyInsideTheScheduleAcrossMidnight) {
  // 20:00 Shanghai (12:00Z): 2 h until 22:00, then 07:00 + 10 h = 17:00 next day (09:00Z).
  event("e1", "motion", 1, kDay + 12 * kHour);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("inactivity_day", kDay + 33 * kHour));
  event("e1", "door_open", 1, kDay + 34 * kHour);
  ASSERT_EQ(fx_.cleared.size(), 1u);
  EXPECT_EQ(fx_.cleared[0].reason, "event_seen");
}

TEST_F(NewKindsTest, MedicationReminderAtTheTimeAndAlarmAnHourLater) {
  ElderState& e = elder("e1");
  e.profile.add_medication_times("08:00");
  e.profile.add_medication_times("20:00");
  engine_.on_profile(e, kDay - 2 * kHour, fx_);  // 06:00 local
  advance_to(kDay);  // 08:00 local
  ASSERT_EQ(fx_.reminded.size(), 1u);
  EXPECT_EQ(fx_.reminded[0].kind, "medication");
  EXPECT_EQ(fx_.reminded[0].ts, kDay);
  EXPECT_EQ(fx_.reminded[0].message, "medication time 08:00");
  event("e1", "medication_box_opened", 1, kDay + kHour - kSecond);  // in time
  advance_to(kDay + 12 * kHour);  // 20:00 local
  ASSERT_EQ(fx_.reminded.size(), 2u);
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("medication_missed", kDay + 13 * kHour));
  EXPECT_EQ(raised("medication_missed")[0].message,
            "no medication_box_opened between 20:00 and 21:00 local time");
  event("e1", "medication_box_opened", 1, kDay + 14 * kHour);
  const auto med = std::find_if(fx_.cleared.begin(), fx_.cleared.end(),
                                [](const Cleared& c) { return c.rule == "medication_missed"; });
  ASSERT_NE(med, fx_.cleared.end());
  EXPECT_EQ(med->ts, kDay + 14 * kHour);
  EXPECT_EQ(med->reason, "event_seen");
  // An elder without medication times gets neither.
  engine_.on_profile(elder("e2"), kDay - 2 * kHour, fx_);
  advance_to(kDay + 2 * 86400 * kSecond);
  for (const auto& r : fx_.reminded) EXPECT_EQ(r.elder, "e1");
}

TEST_F(NewKindsTest, AnEmptiedCarePlanSlotIsArmedAgainByTheNextEvent) {
  ElderState& e = elder("e1");
  e.profile.add_medication_times("08:00");
  event("e1", "heartbeat", 1, kDay - 2 * kHour);  // the first event arms
  const uint32_t med = index("medication_missed");
  EXPECT_EQ(e.slots[med].due, kDay);
  e.slots[med] = registry::RuleSlot{};  // as a hot reload does for a changed rule
  event("e1", "heartbeat", 1, kDay - kHour);
  EXPECT_EQ(e.slots[med].due, kDay);
  advance_to(kDay);
  EXPECT_EQ(fx_.reminded.size(), 1u);  // the stale timer of the old slot does nothing
}

TEST_F(NewKindsTest, MealMissedOnlyForMealServiceElders) {
  elder("e1").profile.set_meal_service(true);
  elder("e2");
  event("e1", "heartbeat", 1, kDay - 9 * kHour);  // 23:00 local the day before: arms
  event("e2", "heartbeat", 1, kDay - 9 * kHour);
  event("e1", "meal_checkin", 1, kDay + 5 * kHour + 29 * kMinute + 59 * kSecond);  // 13:29:59
  // 13:30 the next day:
  ASSERT_NO_FATAL_FAILURE(expect_first_raise_at("meal_missed", kDay + 24 * kHour + 5 * kHour + 30 * kMinute));
  EXPECT_EQ(raised("meal_missed")[0].elder, "e1");
}

//! Bytes of rule state an elder holds in memory: the slots and what they own on the heap.
size_t rule_state_bytes(const ElderState& e) {
  size_t n = e.slots.heap_bytes();
  n += e.device_names.capacity() > 15 ? e.device_names.capacity() + 1 : 0;
  return n;
}

TEST_F(NewKindsTest, RuleStatePerElderWithTheWholePackIsBoundedAndMeasured) {
  // A busy elder: every kind holds state (vitals for NEWS2, a water meter, five devices).
  ElderState& e = home("e1");
  e.profile.add_medication_times("08:00");
  e.profile.set_meal_service(true);
  for (int i = 0; i < 200; ++i) {
    const TimeMs t = kT0 + i * kMinute;
    vitals("e1", t, 16, 97, 120, 75, 0, 37.0);
    event("e1", "motion", 1, t);
    event("e1", "water_meter", 10 + i * 0.01, t);
    event("e1", "heartbeat", 1, t);
    fix("e1", t, 0.001);
  }
  const size_t bytes = rule_state_bytes(e);
  const size_t slots = e.slots.held() * sizeof(registry::RuleSlot);
  const auto record = registry::to_record(e, engine_.rules().ids());
  size_t disk = 0;
  for (const auto& r : record.slots()) disk += r.ByteSizeLong();
  RecordProperty("rule_state_bytes", static_cast<int>(bytes));
  RecordProperty("slot_bytes", static_cast<int>(slots));
  RecordProperty("persisted_rule_bytes", static_cast<int>(disk));
  std::printf("rule state per elder: %zu bytes in memory (%zu in %zu slots of %zu), %zu persisted\n",
              bytes, slots, e.slots.size(), sizeof(registry::RuleSlot), disk);
  // Bounded: more of the same events add nothing.
  for (int i = 200; i < 2000; ++i) {
    const TimeMs t = kT0 + i * kMinute;
    event("e1", "water_meter", 10 + i * 0.01, t);
    event("e1", "heartbeat", 1, t);
  }
  EXPECT_EQ(rule_state_bytes(e), bytes);
  // A typical elder: a watch, a motion sensor, door and bed sensors, a water meter (short ids).
  ElderState& t = elder("t1");
  for (int i = 0; i < 48; ++i) {
    const TimeMs at = kT0 + i * 30 * kMinute;
    event("t1", "heart_rate", 75, at);
    event("t1", "motion", 1, at);
    event("t1", "door_open", 1, at);
    event("t1", "bed_exit", 1, at);
    event("t1", "water_meter", 10 + i * 0.01, at);
  }
  ElderState& idle = elder("idle");
  idle.slots.resize(engine_.rules().rules().size());  // as the shard creates an elder
  std::printf("typical elder: %zu bytes; an elder with no rule state yet: %zu bytes\n",
              rule_state_bytes(t), rule_state_bytes(idle));
  RecordProperty("typical_rule_state_bytes", static_cast<int>(rule_state_bytes(t)));
  EXPECT_LT(rule_state_bytes(idle), 1024u);

  // The whole typical elder as the standard workload registers it (engine/sim/population.cc):
  // profile, four devices, and the rule state above; registry::memory_bytes is the figure issue
  // #6's "under 1 KiB per elder" is read as (bench/README.md, "Memory").
  t.profile.set_name("Wang Fang");
  t.profile.set_home_lat(31.2304);
  t.profile.set_home_lon(121.4737);
  t.profile.set_region("r-03-02");
  t.profile.add_medication_times("08:00");
  t.profile.add_medication_times("20:00");
  const char* kTypes[] = {"watch", "motion_sensor", "door_sensor", "water_meter"};
  for (int d = 0; d < 4; ++d) {
    vigil::v1::Device dev;
    dev.set_device_id("e000001-d" + std::to_string(d + 1));
    dev.set_elder_id("e000001");
    dev.set_type(kTypes[d]);
    registry::apply_device(t, dev);
  }
  const size_t whole = registry::memory_bytes(t);
  // The devices kept as protos, as ElderState did before device_records (for the record).
  const auto protos = registry::devices(t);
  ASSERT_EQ(protos.size(), 4u);
  size_t as_protos = protos.capacity() * sizeof(vigil::v1::Device);
  for (const auto& d : protos) as_protos += d.SpaceUsedLong() - sizeof(d);
  std::printf("typical elder in memory: %zu bytes (sizeof ElderState %zu, profile %zu, rule state"
              " %zu, devices %zu serialised; as protos they were %zu)\n",
              whole, sizeof(ElderState), t.profile.heap_bytes(), rule_state_bytes(t),
              t.device_records.capacity(), as_protos);
  RecordProperty("typical_elder_memory_bytes", static_cast<int>(whole));
  EXPECT_LT(t.device_records.capacity(), as_protos);
  // 1,400 bytes on 2026-11-23 (2,136 before the compact Profile, one-block SlotExtras, slots
  // only for rules with state and exact growth; 2,479 before device_records); this busy mid-day
  // elder is still over the 1 KiB (the restart bench's elders are under it): what is left
  // is listed in engine/registry/README.md.
  EXPECT_LT(whole, 1472u);
}

//! An engine over a one-rule pack, for kinds the shipped pack uses only one way.
struct OneRule {
  explicit OneRule(const std::string& yaml)
      : loaded(load_rule_text(yaml, "one.yaml")), engine(loaded.rules), fx(*loaded.rules) {
    vigil::v1::Elder p;
    p.set_elder_id("e1");
    registry::apply_profile(e, p);
  }
  void value(double v, TimeMs ts) {
    pipeline::Timer t;
    while (fx.timers.pop_due(ts, &t)) engine.on_timer(e, t.slot, t.generation, t.due, fx);
    vigil::v1::DeviceEvent ev;
    ev.set_elder_id("e1");
    ev.set_device_id("d1");
    ev.set_type("heart_rate");
    ev.set_value(v);
    engine.on_event(e, ev, ts, fx);
  }
  void advance(TimeMs ts) {
    pipeline::Timer t;
    while (fx.timers.pop_due(ts, &t)) engine.on_timer(e, t.slot, t.generation, t.due, fx);
  }
  LoadResult loaded;
  RuleEngine engine;
  FakeEffects fx;
  ElderState e;
};

std::string agg_rule(const std::string& fn, const std::string& when) {
  return "rules:\n  - id: agg\n    kind: aggregate\n    reads: [heart_rate]\n    fn: " + fn +
         "\n    window: 10m\n    every: 1m\n    when: " + when + "\n    severity: MAJOR\n";
}

TEST(Aggregate, AvgOverTheWindowEvaluatedEachStep) {
  OneRule o(agg_rule("avg", "value > 100"));
  ASSERT_TRUE(o.loaded.ok());
  o.value(90, kT0);
  o.value(120, kT0 + 30 * kSecond);  // avg 105 over the minute
  o.advance(kT0 + kMinute - 1);
  EXPECT_TRUE(o.fx.raised.empty());
  o.advance(kT0 + kMinute);
  ASSERT_EQ(o.fx.raised.size(), 1u);
  EXPECT_EQ(o.fx.raised[0].ts, kT0 + kMinute);
  EXPECT_EQ(o.fx.raised[0].message, "heart_rate avg 105 over 600 s");
  o.value(60, kT0 + kMinute + kSecond);  // avg (90+120+60)/3 = 90
  o.advance(kT0 + 2 * kMinute);
  ASSERT_EQ(o.fx.cleared.size(), 1u);
  EXPECT_EQ(o.fx.cleared[0].ts, kT0 + 2 * kMinute);
}

TEST(Aggregate, MinMaxCountAndTheWindowSlides) {
  OneRule mx(agg_rule("max", "value >= 130"));
  mx.value(130, kT0);
  mx.advance(kT0 + kMinute);
  EXPECT_EQ(mx.fx.raised.size(), 1u);
  // 10 min later the reading has left the window: no value, no clear, and the timer stops.
  mx.advance(kT0 + 20 * kMinute);
  EXPECT_TRUE(mx.fx.timers.size() == 0 || mx.fx.timers.next_due() > kT0 + 20 * kMinute);
  OneRule mn(agg_rule("min", "value < 50"));
  mn.value(49, kT0);
  mn.value(70, kT0 + kMinute);
  mn.advance(kT0 + 10 * kMinute);  // 49 still in the window
  EXPECT_EQ(mn.fx.raised.size(), 1u);
  OneRule cnt(agg_rule("count", "value >= 3"));
  cnt.value(1, kT0);
  cnt.value(1, kT0 + kMinute);
  cnt.advance(kT0 + 5 * kMinute);
  EXPECT_TRUE(cnt.fx.raised.empty());
  cnt.value(1, kT0 + 5 * kMinute);
  cnt.advance(kT0 + 6 * kMinute);
  ASSERT_EQ(cnt.fx.raised.size(), 1u);
  // The first reading leaves the window 10 min after its minute began: count 2, cleared.
  cnt.advance(kT0 + 11 * kMinute);
  EXPECT_EQ(cnt.fx.cleared.size(), 1u);
}

TEST(Aggregate, StateIsBoundedWhateverTheEventRate) {
  OneRule o(agg_rule("avg", "value > 100"));
  for (int i = 0; i < 100000; ++i) o.value(80, kT0 + i * 100);
  EXPECT_EQ(o.e.slots[0].data().size(), 4u + 2 * 11);  // header + (window/every + 1) buckets
}

}  // namespace
}  // namespace vigil::rules::test
