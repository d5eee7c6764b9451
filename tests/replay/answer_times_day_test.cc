// Issue 4, acceptance 2: a replay of a generated day (thousands of alarms, operators answering
// after scripted delays) reports answer-time shares that match a count made here, independently.

#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "engine/core/time_util.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/replay.h"

namespace vigil {
namespace {

constexpr TimeMs kDay = 1'772'323'200'000;  // 2026-03-01T00:00:00Z

TEST(AnswerTimesDay, ReplayReportsTheSharesOfAnIndependentCount) {
  auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  ASSERT_TRUE(rules.ok());
  std::mt19937_64 rng(2026);
  std::ostringstream in;
  struct Expect {
    uint64_t alarms = 0, answered = 0, in60 = 0, in180 = 0;
  };
  Expect all, critical, major, hour8;
  // 3000 elders, one alarm each at a random second of the day: smoke (CRITICAL) or water_leak
  // (MAJOR); 97% answered after 5..400 s, the rest never.
  struct Ev {
    TimeMs ts;
    std::string line;
  };
  std::vector<Ev> events;
  for (int i = 0; i < 3000; ++i) {
    const std::string elder = "e" + std::to_string(i);
    const TimeMs raised = kDay + static_cast<TimeMs>(rng() % (24 * 3600)) * 1000;
    const bool crit = rng() % 2 == 0;
    const std::string type = crit ? "smoke" : "water_leak";
    events.push_back({raised, R"({"topic":"telemetry","value":{"elder_id":")" + elder +
                                  R"(","device_id":"d","type":")" + type + R"(","ts":")" +
                                  format_rfc3339(raised) + "\"}}"});
    all.alarms++;
    (crit ? critical : major).alarms++;
    const bool in_hour8 = raised >= kDay + 8 * kHour && raised < kDay + 9 * kHour;
    if (in_hour8) hour8.alarms++;
    if (rng() % 100 < 3) continue;
    const TimeMs wait = (5 + static_cast<TimeMs>(rng() % 396)) * 1000;
    events.push_back({raised + wait, R"({"topic":"calls","value":{"call_id":"c)" + std::to_string(i) +
                                         R"(","elder_id":")" + elder + R"(","ts":")" +
                                         format_rfc3339(raised + wait) +
                                         R"(","alarm_action":{"rule_id":")" + type +
                                         R"(","action":"ACK"}}})"});
    for (Expect* x : {&all, crit ? &critical : &major, in_hour8 ? &hour8 : nullptr}) {
      if (x == nullptr) continue;
      x->answered++;
      x->in60 += wait <= 60'000;
      x->in180 += wait <= 180'000;
    }
  }
  std::stable_sort(events.begin(), events.end(), [](const Ev& a, const Ev& b) { return a.ts < b.ts; });
  for (const auto& e : events) in << e.line << "\n";

  std::istringstream input(in.str());
  egress::CollectingSink sink;
  auto stats = runtime::replay(input, rules.rules, dispatch::DispatchConfig{}, sink);
  EXPECT_EQ(stats.bad_lines, 0u);
  // Every generated elder also goes silent after its one event, so device_offline raises
  // WARNING alarms too; the count here is of the smoke (CRITICAL) and water_leak (MAJOR) ones.
  const auto& rep = stats.answers;
  for (auto [sev, want] : {std::pair{vigil::v1::CRITICAL, critical}, std::pair{vigil::v1::MAJOR, major}}) {
    const auto& row = rep.by_severity.at(sev);
    EXPECT_EQ(row.alarms, want.alarms) << vigil::v1::Severity_Name(sev);
    EXPECT_EQ(row.answered, want.answered);
    EXPECT_EQ(row.within_first, want.in60);
    EXPECT_EQ(row.within_second, want.in180);
    EXPECT_DOUBLE_EQ(row.share_first(), double(want.in60) / want.alarms);
    EXPECT_DOUBLE_EQ(row.share_second(), double(want.in180) / want.alarms);
  }
  EXPECT_EQ(critical.alarms + major.alarms, all.alarms);
  const auto& warn = rep.by_severity.at(vigil::v1::WARNING);
  EXPECT_EQ(warn.answered, 0u);  // nobody acknowledged a device_offline
  EXPECT_EQ(rep.overall.alarms, all.alarms + warn.alarms);
  EXPECT_EQ(rep.overall.within_first, all.in60);
  EXPECT_EQ(rep.overall.within_second, all.in180);
  // device_offline alarms are never answered, so an hour's answered figures are the
  // smoke/water_leak ones counted here.
  const auto& h8 = rep.by_hour.at(kDay + 8 * kHour);
  EXPECT_EQ(h8.answered, hour8.answered);
  EXPECT_EQ(h8.within_first, hour8.in60);
  EXPECT_EQ(h8.within_second, hour8.in180);
}

}  // namespace
}  // namespace vigil
