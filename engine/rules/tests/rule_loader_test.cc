#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/rules/rule_set.h"

namespace vigil::rules {
namespace {

const std::string kSourceDir = VIGIL_SOURCE_DIR;

std::vector<std::string> all_str(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics) out.push_back(d.str());
  return out;
}

std::string joined(const LoadResult& r) {
  std::string out;
  for (const auto& s : all_str(r)) out += s + "\n";
  return out;
}

//! The diagnostic at line:col, or nullptr.
const Diagnostic* at(const LoadResult& r, int line, int col) {
  for (const auto& d : r.diagnostics) {
    if (d.line == line && d.col == col) return &d;
  }
  return nullptr;
}

const Rule& rule(const LoadResult& r, const std::string& id) {
  int i = r.rules->index_of(id);
  EXPECT_GE(i, 0) << "no rule " << id;
  return r.rules->rules().at(static_cast<size_t>(std::max(i, 0)));
}

TEST(RuleLoader, ShippedPackLoadsWithoutErrorsOrWarnings) {
  auto r = load_rule_dir(kSourceDir + "/rules/eldercare");
  ASSERT_TRUE(r.ok()) << joined(r);
  EXPECT_TRUE(r.diagnostics.empty()) << joined(r);
  for (const char* id : {"sos", "fall_no_recovery", "smoke", "gas", "co", "water_leak", "hr_high",
                         "hr_low", "spo2_low", "bp_crisis", "fever", "low_battery",
                         "bed_exit_no_return", "night_door_open", "news2_high", "inactivity_day",
                         "geofence_exit", "device_offline", "medication_missed", "meal_missed",
                         "water_low_use"}) {
    EXPECT_GE(r.rules->index_of(id), 0) << id;
  }
  // Spot-check the SPEC defaults of section 5.
  const Rule& hr = rule(r, "hr_high");
  EXPECT_EQ(hr.kind, RuleKind::kThreshold);
  EXPECT_EQ(hr.severity, vigil::v1::MAJOR);
  ASSERT_TRUE(hr.duration);
  EXPECT_EQ(hr.params[*hr.duration].value, 600);
  EXPECT_EQ(hr.params[*hr.duration].override_key, "hr_high.duration_s");
  EXPECT_EQ(hr.unless_types, std::vector<std::string>{"motion"});
  EXPECT_EQ(hr.clear, ClearMode::kAuto);
  const Rule& sos = rule(r, "sos");
  EXPECT_EQ(sos.severity, vigil::v1::CRITICAL);
  EXPECT_EQ(sos.actions.dispatch, "emergency_response");
  EXPECT_EQ(sos.clear, ClearMode::kOperator);
  const Rule& fall = rule(r, "fall_no_recovery");
  EXPECT_EQ(fall.kind, RuleKind::kSequence);
  EXPECT_TRUE(fall.then_expected);
  EXPECT_EQ(fall.params[*fall.duration].value, 60);
  // The type index feeds a rule from its reads, unless and then types.
  const auto& motion = r.rules->readers("motion");
  EXPECT_NE(std::find(motion.begin(), motion.end(), r.rules->index_of("hr_high")), motion.end());
  EXPECT_NE(std::find(motion.begin(), motion.end(), r.rules->index_of("fall_no_recovery")),
            motion.end());
}

TEST(RuleLoader, FiveMistakesAreEachReportedWithFileLineAndColumn) {
  const std::string file = kSourceDir + "/tests/rules/five_mistakes.yaml";
  auto r = load_rule_dir(kSourceDir + "/tests/rules");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 5u) << joined(r);
  for (const auto& d : r.diagnostics) {
    EXPECT_EQ(d.file, file);
    EXPECT_FALSE(d.warning) << d.str();
  }
  // Line 3: `kind: treshold`.
  const Diagnostic* d = at(r, 3, 11);
  ASSERT_NE(d, nullptr) << joined(r);
  EXPECT_EQ(d->message,
            "unknown kind 'treshold' (event, threshold, aggregate, absence, sequence, geofence, "
            "score)");
  // Line 12: `duration: duratoin_s` names a parameter that does not exist.
  d = at(r, 12, 15);
  ASSERT_NE(d, nullptr) << joined(r);
  EXPECT_EQ(d->message, "reference to unknown parameter 'duratoin_s'");
  // Line 13: `severty: MAJOR`.
  d = at(r, 13, 5);
  ASSERT_NE(d, nullptr) << joined(r);
  EXPECT_EQ(d->message, "unknown key 'severty' (did you mean 'severity'?) for a threshold rule");
  // Line 18: `within: 15x`.
  d = at(r, 18, 13);
  ASSERT_NE(d, nullptr) << joined(r);
  EXPECT_EQ(d->message, "bad duration '15x' (use seconds or 90s, 10m, 12h, 1d)");
  // Line 19: `schedule: ["22:00-30:00"]`.
  d = at(r, 19, 16);
  ASSERT_NE(d, nullptr) << joined(r);
  EXPECT_EQ(d->message, "bad schedule window '22:00-30:00' (expected HH:MM-HH:MM, local time)");
  EXPECT_EQ(d->str(), file + ":19:16: bad schedule window '22:00-30:00' (expected HH:MM-HH:MM, local time)");
  // Errors come in file order.
  EXPECT_TRUE(std::is_sorted(r.diagnostics.begin(), r.diagnostics.end(),
                             [](const Diagnostic& a, const Diagnostic& b) {
                               return a.line != b.line ? a.line < b.line : a.col < b.col;
                             }));
}

TEST(RuleLoader, UnknownEventTypeIsAWarningAndTheRuleStillLoads) {
  auto r = load_rule_text(R"(rules:
  - id: pillow
    kind: event
    reads: [pillow_squeeze]
    severity: MINOR
)",
                          "pillow.yaml");
  ASSERT_TRUE(r.ok()) << joined(r);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_TRUE(r.diagnostics[0].warning);
  EXPECT_EQ(r.diagnostics[0].str(), "pillow.yaml:4:13: warning: unknown event type 'pillow_squeeze'");
  ASSERT_EQ(r.rules->rules().size(), 1u);
  EXPECT_EQ(r.rules->readers("pillow_squeeze"), std::vector<uint32_t>{0});
}

TEST(RuleLoader, AnyErrorLoadsNoRulesAtAll) {
  auto r = load_rule_text(R"(rules:
  - id: good
    kind: event
    reads: [sos]
    severity: CRITICAL
  - id: bad
    kind: event
    reads: [sos]
    severity: LOUD
)",
                          "mixed.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.rules, nullptr);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].str(),
            "mixed.yaml:9:15: unknown severity 'LOUD' (CRITICAL, MAJOR, MINOR, WARNING)");
}

LoadResult with_when(const std::string& when) {
  return load_rule_text("rules:\n"
                        "  - id: r\n"
                        "    kind: event\n"
                        "    reads: [blood_pressure]\n"
                        "    severity: MAJOR\n"
                        "    params: {sys: 180, dia: 120}\n"
                        "    when: " + when + "\n",
                        "when.yaml");
}

TEST(RuleLoader, WhenWithOrJoinsTermsAndResolvesParameters) {
  auto r = with_when("value >= sys or value2 >= dia");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Condition& c = r.rules->rules()[0].condition;
  EXPECT_TRUE(c.any);
  ASSERT_EQ(c.terms.size(), 2u);
  EXPECT_EQ(c.terms[0].field, Field::kValue);
  EXPECT_EQ(c.terms[0].op, CmpOp::kGe);
  EXPECT_TRUE(c.terms[0].rhs.is_param);
  EXPECT_EQ(r.rules->rules()[0].params[c.terms[0].rhs.param].name, "sys");
  EXPECT_EQ(c.terms[1].field, Field::kValue2);
  EXPECT_TRUE(c.terms[1].rhs.is_param);
  EXPECT_EQ(r.rules->rules()[0].params[c.terms[1].rhs.param].name, "dia");
}

TEST(RuleLoader, WhenWithAndJoinsTermsAndReadsNumbers) {
  auto r = with_when("value > 100.5 and value2 != -3");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Condition& c = r.rules->rules()[0].condition;
  EXPECT_FALSE(c.any);
  ASSERT_EQ(c.terms.size(), 2u);
  EXPECT_FALSE(c.terms[0].rhs.is_param);
  EXPECT_EQ(c.terms[0].rhs.constant, 100.5);
  EXPECT_EQ(c.terms[0].op, CmpOp::kGt);
  EXPECT_FALSE(c.terms[1].rhs.is_param);
  EXPECT_EQ(c.terms[1].rhs.constant, -3);
  EXPECT_EQ(c.terms[1].op, CmpOp::kNe);
}

TEST(RuleLoader, WhenMixingOrAndAndIsAnError) {
  auto r = with_when("value > sys or value2 > dia and value < 300");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << joined(r);
  EXPECT_EQ(r.diagnostics[0].str(),
            "when.yaml:7:11: `when` mixes `or` and `and`; split the rule");
}

TEST(RuleLoader, WhenErrorsNameWhatIsWrong) {
  struct Case {
    std::string when;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {"value > systolic", "reference to unknown parameter 'systolic' in `when`"},
           {"pulse > 100", "unknown field 'pulse' in `when` (value or value2)"},
           {"value => 100", "unknown comparison '=>' in `when`"},
           {"value >", "`when` must read like `value > threshold [or value2 >= 120]`"},
           {"value > 100 or", "`when` ends with a dangling `or`/`and`"},
           {"value > 100 xor value2 > 1", "expected `or` or `and` in `when`, found 'xor'"}}) {
    auto r = with_when(c.when);
    EXPECT_FALSE(r.ok()) << c.when;
    ASSERT_FALSE(r.diagnostics.empty()) << c.when;
    EXPECT_EQ(r.diagnostics[0].message, c.message) << c.when;
    EXPECT_EQ(r.diagnostics[0].line, 7) << c.when;
  }
}

TEST(RuleLoader, DurationsTakeSecondsMinutesAndHours) {
  auto r = load_rule_text(R"(rules:
  - id: t
    kind: threshold
    reads: [heart_rate]
    severity: MAJOR
    params: {threshold: 120, plain: 45, long: 12h}
    when: value > threshold
    duration: 90s
    clear_after: 10m
    unless: {types: [motion], within: long}
  - id: a
    kind: absence
    reads: [motion]
    severity: MAJOR
    duration: 12h
)",
                          "durations.yaml");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Rule& t = rule(r, "t");
  ASSERT_TRUE(t.duration && t.clear_after && t.unless_within);
  EXPECT_EQ(t.params[*t.duration].value, 90);
  EXPECT_EQ(t.params[*t.clear_after].value, 600);
  EXPECT_EQ(t.params[*t.unless_within].value, 12 * 3600);
  EXPECT_EQ(t.params[*t.unless_within].name, "long");
  // Inline durations are anonymous: no elder can override them.
  EXPECT_EQ(t.params[*t.duration].override_key, "");
  EXPECT_EQ(t.params[1].value, 45);  // a bare number
  const Rule& a = rule(r, "a");
  ASSERT_TRUE(a.duration);
  EXPECT_EQ(a.params[*a.duration].value, 43200);
  EXPECT_EQ(a.clear, ClearMode::kNextEvent);
}

TEST(RuleLoader, DuplicateIdIsLocated) {
  auto r = load_rule_text(R"(rules:
  - id: sos
    kind: event
    reads: [sos]
    severity: CRITICAL
  - id: sos
    kind: event
    reads: [sos]
    severity: MINOR
)",
                          "dup.yaml");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.size(), 1u) << joined(r);
  EXPECT_EQ(r.diagnostics[0].str(), "dup.yaml:6:9: duplicate rule id 'sos'");
}

TEST(RuleLoader, ShippedPackNewKindsCarryTheSpecDefaults) {
  auto r = load_rule_dir(kSourceDir + "/rules/eldercare");
  ASSERT_TRUE(r.ok()) << joined(r);
  const Rule& news = rule(r, "news2_high");
  EXPECT_EQ(news.kind, RuleKind::kScore);
  ASSERT_EQ(news.bands.size(), 2u);
  EXPECT_EQ(news.bands[0].severity, vigil::v1::CRITICAL);
  EXPECT_EQ(news.params[news.bands[0].min].value, 7);
  EXPECT_EQ(news.params[news.bands[0].min].override_key, "news2_high.threshold");
  EXPECT_EQ(news.bands[1].severity, vigil::v1::MAJOR);
  EXPECT_EQ(news.params[news.bands[1].min].value, 5);
  EXPECT_EQ(news.params[*news.max_age].value, 3600);
  const Rule& water = rule(r, "water_low_use");
  EXPECT_EQ(water.fn, AggFn::kDelta);
  EXPECT_EQ(water.buckets, 12u);
  EXPECT_EQ(water.params[*water.duration].value, 43200);
  const Rule& off = rule(r, "device_offline");
  EXPECT_TRUE(off.per_device);
  EXPECT_EQ(off.params[*off.duration].value, 2700);
  EXPECT_EQ(off.severity, vigil::v1::WARNING);
  const Rule& med = rule(r, "medication_missed");
  EXPECT_TRUE(med.at.medication_times);
  EXPECT_EQ(med.at_reminder, "medication");
  EXPECT_TRUE(med.actions.reminder.empty());  // sent at the medication time, not on the alarm
  const Rule& meal = rule(r, "meal_missed");
  EXPECT_EQ(meal.at.minutes, std::vector<int>{0});
  EXPECT_EQ(meal.until_min, 13 * 60 + 30);
  EXPECT_EQ(meal.applies_to, "meal_service");
  EXPECT_EQ(meal.actions.operator_task, "welfare_call");
  const Rule& idle = rule(r, "inactivity_day");
  ASSERT_EQ(idle.schedule.size(), 1u);
  EXPECT_EQ(idle.schedule[0].start_min, 7 * 60);
  EXPECT_EQ(idle.schedule[0].end_min, 22 * 60);
  EXPECT_EQ(idle.actions.operator_task, "welfare_call");
  const Rule& geo = rule(r, "geofence_exit");
  EXPECT_FALSE(geo.radius);  // the elder's geofence_radius_m
  EXPECT_EQ(geo.params[*geo.consecutive].value, 2);
  // `any` readers are fed every type, known or not.
  const int offline = r.rules->index_of("device_offline");
  for (const char* type : {"heart_rate", "heartbeat", "pillow_squeeze"}) {
    const auto& v = r.rules->readers(type);
    EXPECT_NE(std::find(v.begin(), v.end(), offline), v.end()) << type;
  }
}

TEST(RuleLoader, NewKeysAreValidatedWithLocations) {
  struct Case {
    std::string rule;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"kind: aggregate\n    reads: [water_meter]\n    severity: MAJOR\n    fn: median\n"
       "    window: 12h\n    when: value < 1",
       "x.yaml:6:9: unknown aggregate fn 'median' (avg, min, max, count, delta)"},
      {"kind: aggregate\n    reads: [water_meter]\n    severity: MAJOR\n    fn: avg\n"
       "    window: 12h\n    every: 5h\n    when: value < 1",
       "x.yaml:8:12: `window` must be 1 to 48 times `every` (the evaluation step)"},
      {"kind: aggregate\n    reads: [water_meter]\n    severity: MAJOR\n    fn: avg\n"
       "    window: 12hours\n    when: value < 1",
       "x.yaml:7:13: bad duration '12hours' (use seconds or 90s, 10m, 12h, 1d)"},
      {"kind: absence\n    reads: [medication_box_opened]\n    severity: MINOR\n"
       "    at: [\"08:00\", \"25:00\"]\n    duration: 1h",
       "x.yaml:6:19: bad time of day '25:00' in `at` (HH:MM local time, or medication_times)"},
      {"kind: absence\n    reads: [meal_checkin]\n    severity: MINOR\n    at: \"00:00\"\n"
       "    until: \"13:3O\"",
       "x.yaml:7:12: bad time of day '13:3O' in `until` (HH:MM local time)"},
      {"kind: absence\n    reads: [any]\n    severity: MINOR\n    per: elder\n    duration: 1h",
       "x.yaml:6:10: `per: elder` is not known (device)"},
      {"kind: absence\n    reads: [meal_checkin]\n    severity: MINOR\n    at: \"00:00\"\n"
       "    until: \"13:30\"\n    applies_to: vip",
       "x.yaml:8:17: `applies_to: vip` is not an elder flag (meal_service)"},
      {"kind: geofence\n    reads: [location]\n    severity: MAJOR\n    consecutive: twice",
       "x.yaml:6:18: reference to unknown parameter 'twice'"},
      {"kind: geofence\n    reads: [location]\n    severity: MAJOR\n    consecutiv: 2",
       "x.yaml:6:5: unknown key 'consecutiv' (did you mean 'consecutive'?) for a geofence rule"},
      {"kind: score\n    score: news3\n    reads: [respiration_rate, spo2, blood_pressure, "
       "heart_rate, consciousness, body_temperature]\n    max_age: 1h\n    bands: {CRITICAL: 7}",
       "x.yaml:4:12: unknown score 'news3' (news2)"},
      {"kind: score\n    score: news2\n    reads: [respiration_rate, spo2, blood_pressure, "
       "heart_rate, consciousness, body_temperature]\n    max_age: 1h\n    bands: {CRITICAL: 7, "
       "SEVERE: 5}",
       "x.yaml:7:26: unknown severity 'SEVERE' in `bands` (CRITICAL, MAJOR, MINOR, WARNING)"},
      {"kind: score\n    score: news2\n    reads: [respiration_rate, spo2, blood_pressure, "
       "heart_rate, consciousness, body_temperature]\n    max_age: 1h\n    bands: {CRITICAL: "
       "crit}",
       "x.yaml:7:23: reference to unknown parameter 'crit'"},
  };
  for (const auto& c : cases) {
    auto r = load_rule_text("rules:\n  - id: x\n    " + c.rule + "\n", "x.yaml");
    EXPECT_FALSE(r.ok()) << c.rule;
    ASSERT_FALSE(r.diagnostics.empty()) << c.rule;
    EXPECT_EQ(r.diagnostics[0].str(), c.want) << joined(r);
  }
}

}  // namespace
}  // namespace vigil::rules
