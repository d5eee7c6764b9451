#pragma once
// Local-time arithmetic for the rules: an elder's schedules, `at` times and night windows are in
// the elder's own time zone (the profile's `timezone`), over Howard Hinnant's date/tz and the
// system's zoneinfo, DST-correct. An unknown zone name falls back to registry::kDefaultTimezone.
// Runs when a timer is armed or fires and for schedule checks, not per event in the common case.

#include <string>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/rules/rule.h"

namespace vigil::rules {

//! Reads the time-zone database and the default zone (registry::kDefaultTimezone) now, on the
//! calling thread: the engine calls it before its threads start. Otherwise the first record
//! whose rule reads a local time loads it on a shard, in the middle of the stream, while the
//! other shard and the dispatcher may be loading it too (engine/rules/README.md, "Time zones").
//! An error if the database or the default zone cannot be read (no tzdata installed).
Status load_time_zones();
//! The minute of the local day (0..1439) at `t` in `timezone`.
int local_minute(const std::string& timezone, TimeMs t);
//! True when `ts` falls in one of the rule's local-time windows (always, with no schedule:
//! inline, as event and sequence rules ask it per matching event and most have none).
bool in_schedule_windows(const Rule& r, const std::string& timezone, TimeMs ts);
inline bool in_schedule(const Rule& r, const std::string& timezone, TimeMs ts) {
  return r.schedule.empty() || in_schedule_windows(r, timezone, ts);
}
//! The first local time of day among `minutes` strictly after `after` in `timezone` (DST-correct:
//! a local time skipped by a DST change maps to the change). INT64_MAX if `minutes` is empty.
TimeMs next_local_time(const std::vector<int>& minutes, const std::string& timezone, TimeMs after);
//! When `duration` of time counted only inside the rule's schedule windows has passed since
//! `from` (plain `from + duration` for a rule without schedule).
TimeMs schedule_due(const Rule& r, const std::string& timezone, TimeMs from, TimeMs duration);

}  // namespace vigil::rules
