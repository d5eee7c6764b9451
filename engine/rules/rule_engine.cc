#include "engine/rules/rule_engine.h"

#include <date/tz.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/core/log.h"

namespace vigil::rules {

using registry::ElderState;
using registry::kNever;
using registry::RuleSlot;

namespace {

bool compare(double a, CmpOp op, double b) {
  switch (op) {
    case CmpOp::kGt: return a > b;
    case CmpOp::kGe: return a >= b;
    case CmpOp::kLt: return a < b;
    case CmpOp::kLe: return a <= b;
    case CmpOp::kEq: return a == b;
    case CmpOp::kNe: return a != b;
  }
  return false;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TimeMs seconds_ms(double s) { return static_cast<TimeMs>(std::llround(s * 1000.0)); }

std::string fmt_num(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

double RuleEngine::param(const Rule& r, uint32_t index, const ElderState& e) {
  const Param& p = r.params[index];
  if (!p.override_key.empty() && !e.profile.overrides().empty()) {
    auto it = e.profile.overrides().find(p.override_key);
    if (it != e.profile.overrides().end()) return it->second;
  }
  return p.value;
}

bool eval_condition(const Rule& r, const vigil::v1::DeviceEvent& ev, const ElderState& e) {
  if (r.condition.terms.empty()) return true;
  for (const auto& c : r.condition.terms) {
    double lhs = c.field == Field::kValue ? ev.value() : ev.value2();
    double rhs = c.rhs.is_param ? RuleEngine::param(r, c.rhs.param, e) : c.rhs.constant;
    bool hit = compare(lhs, c.op, rhs);
    if (hit && r.condition.any) return true;
    if (!hit && !r.condition.any) return false;
  }
  return !r.condition.any;
}

bool in_schedule(const Rule& r, const std::string& timezone, TimeMs ts) {
  if (r.schedule.empty()) return true;
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(timezone);
  } catch (const std::exception&) {
    zone = date::locate_zone(registry::kDefaultTimezone);
  }
  auto local = zone->to_local(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ts)));
  auto day = date::floor<date::days>(local);
  int minute = static_cast<int>(
      std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
  return std::any_of(r.schedule.begin(), r.schedule.end(),
                     [&](const DayWindow& w) { return w.contains(minute); });
}

void RuleEngine::arm(ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) {
  RuleSlot& s = e.slots[ri];
  s.generation++;
  s.due = due;
  e.dirty = true;
  fx.arm(e, ri, due, s.generation);
}

void RuleEngine::disarm(ElderState& e, uint32_t ri) {
  RuleSlot& s = e.slots[ri];
  if (s.due == 0) return;
  s.generation++;  // the armed timer becomes stale
  s.due = 0;
  e.dirty = true;
}

void RuleEngine::on_event(ElderState& e, const vigil::v1::DeviceEvent& ev, TimeMs ts,
                          RuleEffects& fx) const {
  if (e.slots.size() < rules_->rules().size()) e.slots.resize(rules_->rules().size());
  for (uint32_t ri : rules_->readers(ev.type())) {
    const Rule& r = rules_->rules()[ri];
    switch (r.kind) {
      case RuleKind::kEvent:
        if (contains(r.reads, ev.type()) && eval_condition(r, ev, e) &&
            in_schedule(r, e.timezone(), ts)) {
          fx.raise(e, ri, ev.device_id(), ts, ev.type() + " from device " + ev.device_id());
        }
        break;
      case RuleKind::kThreshold: on_threshold(e, ri, ev, ts, fx); break;
      case RuleKind::kSequence: on_sequence(e, ri, ev, ts, fx); break;
      case RuleKind::kAbsence: on_absence(e, ri, ev, ts, fx); break;
      case RuleKind::kAggregate:
      case RuleKind::kGeofence:
      case RuleKind::kScore:
        break;  // rejected by the loader until evaluated
    }
  }
}

void RuleEngine::on_threshold(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                              TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  if (contains(r.unless_types, ev.type())) {
    s.last_unless = std::max(s.last_unless, ts);
    e.dirty = true;
  }
  if (!contains(r.reads, ev.type())) return;
  const bool breach = eval_condition(r, ev, e);
  const bool active = fx.active(e, ri);
  if (breach) {
    if (!active && s.since == 0) {
      s.since = ts;
      s.device_id = ev.device_id();
      arm(e, ri, ts + seconds_ms(param(r, *r.duration, e)), fx);
    } else if (active && s.clear_since != 0) {
      s.clear_since = 0;
      disarm(e, ri);
    }
  } else {
    if (!active && s.since != 0) {
      s.since = 0;
      disarm(e, ri);
    } else if (active && s.clear_since == 0) {
      s.clear_since = ts;
      arm(e, ri, ts + seconds_ms(param(r, *r.clear_after, e)), fx);
    }
  }
}

void RuleEngine::on_sequence(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                             TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  const bool pending = s.since != 0;
  if (pending && contains(r.then_types, ev.type())) {
    if (r.then_expected) {  // "A not followed by B": B arrived in time, nothing to report
      s.since = 0;
      disarm(e, ri);
      return;
    }
    // "A followed by B within [after, within]": B must meet the condition too.
    const TimeMs after = r.clear_after ? seconds_ms(param(r, *r.clear_after, e)) : 0;
    if (eval_condition(r, ev, e) && ts >= s.since + after) {
      fx.raise(e, ri, ev.device_id(), ts,
               ev.type() + " confirmed " + fmt_num((ts - s.since) / 1000.0) + " s after the first");
      s.since = 0;
      disarm(e, ri);
      return;
    }
    if (ts < s.since + after) return;  // too early to confirm; keep waiting
  }
  if (!pending && contains(r.reads, ev.type()) && eval_condition(r, ev, e) &&
      in_schedule(r, e.timezone(), ts)) {
    s.since = ts;
    s.device_id = ev.device_id();
    arm(e, ri, ts + seconds_ms(param(r, *r.duration, e)), fx);
  }
}

void RuleEngine::on_absence(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                            TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  if (fx.active(e, ri)) fx.clear(e, ri, ts, "event_seen");
  if (ts < s.since) return;  // an older event does not move the last-seen time back
  s.since = ts;
  s.device_id = ev.device_id();
  arm(e, ri, ts + seconds_ms(param(r, *r.duration, e)), fx);
}

void RuleEngine::on_timer(ElderState& e, uint32_t ri, uint64_t generation, TimeMs now,
                          RuleEffects& fx) const {
  if (ri >= e.slots.size()) return;
  RuleSlot& s = e.slots[ri];
  if (s.generation != generation || s.due == 0) return;  // stale: cancelled or re-armed
  const Rule& r = rules_->rules()[ri];
  const TimeMs due = s.due;
  s.due = 0;
  e.dirty = true;
  switch (r.kind) {
    case RuleKind::kThreshold: {
      if (fx.active(e, ri)) {
        if (s.clear_since != 0) {
          s.clear_since = 0;
          fx.clear(e, ri, due, "back_in_range");
        }
        return;
      }
      if (s.since == 0) return;
      if (r.unless_within) {
        const TimeMs within = seconds_ms(param(r, *r.unless_within, e));
        // Strictly after due - within: the re-armed timer is due at last_unless + within,
        // and must not find the same event "inside" its window again (endless re-arm).
        if (s.last_unless != kNever && s.last_unless > due - within) {
          arm(e, ri, s.last_unless + within, fx);  // still breaching: wait out the activity
          return;
        }
      }
      const double dur = param(r, *r.duration, e);
      std::string msg = r.reads.front() + " " + (r.condition.terms.empty() ? "" : "out of range") +
                        " for " + fmt_num(dur) + " s";
      s.since = 0;
      fx.raise(e, ri, s.device_id, due, msg);
      return;
    }
    case RuleKind::kSequence: {
      if (s.since == 0) return;
      s.since = 0;
      if (r.then_expected) {
        fx.raise(e, ri, s.device_id, due,
                 r.reads.front() + " not followed by " + r.then_types.front() + " within " +
                     fmt_num(param(r, *r.duration, e)) + " s");
      }
      return;
    }
    case RuleKind::kAbsence:
      fx.raise(e, ri, s.device_id, due,
               "no " + r.reads.front() + " event for " + fmt_num(param(r, *r.duration, e)) + " s");
      return;
    default:
      return;
  }
}

void RuleEngine::rearm(const ElderState& e, RuleEffects& fx) const {
  for (uint32_t ri = 0; ri < e.slots.size(); ++ri) {
    if (e.slots[ri].due != 0) fx.arm(e, ri, e.slots[ri].due, e.slots[ri].generation);
  }
}

}  // namespace vigil::rules
