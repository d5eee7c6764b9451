#include "engine/rules/local_time.h"

#include <gtest/gtest.h>

#include "engine/core/time_util.h"
#include "engine/rules/rule_set.h"

namespace vigil::rules {
namespace {

constexpr TimeMs kDay = 1772323200000;  // 2026-03-01T00:00:00Z, 08:00 in Asia/Shanghai

TEST(LocalTime, MinuteOfTheDayInTheEldersZone) {
  EXPECT_EQ(local_minute("Asia/Shanghai", kDay), 8 * 60);
  EXPECT_EQ(local_minute("Asia/Shanghai", kDay + 16 * kHour + 59 * kMinute), 59);  // 00:59 next day
  EXPECT_EQ(local_minute("Europe/Berlin", kDay), 60);  // CET, UTC+1
  EXPECT_EQ(local_minute("UTC", kDay + 90 * kMinute), 90);
  // A zone the database does not know counts as the default zone (Asia/Shanghai).
  EXPECT_EQ(local_minute("Nowhere/Atlantis", kDay), 8 * 60);
}

// Three absence rules: by day, by night (a window over midnight) and with no schedule.
const Rule& schedule_rule(size_t index) {
  static const LoadResult loaded = load_rule_text(R"(rules:
  - id: idle
    kind: absence
    reads: [motion]
    schedule: ["07:00-22:00"]
    duration: 12h
    severity: MAJOR
  - id: night
    kind: absence
    reads: [motion]
    schedule: ["22:00-06:00"]
    duration: 3h
    severity: MAJOR
  - id: always
    kind: absence
    reads: [motion]
    duration: 3h
    severity: MAJOR
)",
                                                  "s.yaml");
  EXPECT_TRUE(loaded.ok());
  return loaded.rules->rules().at(index);
}

TEST(LocalTime, InScheduleReadsTheWindowsInLocalTimeAcrossMidnight) {
  const Rule& night = schedule_rule(1);
  const Rule& always = schedule_rule(2);
  EXPECT_FALSE(in_schedule(night, "Asia/Shanghai", kDay));                // 08:00
  EXPECT_TRUE(in_schedule(night, "Asia/Shanghai", kDay + 14 * kHour));    // 22:00, the start
  EXPECT_TRUE(in_schedule(night, "Asia/Shanghai", kDay + 21 * kHour));    // 05:00
  EXPECT_FALSE(in_schedule(night, "Asia/Shanghai", kDay + 22 * kHour));   // 06:00, the end
  EXPECT_TRUE(in_schedule(night, "Europe/Berlin", kDay));                 // 01:00 in Berlin
  EXPECT_TRUE(in_schedule(always, "Asia/Shanghai", kDay));
}

TEST(ScheduleDue, CountsInsideWindowsAcrossDstAndMidnight) {
  const Rule& idle = schedule_rule(0);
  const Rule& night = schedule_rule(1);
  const TimeMs h12 = 12 * kHour;
  // Berlin, Saturday 2026-03-28 20:00 CET (19:00Z) -> Sunday 17:00 CEST (15:00Z) after the change.
  const TimeMs sat = 1774724400000;  // 2026-03-28T19:00:00Z
  EXPECT_EQ(format_rfc3339(sat), "2026-03-28T19:00:00Z");
  EXPECT_EQ(format_rfc3339(schedule_due(idle, "Europe/Berlin", sat, h12)), "2026-03-29T15:00:00Z");
  // Outside the schedule (23:30 Shanghai): counting starts at 07:00.
  EXPECT_EQ(format_rfc3339(schedule_due(idle, "Asia/Shanghai", kDay + 15 * kHour + 30 * kMinute, h12)),
            "2026-03-02T11:00:00Z");
  // A window over midnight: 23:00 local + 3 h counted = 02:00 local.
  EXPECT_EQ(format_rfc3339(schedule_due(night, "Asia/Shanghai", kDay + 15 * kHour, 3 * kHour)),
            "2026-03-01T18:00:00Z");
}

TEST(NextLocalTime, FollowsTheEldersZoneAndDst) {
  const TimeMs kDay0 = 1772323200000;  // 2026-03-01T00:00:00Z
  EXPECT_EQ(format_rfc3339(next_local_time({8 * 60, 20 * 60}, "Asia/Shanghai", kDay0)),
            "2026-03-01T12:00:00Z");  // 08:00 local was at 00:00Z, not after it
  EXPECT_EQ(format_rfc3339(next_local_time({8 * 60}, "Asia/Shanghai", kDay0 - 1)),
            "2026-03-01T00:00:00Z");
  const TimeMs sat = 1774724400000;  // 2026-03-28T19:00:00Z
  EXPECT_EQ(format_rfc3339(next_local_time({8 * 60}, "Europe/Berlin", sat)),
            "2026-03-29T06:00:00Z");  // 08:00 CEST
  // 02:30 does not exist in Berlin on 2026-03-29: the change itself (01:00Z).
  EXPECT_EQ(format_rfc3339(next_local_time({2 * 60 + 30}, "Europe/Berlin", sat)),
            "2026-03-29T01:00:00Z");
  EXPECT_EQ(next_local_time({}, "Asia/Shanghai", kDay0), INT64_MAX);
}

}  // namespace
}  // namespace vigil::rules
