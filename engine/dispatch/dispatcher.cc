#include "engine/dispatch/dispatcher.h"

#include <algorithm>
#include <cmath>

#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/dispatch/order_history.h"

namespace vigil::dispatch {

using vigil::state::OrderRecord;
using vigil::v1::AgencyUpdate;
using vigil::v1::OrderState;

namespace {
bool terminal(OrderState s) {
  return s == vigil::v1::COMPLETED || s == vigil::v1::RATED || s == vigil::v1::CANCELLED ||
         s == vigil::v1::ESCALATED || s == vigil::v1::FAILED;
}

//! CANCEL is allowed before COMPLETED, also on an ESCALATED order (the operator stops looking).
bool cancellable(OrderState s) { return !terminal(s) || s == vigil::v1::ESCALATED; }
//! Orders that can still be late: nobody has arrived and the dispatcher still follows them.
bool awaiting_arrival(OrderState s) {
  return s == vigil::v1::CREATED || s == vigil::v1::OFFERED || s == vigil::v1::ACCEPTED ||
         s == vigil::v1::EN_ROUTE;
}

//! Position of a tracking state on the happy path, for "no going back" checks.
int rank(OrderState s) {
  switch (s) {
    case vigil::v1::ACCEPTED:
      return 1;
    case vigil::v1::EN_ROUTE:
      return 2;
    case vigil::v1::ARRIVED:
      return 3;
    case vigil::v1::IN_SERVICE:
      return 4;
    case vigil::v1::COMPLETED:
      return 5;
    default:
      return 0;
  }
}

}  // namespace

const char* order_state_name(OrderState s) { return vigil::v1::OrderState_Name(s).c_str(); }

std::string late_alarm_id(const OrderRecord& o) {
  return o.elder_id() + ":order_late:" + o.order_id();
}

void Dispatcher::upsert_agency(const vigil::v1::Agency& agency) { agencies_.upsert(agency); }

TimeMs Dispatcher::offer_timeout(const OrderRecord& o) const {
  return o.priority() == vigil::v1::EMERGENCY ? config_.offer_timeout_emergency
                                              : config_.offer_timeout;
}

std::vector<std::string> Dispatcher::rank_candidates(const OrderRequest& r) {
  std::vector<std::string> out;
  const size_t keep = rank_into_scored(r);
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i) out.push_back(scored_[i].agency->record.agency().agency_id());
  return out;
}

double Dispatcher::score_of(const AgencyEntry& e, double d, double radius) const {
  double score = config_.weight_distance * (d / radius) +
                 config_.weight_load * (double(e.committed()) / e.capacity) +
                 config_.weight_rating * ((5.0 - std::clamp(e.rating, 0.0, 5.0)) / 5.0);
  // Quantise so that float noise never decides; equal scores fall to fairness.
  return std::round(score * 1e6) / 1e6;
}

size_t Dispatcher::rank_into_scored(const OrderRequest& r) {
  scored_.clear();
  if (!r.has_location) return 0;
  const double radius = config_.radius_km(r.category);
  const size_t k = static_cast<size_t>(std::max(0, config_.max_candidates));
  // The bounds below need every score term to grow with distance and none to be negative.
  const bool prunable = k > 0 && config_.weight_distance >= 0 && config_.weight_load >= 0 &&
                        config_.weight_rating >= 0;
  if (prunable) {
    // Staged search: the inner half of the circle (a quarter of its area) first. Every agency
    // outside it is farther than `search`, so its score is at least the distance term of
    // `search`; if that is worse than the k-th best found, the list is final. (A quarter-radius
    // stage first was measured: it rarely decides and costs sparse categories a query.)
    const double search = radius * 0.5;
    agencies_.within(r.lat, r.lon, radius, r.category, near_, search);
    const size_t keep = score_near(radius, k, true);
    if (keep == k && distance_floor(search, radius) > scored_[k - 1].score) return keep;
  }
  agencies_.within(r.lat, r.lon, radius, r.category, near_);
  return score_near(radius, k, prunable);
}

double Dispatcher::distance_floor(double d, double radius) const {
  return std::round(config_.weight_distance * (d / radius) * 1e6) / 1e6;
}

size_t Dispatcher::score_near(double radius, size_t k, bool prunable) {
  scored_.clear();
  auto add = [&](const std::pair<AgencyEntry*, double>& n) {
    AgencyEntry* e = n.first;
    if (!e->active || e->capacity <= 0) return;
    scored_.push_back({score_of(*e, n.second, radius), e->record.offers(), e});
  };
  // Pruning (same result as scoring every agency in near_): an agency's quantised score is at
  // least that of its distance term alone (the other terms are never negative; IEEE addition,
  // multiplication and rounding are monotone). Score the 2k nearest; if k of them are
  // eligible, the k-th best of their scores bounds the k-th best overall, and an agency whose
  // distance term alone is above that bound cannot make the list.
  if (!prunable || near_.size() <= 2 * k) {
    for (const auto& n : near_) add(n);
  } else {
    auto by_distance = [](const auto& x, const auto& y) { return x.second < y.second; };
    const auto first = near_.begin() + static_cast<std::ptrdiff_t>(2 * k);
    std::nth_element(near_.begin(), first, near_.end(), by_distance);
    for (auto it = near_.begin(); it != first; ++it) add(*it);
    if (scored_.size() < k) {
      for (auto it = first; it != near_.end(); ++it) add(*it);
    } else {
      bound_.clear();
      for (const auto& s : scored_) bound_.push_back(s.score);
      std::nth_element(bound_.begin(), bound_.begin() + static_cast<std::ptrdiff_t>(k - 1),
                       bound_.end());
      const double limit = bound_[k - 1];
      for (auto it = first; it != near_.end(); ++it) {
        if (distance_floor(it->second, radius) <= limit) add(*it);
      }
    }
  }
  // Ties: the agency that has been offered least so far, then by id (deterministic).
  auto better = [](const Scored& x, const Scored& y) {
    if (x.score != y.score) return x.score < y.score;
    if (x.offers != y.offers) return x.offers < y.offers;
    return x.agency->record.agency().agency_id() < y.agency->record.agency().agency_id();
  };
  const size_t keep = std::min(scored_.size(), k);
  std::partial_sort(scored_.begin(), scored_.begin() + static_cast<std::ptrdiff_t>(keep),
                    scored_.end(), better);
  return keep;
}

void Dispatcher::transition(OrderRecord& o, OrderState state, TimeMs ts,
                            const std::string& reason) {
  o.set_state(state);
  // Built in place in the history (no copy), then emitted from there.
  vigil::v1::OrderEvent& ev = *o.add_history();
  ev.set_order_id(o.order_id());
  ev.set_elder_id(o.elder_id());
  ev.set_agency_id(o.agency_id());
  ev.set_state(state);
  set_ts(ev.mutable_ts(), ts);
  ev.set_reason(reason);
  dirty_orders_.insert(o.order_id());
  sink_.emit(OutTopic::kTracking, o.order_id(), ev);
  if (!awaiting_arrival(state)) {
    o.set_late_due_ms(0);
    if (o.late_active()) close_late(o, ts);
  }
  // An ended order closes `closed_after` after its last transition (a later one, e.g. RATED
  // after COMPLETED, arms a later closing and the earlier one finds the order not yet closed).
  if (terminal(state)) timers_.arm(ts + config_.closed_after, kClose, 0, 0, o.order_id());
}

bool Dispatcher::closed(const OrderRecord& o, TimeMs now) const {
  if (!terminal(o.state()) || o.history().empty()) return false;
  return now >= to_ms(o.history(o.history_size() - 1).ts()) + config_.closed_after;
}

Status Dispatcher::closed_error(const std::string& order_id) const {
  return make_error(Errc::kRejected, "order " + order_id + " is closed: it ended more than " +
                                         std::to_string(config_.closed_after / kHour) +
                                         " h ago (dispatch.closed_after_days)");
}

void Dispatcher::close_order(std::unordered_map<std::string, OrderRecord>::iterator it) {
  const OrderRecord& o = it->second;
  if (dirty_orders_.erase(it->first) != 0) {
    closing_writes_.push_back({it->first, o.elder_id(), o.SerializeAsString(), task_of_region(o.region())});
  }
  closed_.add(it->first);
  orders_.erase(it);
}

void Dispatcher::create_order(const OrderRequest& r, TimeMs now) {
  // Idempotent: the same request twice is one order, also once that order is closed.
  if (orders_.count(r.order_id) || closed_.contains(r.order_id)) return;
  OrderRecord& o = orders_[r.order_id];
  o.set_order_id(r.order_id);
  o.set_elder_id(r.elder_id);
  o.set_category(r.category);
  o.set_priority(r.priority);
  o.set_lat(r.lat);
  o.set_lon(r.lon);
  o.set_has_location(r.has_location);
  set_ts(o.mutable_window_start(), r.window_start ? r.window_start : r.created);
  if (r.window_end) set_ts(o.mutable_window_end(), r.window_end);
  o.set_alarm_id(r.alarm_id);
  o.set_region(r.region);
  metrics().orders_created.add();
  transition(o, vigil::v1::CREATED, now,
             r.alarm_id.empty() ? "service_request" : "alarm " + r.alarm_id);
  const size_t keep = rank_into_scored(r);
  for (size_t i = 0; i < keep; ++i) {
    o.add_candidates(scored_[i].agency->record.agency().agency_id());
    o.add_offered(0);
  }
  if (o.candidates().empty()) {
    escalate(o, now, r.has_location ? "no_candidate" : "no_location");
    return;
  }
  arm_late(o, now);
  offer_next(o, now, "");
}

void Dispatcher::offer_next(OrderRecord& o, TimeMs now, const std::string& reason) {
  const int n = o.candidates_size();
  if (o.offered_size() != n) o.mutable_offered()->Resize(n, 0);  // a record from before `offered`
  const auto max_offers = static_cast<uint32_t>(config_.offers_per_candidate);
  // Walk the ranked list round-robin from the candidate after the last one offered. An agency
  // full or inactive at its turn is passed over without using up one of its offers.
  bool offers_left = false;
  for (int step = 0; step < n; ++step) {
    const int i = static_cast<int>((o.next_candidate() + static_cast<uint32_t>(step)) %
                                   static_cast<uint32_t>(n));
    if (o.offered(i) >= max_offers) continue;
    offers_left = true;
    const std::string& id = o.candidates(i);
    AgencyEntry* a = agencies_.find(id);
    if (a == nullptr || !a->active || !a->has_room()) continue;
    o.set_offered(i, o.offered(i) + 1);
    o.set_next_candidate(static_cast<uint32_t>((i + 1) % n));
    o.set_attempt(o.attempt() + 1);
    a->pending++;
    a->record.set_offers(a->record.offers() + 1);
    a->dirty = true;
    o.set_agency_id(id);
    const TimeMs expires = now + offer_timeout(o);
    o.set_offer_expires_ms(expires);
    // A reused message: Clear() keeps its strings' and timestamps' storage, so an offer
    // allocates nothing once the first is built.
    vigil::v1::DispatchOffer& offer = offer_;
    offer.Clear();
    offer.set_order_id(o.order_id());
    offer.set_agency_id(id);
    offer.set_elder_id(o.elder_id());
    offer.set_category(o.category());
    offer.set_priority(o.priority());
    offer.set_lat(o.lat());
    offer.set_lon(o.lon());
    *offer.mutable_window_start() = o.window_start();
    if (o.has_window_end()) *offer.mutable_window_end() = o.window_end();
    set_ts(offer.mutable_offered_at(), now);
    set_ts(offer.mutable_expires_at(), expires);
    offer.set_attempt(o.attempt());
    metrics().orders_offered.add();
    sink_.emit(OutTopic::kDispatch, id, offer);
    transition(o, vigil::v1::OFFERED, now, reason);
    timers_.arm(expires, kOfferExpiry, 0, o.attempt(), o.order_id());
    return;
  }
  // Every candidate had its offers, or those with offers left are all full or inactive now:
  // waiting for capacity could take hours, so a person takes over at once.
  o.set_agency_id("");
  escalate(o, now, offers_left ? "no_agency_free" : "no_agency_accepted");
}

void Dispatcher::escalate(OrderRecord& o, TimeMs now, const std::string& reason) {
  o.set_offer_expires_ms(0);
  transition(o, vigil::v1::ESCALATED, now, reason);
  metrics().orders_escalated.add();
  vigil::v1::OperatorTask task;
  task.set_task_id("esc-" + o.order_id());
  task.set_kind("escalation");
  task.set_elder_id(o.elder_id());
  task.set_alarm_id(o.alarm_id());
  task.set_order_id(o.order_id());
  task.set_priority(o.priority() == vigil::v1::NORMAL ? vigil::v1::URGENT : vigil::v1::EMERGENCY);
  set_ts(task.mutable_created_at(), now);
  task.set_message("order " + o.order_id() + " (" + o.category() +
                   ") needs an operator: " + reason);
  sink_.emit(OutTopic::kOperator, o.elder_id(), task);
}

void Dispatcher::release(OrderRecord& o) {
  AgencyEntry* a = agencies_.find(o.agency_id());
  if (a == nullptr) return;
  if (o.state() == vigil::v1::OFFERED) {
    a->pending = std::max(0, a->pending - 1);
  } else if (rank(o.state()) >= 1 && rank(o.state()) <= 4) {
    a->record.set_load(std::max(0, a->record.load() - 1));
  }
  a->dirty = true;
}

Status Dispatcher::on_agency_update(const AgencyUpdate& u, TimeMs now) {
  auto it = orders_.find(u.order_id());
  if (it == orders_.end()) {
    if (closed_.contains(u.order_id())) return closed_error(u.order_id());
    return make_error(Errc::kNotFound, "unknown order " + u.order_id());
  }
  before_change(it->first);
  OrderRecord& o = it->second;
  if (closed(o, now)) return closed_error(o.order_id());  // as if already let go of
  if (o.agency_id() != u.agency_id() || o.agency_id().empty()) {
    return make_error(Errc::kRejected, "agency " + u.agency_id() +
                                           " is not offered or assigned order " + o.order_id());
  }
  const std::string note = u.note();
  switch (u.status()) {
    case AgencyUpdate::ACCEPTED:
    case AgencyUpdate::DECLINED: {
      if (o.state() != vigil::v1::OFFERED) {
        return make_error(Errc::kRejected, "order " + o.order_id() + " is " +
                                               order_state_name(o.state()) + ", not OFFERED");
      }
      AgencyEntry* a = agencies_.find(o.agency_id());
      o.set_offer_expires_ms(0);
      if (u.status() == AgencyUpdate::ACCEPTED) {
        if (a) {
          a->pending = std::max(0, a->pending - 1);
          a->record.set_load(a->record.load() + 1);
          a->dirty = true;
        }
        metrics().orders_accepted.add();
        if (u.has_eta()) o.set_eta_ms(to_ms(u.eta()));
        transition(o, vigil::v1::ACCEPTED, now, note);
        arm_late(o, now);
      } else {
        if (a) {
          a->pending = std::max(0, a->pending - 1);
          a->dirty = true;
        }
        offer_next(o, now, u.agency_id() + " declined");
      }
      return ok();
    }
    case AgencyUpdate::EN_ROUTE:
    case AgencyUpdate::ARRIVED:
    case AgencyUpdate::IN_SERVICE:
    case AgencyUpdate::COMPLETED:
    case AgencyUpdate::FAILED: {
      OrderState target =
          static_cast<OrderState>(u.status() == AgencyUpdate::EN_ROUTE     ? vigil::v1::EN_ROUTE
                                  : u.status() == AgencyUpdate::ARRIVED    ? vigil::v1::ARRIVED
                                  : u.status() == AgencyUpdate::IN_SERVICE ? vigil::v1::IN_SERVICE
                                  : u.status() == AgencyUpdate::COMPLETED  ? vigil::v1::COMPLETED
                                                                           : vigil::v1::FAILED);
      const int from = rank(o.state());
      const bool legal =
          from >= 1 && from <= 4 && (target == vigil::v1::FAILED || rank(target) > from);
      if (!legal) {
        return make_error(Errc::kRejected, std::string("order ") + o.order_id() +
                                               " cannot go from " + order_state_name(o.state()) +
                                               " to " + order_state_name(target));
      }
      if (target == vigil::v1::COMPLETED || target == vigil::v1::FAILED) {
        release(o);
        if (target == vigil::v1::COMPLETED) metrics().orders_completed.add();
      }
      if (target == vigil::v1::EN_ROUTE && u.has_eta()) o.set_eta_ms(to_ms(u.eta()));
      transition(o, target, now, note);
      if (target == vigil::v1::EN_ROUTE) arm_late(o, now);
      return ok();
    }
    default:
      return make_error(Errc::kInvalidInput, "AgencyUpdate without a status");
  }
}

Status Dispatcher::on_order_action(const OrderActionRequest& r, TimeMs now) {
  const auto& act = r.action;
  auto it = orders_.find(act.order_id());
  // Closed orders are refused before the elder check: a let-go order's elder is not known.
  if (it == orders_.end() ? closed_.contains(act.order_id()) : closed(it->second, now)) {
    return closed_error(act.order_id());
  }
  if (it == orders_.end() || it->second.elder_id() != r.elder_id) {
    return make_error(Errc::kNotFound,
                      "unknown order " + act.order_id() + " for elder " + r.elder_id);
  }
  before_change(it->first);
  OrderRecord& o = it->second;
  if (act.action() == vigil::v1::OrderAction::CANCEL) {
    if (!cancellable(o.state())) {
      return make_error(Errc::kRejected,
                        "order " + o.order_id() + " is already " + order_state_name(o.state()));
    }
    release(o);
    o.set_offer_expires_ms(0);
    transition(o, vigil::v1::CANCELLED, now, act.note().empty() ? "cancelled" : act.note());
    return ok();
  }
  if (act.action() == vigil::v1::OrderAction::RATE) {
    if (o.state() != vigil::v1::COMPLETED) {
      return make_error(Errc::kRejected, "order " + o.order_id() + " is " +
                                             order_state_name(o.state()) +
                                             "; only COMPLETED orders are rated");
    }
    if (act.rating() < 1 || act.rating() > 5) {
      return make_error(Errc::kInvalidInput,
                        "rating must be 1..5, got " + std::to_string(act.rating()));
    }
    if (AgencyEntry* a = agencies_.find(o.agency_id())) {
      // Exponential moving average: recent service counts most, one rating moves it by 10%.
      auto* ag = a->record.mutable_agency();
      ag->set_rating(ag->rating() * 0.9 + act.rating() * 0.1);
      a->record.set_ratings(a->record.ratings() + 1);
      a->refresh();
      a->dirty = true;
    }
    transition(o, vigil::v1::RATED, now, "rating " + std::to_string(act.rating()));
    return ok();
  }
  return make_error(Errc::kInvalidInput, "OrderAction without an action");
}

void Dispatcher::advance_to(TimeMs now) {
  pipeline::Timer t;
  while (timers_.pop_due(now, &t)) {
    auto it = orders_.find(t.key);
    if (it == orders_.end()) continue;
    before_change(it->first);
    OrderRecord& o = it->second;
    if (t.kind == kClose) {  // emits nothing: only memory changes
      if (closed(o, now)) close_order(it);
      continue;
    }
    if (tasks_on()) sink_.set_task(task_of_region(o.region()));
    if (t.kind == kLateDeadline) {
      // Stale unless this is still the order's deadline and nobody has arrived.
      if (o.late_due_ms() != t.due || !awaiting_arrival(o.state())) continue;
      metrics().timers_fired.add();
      raise_late(o, t.due);
      continue;
    }
    // Stale unless the same offer is still out.
    if (o.state() != vigil::v1::OFFERED || o.attempt() != t.generation ||
        o.offer_expires_ms() != t.due) {
      continue;
    }
    metrics().timers_fired.add();
    if (AgencyEntry* a = agencies_.find(o.agency_id())) {
      a->pending = std::max(0, a->pending - 1);
      a->dirty = true;
    }
    const std::string who = o.agency_id();
    offer_next(o, t.due, who + " did not answer in time");
  }
}

const OrderRecord* Dispatcher::order(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? nullptr : &it->second;
}

void Dispatcher::collect_dirty(state::StateOps& ops) {
  begin_snapshot(ops);
  continue_snapshot(SIZE_MAX);
}

void Dispatcher::begin_snapshot(state::StateOps& ops) {
  if (snap_ops_ != nullptr) continue_snapshot(SIZE_MAX);  // never two at once
  snap_ops_ = &ops;
  for (auto& w : closing_writes_) {
    ops.put(order_key(w.order_id), std::move(w.value), w.task);
    ops.put(elder_order_key(w.elder_id, w.order_id), "", w.task);
  }
  closing_writes_.clear();
  // Agencies at once: a few hundred, and changed by nearly every order event (load, offers).
  agencies_.for_each([&](AgencyEntry& e) {
    if (!e.dirty) return;
    ops.puts.add_with("g/" + e.record.agency().agency_id(),
                      task_of_region(e.record.agency().region()),
                      [&](std::string& out) { e.record.AppendToString(&out); });
    e.dirty = false;
  });
  owed_.swap(dirty_orders_);  // owed_ is empty here: dirty_orders_ starts the next epoch empty
}

bool Dispatcher::continue_snapshot(size_t budget) {
  if (snap_ops_ == nullptr) return true;
  for (size_t done = 0; done < budget && !owed_.empty(); ++done) write_owed(owed_.begin());
  if (!owed_.empty()) return false;
  snap_ops_ = nullptr;
  return true;
}

void Dispatcher::write_owed(std::unordered_set<std::string>::iterator owed) {
  const std::string& id = *owed;
  if (auto it = orders_.find(id); it != orders_.end()) {
    const OrderRecord& o = it->second;
    const int32_t task = task_of_region(o.region());
    // Serialised straight into the checkpoint's buffer (no string per order).
    snap_ops_->puts.add_with(order_key(id), task,
                             [&](std::string& out) { o.AppendToString(&out); });
    snap_ops_->put(elder_order_key(o.elder_id(), id), "", task);
  }
  owed_.erase(owed);
}

bool Dispatcher::load_agency(std::string_view v) {
  vigil::state::AgencyRecord r;
  if (!r.ParseFromArray(v.data(), static_cast<int>(v.size()))) return false;
  agencies_.restore(r);
  return true;
}

bool Dispatcher::load_order(std::string_view k, std::string_view v, TimeMs now, bool write) {
  OrderRecord o;
  if (!o.ParseFromArray(v.data(), static_cast<int>(v.size()))) return false;
  if (closed(o, now)) {
    closed_.add(k);
    if (write) {
      closing_writes_.push_back({std::string(k), o.elder_id(), std::string(v), task_of_region(o.region())});
    }
    return true;
  }
  if (terminal(o.state()) && !o.history().empty()) {
    timers_.arm(to_ms(o.history(o.history_size() - 1).ts()) + config_.closed_after, kClose, 0, 0,
                o.order_id());
  }
  if (o.state() == vigil::v1::OFFERED && o.offer_expires_ms() != 0) {
    timers_.arm(o.offer_expires_ms(), kOfferExpiry, 0, o.attempt(), o.order_id());
    if (AgencyEntry* a = agencies_.find(o.agency_id())) a->pending++;
  }
  if (o.late_due_ms() != 0) timers_.arm(o.late_due_ms(), kLateDeadline, 0, 0, o.order_id());
  orders_.emplace(std::string(k), std::move(o));
  return true;
}

Status Dispatcher::load(const state::StateStore& store, TimeMs now) {
  auto s = store.scan("g/", [&](std::string_view, std::string_view v) { load_agency(v); });
  if (!s) return s;
  return store.scan("d/", [&](std::string_view k, std::string_view v) { load_order(k, v, now, false); });
}

}  // namespace vigil::dispatch
