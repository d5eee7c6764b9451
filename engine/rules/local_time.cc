#include "engine/rules/local_time.h"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "engine/registry/elder_state.h"

namespace vigil::rules {

namespace {

const date::time_zone* zone_of(const std::string& timezone) {
  try {
    return date::locate_zone(timezone);
  } catch (const std::exception&) {
    return date::locate_zone(registry::kDefaultTimezone);
  }
}

using LocalMs = date::local_time<std::chrono::milliseconds>;
using SysMs = date::sys_time<std::chrono::milliseconds>;

LocalMs to_local(const date::time_zone* zone, TimeMs t) {
  return zone->to_local(SysMs(std::chrono::milliseconds(t)));
}

TimeMs to_utc(const date::time_zone* zone, LocalMs local) {
  return zone->to_sys(local, date::choose::earliest).time_since_epoch().count();
}

int minute_of_day(const date::time_zone* zone, TimeMs t) {
  auto local = to_local(zone, t);
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::minutes>(local - date::floor<date::days>(local)).count());
}

}  // namespace

Status load_time_zones() {
  try {
    const date::time_zone* zone = date::locate_zone(registry::kDefaultTimezone);
    (void)to_local(zone, 0);  // the zone's own transitions are read on first use
    return ok();
  } catch (const std::exception& e) {
    return make_error(Errc::kConfig, std::string("cannot read the time-zone database (") +
                                         e.what() + "); install the tzdata package");
  }
}

int local_minute(const std::string& timezone, TimeMs t) { return minute_of_day(zone_of(timezone), t); }

bool in_schedule_windows(const Rule& r, const std::string& timezone, TimeMs ts) {
  const int minute = minute_of_day(zone_of(timezone), ts);
  return std::any_of(r.schedule.begin(), r.schedule.end(),
                     [&](const DayWindow& w) { return w.contains(minute); });
}

TimeMs next_local_time(const std::vector<int>& minutes, const std::string& timezone, TimeMs after) {
  if (minutes.empty()) return INT64_MAX;
  const auto* zone = zone_of(timezone);
  const auto day = date::floor<date::days>(to_local(zone, after));
  TimeMs best = INT64_MAX;
  for (int d = -1; d <= 2; ++d) {
    for (int m : minutes) {
      const TimeMs t = to_utc(zone, LocalMs(day + date::days(d) + std::chrono::minutes(m)));
      if (t > after) best = std::min(best, t);
    }
  }
  return best;
}

TimeMs schedule_due(const Rule& r, const std::string& timezone, TimeMs from, TimeMs duration) {
  if (r.schedule.empty()) return from + duration;
  const auto* zone = zone_of(timezone);
  std::vector<DayWindow> windows = r.schedule;
  std::sort(windows.begin(), windows.end(),
            [](const DayWindow& a, const DayWindow& b) { return a.start_min < b.start_min; });
  auto day = date::floor<date::days>(to_local(zone, from)) - date::days(1);
  TimeMs left = duration;
  for (int i = 0; i < 800; ++i, day += date::days(1)) {
    for (const auto& w : windows) {
      const auto end_day = w.end_min <= w.start_min ? day + date::days(1) : day;
      TimeMs start = to_utc(zone, LocalMs(day + std::chrono::minutes(w.start_min)));
      const TimeMs end = to_utc(zone, LocalMs(end_day + std::chrono::minutes(w.end_min)));
      start = std::max(start, from);
      if (end <= start) continue;
      if (end - start >= left) return start + left;
      left -= end - start;
    }
  }
  return INT64_MAX;
}

}  // namespace vigil::rules
