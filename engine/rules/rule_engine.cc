#include "engine/rules/rule_engine.h"

#include <algorithm>
#include <boost/geometry.hpp>
#include <charconv>
#include <cmath>
#include <sstream>

#include "engine/core/log.h"
#include "engine/rules/local_time.h"

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

std::string hhmm(int minute) {
  char buf[12];  // room for any int pair; callers pass 0..1439
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60 % 24, minute % 60);
  return buf;
}

bool applies(const Rule& r, const ElderState& e) {
  return r.applies_to.empty() || (r.applies_to == "meal_service" && e.profile.meal_service());
}

//! The local minutes an `at` rule watches for this elder.
std::vector<int> at_minutes(const Rule& r, const ElderState& e) {
  std::vector<int> out = r.at.minutes;
  if (r.at.medication_times) {
    e.profile.for_each_medication_time([&](std::string_view t) {
      int h = 0, m = 0;
      if (t.size() == 5 && t[2] == ':' &&
          std::from_chars(t.data(), t.data() + 2, h).ec == std::errc() &&
          std::from_chars(t.data() + 3, t.data() + 5, m).ec == std::errc() && h < 24 && m < 60) {
        out.push_back(h * 60 + m);
      }
    });
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

double haversine_m(double lat1, double lon1, double lat2, double lon2) {
  namespace bg = boost::geometry;
  using Point = bg::model::point<double, 2, bg::cs::spherical_equatorial<bg::degree>>;
  return bg::distance(Point(lon1, lat1), Point(lon2, lat2),
                      bg::strategy::distance::haversine<double>(6371008.8));
}

// Aggregate state layout in RuleSlot::data: [head bucket, has base, base value, bucket width ms,
// (value, n) x (buckets + 1)]; bucket k lives at ring position k % (buckets + 1).
constexpr size_t kAggHeader = 4;
size_t agg_pos(const Rule& r, int64_t k) {
  return kAggHeader + 2 * static_cast<size_t>(k % static_cast<int64_t>(r.buckets + 1));
}

//! Moves the open bucket of an aggregate to `k`, evicting the buckets that leave the ring.
void agg_roll(const Rule& r, std::span<double> d, int64_t k) {
  auto head = static_cast<int64_t>(d[0]);
  const int64_t steps = std::min<int64_t>(k - head, r.buckets + 1);
  for (int64_t j = k - steps + 1; j <= k; ++j) {
    const size_t p = agg_pos(r, j);
    if (d[p + 1] > 0) {  // the bucket leaving the window holds the value before the window
      d[1] = 1;
      d[2] = d[p];
    }
    d[p] = 0;
    d[p + 1] = 0;
  }
  d[0] = static_cast<double>(std::max(head, k));
}

// Score state layout in RuleSlot::data: (value, ts) per NEWS2 vital, then the band raised
// (index + 1, 0 for none).
constexpr size_t kScoreBand = 2 * std::size(kNews2Vitals);

int vital_index(const std::string& type) {
  for (size_t i = 0; i < std::size(kNews2Vitals); ++i) {
    if (type == kNews2Vitals[i]) return static_cast<int>(i);
  }
  return -1;
}

// Geofence state: RuleSlot::clear_since counts the fixes outside in a row.
// `at` rules: RuleSlot::device (unused by them otherwise) marks the watch armed for this profile
// and rule set; a slot a hot reload emptied is armed again by the elder's next event.
constexpr uint16_t kWatchArmed = 1;
constexpr size_t kMaxDevices = 64;  //!< per-device absence tracks at most this many devices

}  // namespace

int news2_points(int vital, double v) {
  switch (vital) {
    case 0:  // respiration rate per minute
      return v <= 8 ? 3 : v <= 11 ? 1 : v <= 20 ? 0 : v <= 24 ? 2 : 3;
    case 1:  // SpO2 scale 1, %
      return v <= 91 ? 3 : v <= 93 ? 2 : v <= 95 ? 1 : 0;
    case 2:  // systolic blood pressure, mmHg
      return v <= 90 ? 3 : v <= 100 ? 2 : v <= 110 ? 1 : v <= 219 ? 0 : 3;
    case 3:  // pulse per minute
      return v <= 40 ? 3 : v <= 50 ? 1 : v <= 90 ? 0 : v <= 110 ? 1 : v <= 130 ? 2 : 3;
    case 4:  // consciousness: 0 alert, otherwise new confusion / voice / pain / unresponsive
      return v == 0 ? 0 : 3;
    case 5:  // temperature, degrees C
      return v <= 35.0 ? 3 : v <= 36.0 ? 1 : v <= 38.0 ? 0 : v <= 39.0 ? 1 : 2;
    default: return 0;
  }
}

double RuleEngine::param(const Rule& r, uint32_t index, const ElderState& e) {
  const Param& p = r.params[index];
  if (!p.override_key.empty() && e.profile.has_overrides()) {
    if (auto v = e.profile.override_value(p.override_key)) return *v;
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

namespace {
//! Evaluates `when` on a computed value (aggregate rules): every term reads `value`.
bool eval_value(const Rule& r, double value, const ElderState& e) {
  if (r.condition.terms.empty()) return true;
  for (const auto& c : r.condition.terms) {
    double rhs = c.rhs.is_param ? RuleEngine::param(r, c.rhs.param, e) : c.rhs.constant;
    bool hit = compare(value, c.op, rhs);
    if (hit && r.condition.any) return true;
    if (!hit && !r.condition.any) return false;
  }
  return !r.condition.any;
}
}  // namespace

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
  // The first event with a known time arms the care-plan timers (also of a rule that a hot
  // reload changed, whose slot starts empty).
  for (uint32_t ri : rules_->at_rules()) {
    if (e.slots[ri].device != kWatchArmed) arm_watch(e, ri, ts, fx);
  }
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
      case RuleKind::kAggregate: on_aggregate(e, ri, ev, ts, fx); break;
      case RuleKind::kGeofence: on_geofence(e, ri, ev, ts, fx); break;
      case RuleKind::kScore: on_score(e, ri, ev, ts, fx); break;
    }
  }
}

void RuleEngine::on_threshold(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                              TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  // A rule with no slot yet gets one only when the event changes its state (an idle slot is 40
  // bytes an elder for nothing): an `unless` event, a breach, or a reading while an alarm is open.
  if (e.slots.find(ri) == nullptr && !contains(r.unless_types, ev.type()) &&
      (!contains(r.reads, ev.type()) || (!eval_condition(r, ev, e) && !fx.active(e, ri)))) {
    return;
  }
  RuleSlot& s = e.slots[ri];
  if (contains(r.unless_types, ev.type())) {
    s.ext().last_unless = std::max(s.last_unless(), ts);
    e.dirty = true;
  }
  if (!contains(r.reads, ev.type())) return;
  const bool breach = eval_condition(r, ev, e);
  const bool active = fx.active(e, ri);
  if (breach) {
    if (!active && s.since == 0) {
      s.since = ts;
      s.device = e.intern_device(ev.device_id());
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
  const RuleSlot* held = e.slots.find(ri);
  if (held == nullptr || held->since == 0) {  // not pending: only a first event changes anything
    if (contains(r.reads, ev.type()) && eval_condition(r, ev, e) && in_schedule(r, e.timezone(), ts)) {
      RuleSlot& s = e.slots[ri];  // a slot only once the rule holds state
      s.since = ts;
      s.device = e.intern_device(ev.device_id());
      arm(e, ri, ts + seconds_ms(param(r, *r.duration, e)), fx);
    }
    return;
  }
  // Pending: the second event confirms (or, for "not followed by", cancels) the episode.
  RuleSlot& s = e.slots[ri];
  if (!contains(r.then_types, ev.type())) return;
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
  }
  // Otherwise too early to confirm, or not confirming: keep waiting.
}

void RuleEngine::on_absence(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                            TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  if (!r.at.empty()) return on_watch_event(e, ri, ts, fx);
  if (r.per_device) return on_device_seen(e, ri, ev, ts, fx);
  RuleSlot& s = e.slots[ri];
  if (fx.active(e, ri)) fx.clear(e, ri, ts, "event_seen");
  if (ts < s.since) return;  // an older event does not move the last-seen time back
  s.since = ts;
  s.device = e.intern_device(ev.device_id());
  e.dirty = true;
  // The armed timer is only moved when it fires (absence_timer), so that a stream of events
  // does not arm one timer each.
  if (s.due == 0) arm(e, ri, schedule_due(r, e.timezone(), ts, seconds_ms(param(r, *r.duration, e))), fx);
}

void RuleEngine::absence_timer(ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  if (s.since == 0) return;
  const double dur = param(r, *r.duration, e);
  const TimeMs want = schedule_due(r, e.timezone(), s.since, seconds_ms(dur));
  if (want > due) return arm(e, ri, want, fx);  // events came since it was armed
  if (fx.active(e, ri)) return;
  std::string msg = "no " + join(r.reads, "/") + " event for " + fmt_num(dur) + " s";
  if (!r.schedule.empty()) {
    std::vector<std::string> w;
    for (const auto& d : r.schedule) w.push_back(hhmm(d.start_min) + "-" + hhmm(d.end_min));
    msg += " counted in " + join(w, ", ");
  }
  fx.raise(e, ri, e.device_name(s.device), due, msg);
}

void RuleEngine::on_device_seen(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                                TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  const uint16_t device = e.intern_device(ev.device_id());
  if (device == 0) return;
  auto keyed = s.keyed();
  auto found = std::find_if(keyed.begin(), keyed.end(),
                            [&](const registry::KeyedTime& k) { return k.device == device; });
  registry::KeyedTime* it = nullptr;
  if (found == keyed.end()) {
    if (keyed.size() >= kMaxDevices) return;
    it = &s.add_keyed({ts, device, false});
    keyed = s.keyed();
  } else {
    it = &*found;
    it->seen = std::max(it->seen, ts);
  }
  e.dirty = true;
  if (it->out) {
    it->out = false;
    const bool any_out = std::any_of(keyed.begin(), keyed.end(),
                                     [](const registry::KeyedTime& k) { return k.out; });
    if (!any_out && fx.active(e, ri)) fx.clear(e, ri, ts, "event_seen");
  }
  if (s.due == 0) arm(e, ri, it->seen + seconds_ms(param(r, *r.duration, e)), fx);
}

void RuleEngine::device_timer(ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  const double dur = param(r, *r.duration, e);
  const TimeMs d = seconds_ms(dur);
  TimeMs next = INT64_MAX;
  if (!s.extra) return;
  for (auto& k : s.keyed()) {
    if (k.out) continue;
    if (k.seen + d <= due) {
      k.out = true;
      const std::string_view name = e.device_name(k.device);
      fx.raise(e, ri, name, k.seen + d,
               "no event from device " + std::string(name) + " for " + fmt_num(dur) + " s");
    } else {
      next = std::min(next, k.seen + d);
    }
  }
  if (next != INT64_MAX) arm(e, ri, next, fx);
}

void RuleEngine::on_watch_event(ElderState& e, uint32_t ri, TimeMs ts, RuleEffects& fx) const {
  RuleSlot& s = e.slots[ri];
  if (fx.active(e, ri)) fx.clear(e, ri, ts, "event_seen");
  if (s.since != 0 && ts >= s.since) {  // the watch is satisfied; its timer finds nothing open
    s.since = 0;
    s.clear_since = 0;
    e.dirty = true;
  }
  if (s.due == 0) arm_watch(e, ri, ts, fx);
}

void RuleEngine::arm_watch(ElderState& e, uint32_t ri, TimeMs now, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  TimeMs next = applies(r, e) ? next_local_time(at_minutes(r, e), e.timezone(), now) : INT64_MAX;
  if (s.since != 0) next = std::min(next, s.clear_since);  // an open watch's deadline
  s.device = kWatchArmed;
  e.dirty = true;
  if (next == INT64_MAX) disarm(e, ri);
  else if (next != s.due) arm(e, ri, next, fx);
}

void RuleEngine::watch_timer(ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  if (s.since != 0 && due >= s.clear_since) {  // the watch closes with no event in it
    const int opened = local_minute(e.timezone(), s.since);
    s.since = 0;
    s.clear_since = 0;
    if (!fx.active(e, ri)) {
      fx.raise(e, ri, "", due,
               "no " + join(r.reads, "/") + " between " + hhmm(opened) + " and " +
                   hhmm(local_minute(e.timezone(), due)) + " local time");
    }
  }
  const auto minutes = at_minutes(r, e);
  if (applies(r, e) && next_local_time(minutes, e.timezone(), due - 1) == due) {
    // An `at` time: remind, and open the watch (a watch still open merges into this one).
    const int m = local_minute(e.timezone(), due);
    if (!r.at_reminder.empty()) {
      fx.remind(e, ri, r.at_reminder, due, r.at_reminder + " time " + hhmm(m));
    }
    s.since = due;
    s.clear_since = r.until_min ? next_local_time({*r.until_min}, e.timezone(), due)
                                : due + seconds_ms(param(r, *r.duration, e));
  }
  arm_watch(e, ri, due, fx);
}

void RuleEngine::on_profile(ElderState& e, TimeMs now, RuleEffects& fx) const {
  if (e.slots.size() < rules_->rules().size()) e.slots.resize(rules_->rules().size());
  for (uint32_t ri : rules_->at_rules()) {
    // With no time known yet (replay before its first record) the elder's first event arms.
    if (now <= 0) e.slots[ri].device = 0;
    else arm_watch(e, ri, now, fx);
  }
}

void RuleEngine::on_aggregate(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                              TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  const TimeMs width = std::max<TimeMs>(1, seconds_ms(param(r, *r.duration, e)) / r.buckets);
  const int64_t k = ts / width;
  auto d = s.data();
  // Empty, or the window was overridden: start again.
  if (d.empty() || d[3] != static_cast<double>(width)) {
    d = s.reset_data(kAggHeader + 2 * (r.buckets + 1));
    d[0] = static_cast<double>(k);
    d[3] = static_cast<double>(width);
  }
  if (k > static_cast<int64_t>(d[0])) agg_roll(r, d, k);
  if (k <= static_cast<int64_t>(d[0]) - static_cast<int64_t>(r.buckets + 1)) return;  // too late
  const size_t p = agg_pos(r, k);
  const double x = ev.value();
  s.device = e.intern_device(ev.device_id());
  switch (r.fn) {
    case AggFn::kAvg: d[p] += x; break;
    case AggFn::kMin: d[p] = d[p + 1] > 0 ? std::min(d[p], x) : x; break;
    case AggFn::kMax: d[p] = d[p + 1] > 0 ? std::max(d[p], x) : x; break;
    case AggFn::kCount: break;
    case AggFn::kDelta: d[p] = x; break;
  }
  d[p + 1] += 1;
  e.dirty = true;
  if (s.due == 0) arm(e, ri, (static_cast<int64_t>(d[0]) + 1) * width, fx);
}

void RuleEngine::aggregate_timer(ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  RuleSlot& s = e.slots[ri];
  if (s.no_data()) return;
  auto d = s.data();
  const double window_s = param(r, *r.duration, e);
  const TimeMs width = std::max<TimeMs>(1, seconds_ms(window_s) / r.buckets);
  if (d[3] != static_cast<double>(width)) {  // the window was overridden since: start again
    s.reset_data(0);
    return;
  }
  const int64_t head = due / width;
  agg_roll(r, d, head);
  // The window is the `buckets` whole buckets before the (new, empty) open one.
  double sum = 0, n = 0, lo = 0, hi = 0, last = 0;
  bool have_last = false;
  for (int64_t k = head - static_cast<int64_t>(r.buckets); k < head; ++k) {
    const size_t p = agg_pos(r, k);
    if (d[p + 1] == 0) continue;
    lo = n == 0 ? d[p] : std::min(lo, d[p]);
    hi = n == 0 ? d[p] : std::max(hi, d[p]);
    sum += d[p];
    n += d[p + 1];
    last = d[p];
    have_last = true;
  }
  std::optional<double> value;
  switch (r.fn) {
    case AggFn::kAvg: if (n > 0) value = sum / n; break;
    case AggFn::kMin: if (n > 0) value = lo; break;
    case AggFn::kMax: if (n > 0) value = hi; break;
    case AggFn::kCount: value = n; break;
    case AggFn::kDelta: if (have_last && d[1] != 0) value = last - d[2]; break;
  }
  e.dirty = true;
  if (value) {
    const bool hit = eval_value(r, *value, e);
    const bool active = fx.active(e, ri);
    static const char* kFn[] = {"avg", "min", "max", "count", "delta"};
    if (hit && !active) {
      fx.raise(e, ri, e.device_name(s.device), due,
               r.reads.front() + " " + kFn[static_cast<int>(r.fn)] + " " + fmt_num(*value) +
                   " over " + fmt_num(window_s) + " s");
    } else if (!hit && active) {
      fx.clear(e, ri, due, "back_in_range");
    }
  }
  // Keep evaluating while any reading is in the window; the next reading re-arms otherwise.
  bool any = false;
  for (int64_t k = head - static_cast<int64_t>(r.buckets); k <= head; ++k) any |= d[agg_pos(r, k) + 1] > 0;
  if (any) arm(e, ri, (head + 1) * width, fx);
  else s.reset_data(0);
}

void RuleEngine::on_geofence(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                             TimeMs ts, RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  if (!e.registered) return;  // no home to measure from
  const double dist = haversine_m(e.profile.home_lat(), e.profile.home_lon(), ev.lat(), ev.lon());
  const double radius = r.radius ? param(r, *r.radius, e) : e.geofence_radius_m();
  e.dirty = true;
  if (dist > radius) {
    RuleSlot& s = e.slots[ri];
    s.clear_since += 1;  // geofence: fixes outside in a row
    const double need = r.consecutive ? param(r, *r.consecutive, e) : 1;
    if (static_cast<double>(s.clear_since) >= need && !fx.active(e, ri)) {
      fx.raise(e, ri, ev.device_id(), ts,
               "location " + fmt_num(std::round(dist)) + " m from home (radius " + fmt_num(radius) +
                   " m), " + std::to_string(s.clear_since) + " fixes outside");
    }
  } else {
    if (RuleSlot* s = e.slots.find(ri)) s->clear_since = 0;  // no slot: nothing counted
    if (fx.active(e, ri)) fx.clear(e, ri, ts, "back_inside");
  }
}

void RuleEngine::on_score(ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev, TimeMs ts,
                          RuleEffects& fx) const {
  const Rule& r = rules_->rules()[ri];
  const int vital = vital_index(ev.type());
  if (vital < 0) return;
  RuleSlot& s = e.slots[ri];
  auto d = s.data();
  if (d.empty()) d = s.reset_data(kScoreBand + 1);
  e.dirty = true;
  const size_t p = 2 * static_cast<size_t>(vital);
  if (d[p + 1] != 0 && ts < static_cast<TimeMs>(d[p + 1])) return;  // older than the latest
  d[p] = ev.value();
  d[p + 1] = static_cast<double>(ts);
  const TimeMs max_age = seconds_ms(param(r, *r.max_age, e));
  int score = 0;
  for (size_t v = 0; v < std::size(kNews2Vitals); ++v) {
    const auto at = static_cast<TimeMs>(d[2 * v + 1]);
    if (at == 0 || ts - at > max_age) return;  // a vital missing or too old: no score
    score += news2_points(static_cast<int>(v), d[2 * v]);
  }
  size_t band = 0;  // 1-based index into r.bands (highest first), 0 for none
  for (size_t b = 0; b < r.bands.size(); ++b) {
    if (score >= param(r, r.bands[b].min, e)) {
      band = b + 1;
      break;
    }
  }
  const auto raised = static_cast<size_t>(d[kScoreBand]);
  if (band == 0) {
    d[kScoreBand] = 0;
    if (raised != 0 && fx.active(e, ri)) fx.clear(e, ri, ts, "score_below_bands");
    return;
  }
  if (raised != 0 && band >= raised) return;  // same or lower band than the one raised
  std::string msg = "NEWS2 " + std::to_string(score) + " (";
  for (size_t v = 0; v < std::size(kNews2Vitals); ++v) {
    msg += std::string(v ? ", " : "") + kNews2Vitals[v] + " " + fmt_num(d[2 * v]) + ":" +
           std::to_string(news2_points(static_cast<int>(v), d[2 * v]));
  }
  msg += ")";
  if (raised != 0 && fx.active(e, ri)) fx.clear(e, ri, ts, "score_rose");
  d[kScoreBand] = static_cast<double>(band);
  fx.raise_with(e, ri, r.bands[band - 1].severity, ev.device_id(), ts, msg);
}

void RuleEngine::on_timer(ElderState& e, uint32_t ri, uint64_t generation, TimeMs now,
                          RuleEffects& fx) const {
  if (ri >= e.slots.size() || e.slots.find(ri) == nullptr) return;  // no state: nothing armed
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
        const TimeMs last_unless = s.last_unless();
        if (last_unless != kNever && last_unless > due - within) {
          arm(e, ri, last_unless + within, fx);  // still breaching: wait out the activity
          return;
        }
      }
      const double dur = param(r, *r.duration, e);
      std::string msg = r.reads.front() + " " + (r.condition.terms.empty() ? "" : "out of range") +
                        " for " + fmt_num(dur) + " s";
      s.since = 0;
      fx.raise(e, ri, e.device_name(s.device), due, msg);
      return;
    }
    case RuleKind::kSequence: {
      if (s.since == 0) return;
      s.since = 0;
      if (r.then_expected) {
        fx.raise(e, ri, e.device_name(s.device), due,
                 r.reads.front() + " not followed by " + r.then_types.front() + " within " +
                     fmt_num(param(r, *r.duration, e)) + " s");
      }
      return;
    }
    case RuleKind::kAbsence:
      if (!r.at.empty()) return watch_timer(e, ri, due, fx);
      if (r.per_device) return device_timer(e, ri, due, fx);
      return absence_timer(e, ri, due, fx);
    case RuleKind::kAggregate: return aggregate_timer(e, ri, due, fx);
    default:
      return;
  }
}

void RuleEngine::rearm(const ElderState& e, RuleEffects& fx) const {
  for (size_t i = 0; i < e.slots.held(); ++i) {
    const RuleSlot& s = e.slots.slot_at(i);
    if (s.due != 0) fx.arm(e, e.slots.rule_at(i), s.due, s.generation);
  }
}

}  // namespace vigil::rules
