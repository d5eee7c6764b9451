#include "engine/api/views.h"

#include <algorithm>

#include "engine/core/time_util.h"

namespace vigil::api {

using vigil::v1::AlarmEvent;
using vigil::v1::DispatchOffer;
using vigil::v1::OperatorTask;
using vigil::v1::OrderEvent;

namespace {

constexpr TimeMs kDay = 24 * kHour;
int64_t day_of(TimeMs t) { return t >= 0 ? t / kDay : (t - kDay + 1) / kDay; }
size_t sev_index(int s) { return static_cast<size_t>(s) < 5 ? static_cast<size_t>(s) : 0; }
size_t status_index(int s) { return static_cast<size_t>(s) < 6 ? static_cast<size_t>(s) : 0; }
size_t state_index(int s) { return static_cast<size_t>(s) < 12 ? static_cast<size_t>(s) : 0; }
bool is_active(vigil::v1::AlarmStatus s) {
  return s == vigil::v1::ACTIVE_UNACK || s == vigil::v1::ACTIVE_ACK;
}

// Keeps the first record (the raise) and the newest ones.
template <class T>
void push_capped(std::vector<T>& v, const T& item, size_t cap) {
  if (cap > 1 && v.size() >= cap) v.erase(v.begin() + 1);
  v.push_back(item);
}

}  // namespace

bool OrderView::visible_to_agency(const std::string& agency) const {
  return agency_id == agency ||
         std::find(offered_to.begin(), offered_to.end(), agency) != offered_to.end();
}

bool ViewStore::finished(vigil::v1::OrderState s) {
  return s == vigil::v1::COMPLETED || s == vigil::v1::RATED || s == vigil::v1::CANCELLED ||
         s == vigil::v1::FAILED;
}

ViewStore::QueueKey ViewStore::key_of(const AlarmEvent& a) {
  return {static_cast<int>(a.severity()), to_ms(a.raised_at()), a.alarm_id()};
}

void ViewStore::count_day(std::map<int64_t, uint64_t>& days, TimeMs ts) {
  ++days[day_of(ts)];
  while (days.size() > 3) days.erase(days.begin());
}

void ViewStore::apply(OutTopic topic, const google::protobuf::Message& msg) {
  if (topic == OutTopic::kOrders) return;  // internal (routed dispatch), not a console view
  std::lock_guard lock(mu_);
  ++counters_.records_out[static_cast<size_t>(topic) % 6];
  switch (topic) {
    case OutTopic::kAlarms: apply_alarm(static_cast<const AlarmEvent&>(msg)); break;
    case OutTopic::kDispatch: apply_offer(static_cast<const DispatchOffer&>(msg)); break;
    case OutTopic::kTracking: apply_order_event(static_cast<const OrderEvent&>(msg)); break;
    case OutTopic::kOperator: apply_task(static_cast<const OperatorTask&>(msg)); break;
    case OutTopic::kReminders:
    case OutTopic::kDeadletter:
    case OutTopic::kOrders: break;
  }
}

void ViewStore::apply_alarm(const AlarmEvent& a) {
  auto [it, fresh] = alarms_.try_emplace(a.alarm_id());
  AlarmEntry& entry = it->second;
  ElderEntry& elder = elders_[a.elder_id()];
  if (fresh) {
    ++counters_.alarms_total;
    count_day(alarm_days_, to_ms(a.raised_at()));
  } else {
    const AlarmEvent& old = entry.view.latest;
    --counters_.alarms_by_severity_status[sev_index(old.severity())][status_index(old.status())];
    if (is_active(old.status())) --counters_.active_by_severity[sev_index(old.severity())];
    open_.erase(key_of(old));
    elder.open.erase(key_of(old));
  }
  if (!entry.answered &&
      (a.status() == vigil::v1::ACTIVE_ACK || a.status() == vigil::v1::CLEARED_ACK)) {
    entry.answered = true;
    TimeMs wait = to_ms(a.updated_at()) - to_ms(a.raised_at());
    ++counters_.answered;
    if (wait <= 60 * kSecond) ++counters_.answered_within_60s;
    if (wait <= 180 * kSecond) ++counters_.answered_within_180s;
  }
  entry.view.latest = a;
  push_capped(entry.view.history, a, limits_.alarm_history);
  ++counters_.alarms_by_severity_status[sev_index(a.severity())][status_index(a.status())];
  if (is_active(a.status())) ++counters_.active_by_severity[sev_index(a.severity())];
  if (a.status() != vigil::v1::CLOSED) {
    open_.insert(key_of(a));
    elder.open.insert(key_of(a));
    return;
  }
  closed_.push_back(a.alarm_id());
  while (closed_.size() > limits_.closed_alarms) {
    auto old = alarms_.find(closed_.front());
    if (old != alarms_.end() && old->second.view.latest.status() == vigil::v1::CLOSED) {
      alarms_.erase(old);
    }
    closed_.pop_front();
  }
}

OrderView& ViewStore::order_entry(const std::string& order_id, const std::string& elder_id,
                                  TimeMs ts) {
  auto [it, fresh] = orders_.try_emplace(order_id);
  OrderView& o = it->second;
  if (fresh) {
    o.order_id = order_id;
    o.created_ms = ts;
    ++counters_.orders_total;
    count_day(order_days_, ts);
    order_seq_.push_back(order_id);
    if (order_seq_.size() > 2 * orders_.size() + 1024) {
      std::deque<std::string> kept;
      for (auto& id : order_seq_) {
        if (orders_.count(id)) kept.push_back(std::move(id));
      }
      order_seq_.swap(kept);
    }
  }
  if (o.elder_id.empty() && !elder_id.empty()) {
    o.elder_id = elder_id;
    auto& list = elders_[elder_id].orders;
    list.push_back(order_id);
    if (list.size() > limits_.orders_per_elder) list.pop_front();
  }
  return o;
}

void ViewStore::apply_offer(const DispatchOffer& offer) {
  ++counters_.offers;
  ++counters_.agencies[offer.agency_id()].offers;
  OrderView& o = order_entry(offer.order_id(), offer.elder_id(), to_ms(offer.offered_at()));
  if (!offer.category().empty()) o.category = offer.category();
  o.priority = offer.priority();
  if (offer.has_window_end()) o.window_end_ms = to_ms(offer.window_end());
  o.agency_id = offer.agency_id();
  if (std::find(o.offered_to.begin(), o.offered_to.end(), offer.agency_id()) == o.offered_to.end()) {
    o.offered_to.push_back(offer.agency_id());
  }
  push_capped(o.offers, offer, limits_.order_timeline);
  auto& list = offers_[offer.agency_id()];
  list.push_back(offer);
  if (list.size() > limits_.offers_per_agency) list.pop_front();
}

void ViewStore::apply_order_event(const OrderEvent& e) {
  TimeMs ts = to_ms(e.ts());
  OrderView& o = order_entry(e.order_id(), e.elder_id(), ts);
  if (o.state != vigil::v1::ORDER_STATE_UNSPECIFIED) --counters_.orders_by_state[state_index(o.state)];
  ++counters_.orders_by_state[state_index(e.state())];
  if (e.state() == vigil::v1::ACCEPTED) {
    ++counters_.offers_accepted;
    ++counters_.agencies[e.agency_id()].accepted;
  }
  if (e.state() == vigil::v1::ARRIVED && o.window_end_ms > 0) {
    AgencyCounters& agency = counters_.agencies[e.agency_id()];
    ++counters_.arrived;
    ++agency.arrived;
    if (ts <= o.window_end_ms) {
      ++counters_.arrived_on_time;
      ++agency.arrived_on_time;
    }
  }
  o.state = e.state();
  o.updated_ms = ts;
  if (!e.agency_id().empty()) o.agency_id = e.agency_id();
  push_capped(o.timeline, e, limits_.order_timeline);
  if (!finished(e.state()) || !finished_set_.insert(e.order_id()).second) return;
  finished_.push_back(e.order_id());
  while (finished_.size() > limits_.finished_orders) {
    const std::string& id = finished_.front();
    auto old = orders_.find(id);
    // Its state stays counted: finished states count every order that ended there.
    if (old != orders_.end()) orders_.erase(old);
    finished_set_.erase(id);
    finished_.pop_front();
  }
}

void ViewStore::apply_task(const OperatorTask& t) {
  ++counters_.tasks_total;
  tasks_.push_back(t);
  if (tasks_.size() > limits_.tasks) tasks_.pop_front();
  auto& list = elders_[t.elder_id()].tasks;
  list.push_back(t);
  if (list.size() > 20) list.pop_front();
}

std::vector<AlarmEvent> ViewStore::alarms(const AlarmFilter& f) const {
  std::vector<AlarmEvent> out;
  auto matches = [&](const AlarmEvent& a) {
    return (!f.severity || a.severity() == *f.severity) &&
           (f.elder_id.empty() || a.elder_id() == f.elder_id) &&
           (f.rule_id.empty() || a.rule_id() == f.rule_id);
  };
  std::lock_guard lock(mu_);
  const bool open_only = f.status == "open";
  vigil::v1::AlarmStatus wanted = vigil::v1::ALARM_STATUS_UNSPECIFIED;
  if (!open_only && f.status != "all") vigil::v1::AlarmStatus_Parse(f.status, &wanted);
  if (wanted != vigil::v1::CLOSED) {
    const std::set<QueueKey>* queue = &open_;
    if (!f.elder_id.empty()) {
      auto e = elders_.find(f.elder_id);
      if (e == elders_.end()) return out;
      queue = &e->second.open;
    }
    for (const auto& key : *queue) {
      if (out.size() >= f.limit) return out;
      const AlarmEvent& a = alarms_.at(std::get<2>(key)).view.latest;
      if (matches(a) && (wanted == vigil::v1::ALARM_STATUS_UNSPECIFIED || a.status() == wanted)) {
        out.push_back(a);
      }
    }
  }
  if (open_only || (wanted != vigil::v1::ALARM_STATUS_UNSPECIFIED && wanted != vigil::v1::CLOSED)) {
    return out;
  }
  for (auto it = closed_.rbegin(); it != closed_.rend() && out.size() < f.limit; ++it) {
    auto a = alarms_.find(*it);
    if (a != alarms_.end() && a->second.view.latest.status() == vigil::v1::CLOSED &&
        matches(a->second.view.latest)) {
      out.push_back(a->second.view.latest);
    }
  }
  return out;
}

std::optional<AlarmView> ViewStore::alarm(const std::string& alarm_id) const {
  std::lock_guard lock(mu_);
  auto it = alarms_.find(alarm_id);
  if (it == alarms_.end()) return std::nullopt;
  return it->second.view;
}

std::vector<OrderView> ViewStore::orders(vigil::v1::OrderState state, const std::string& agency,
                                         size_t limit, bool with_timeline) const {
  std::vector<OrderView> out;
  std::lock_guard lock(mu_);
  for (auto it = order_seq_.rbegin(); it != order_seq_.rend() && out.size() < limit; ++it) {
    auto o = orders_.find(*it);
    if (o == orders_.end()) continue;
    if (state != vigil::v1::ORDER_STATE_UNSPECIFIED && o->second.state != state) continue;
    if (!agency.empty() && !o->second.visible_to_agency(agency)) continue;
    out.push_back(o->second);
    if (!with_timeline) {
      out.back().timeline.clear();
      out.back().offers.clear();
    }
  }
  return out;
}

std::optional<OrderView> ViewStore::order(const std::string& order_id) const {
  std::lock_guard lock(mu_);
  auto it = orders_.find(order_id);
  if (it == orders_.end()) return std::nullopt;
  return it->second;
}

std::vector<OperatorTask> ViewStore::tasks(size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<OperatorTask> out;
  for (auto it = tasks_.rbegin(); it != tasks_.rend() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

std::optional<ElderView> ViewStore::elder(const std::string& elder_id, size_t limit) const {
  std::lock_guard lock(mu_);
  auto it = elders_.find(elder_id);
  if (it == elders_.end()) return std::nullopt;
  ElderView v;
  v.elder_id = elder_id;
  for (const auto& key : it->second.open) {
    if (v.active_alarms.size() >= limit) break;
    v.active_alarms.push_back(alarms_.at(std::get<2>(key)).view.latest);
  }
  const auto& ids = it->second.orders;
  for (auto id = ids.rbegin(); id != ids.rend() && v.orders.size() < limit; ++id) {
    auto o = orders_.find(*id);
    if (o == orders_.end()) continue;
    v.orders.push_back(o->second);
    v.orders.back().timeline.clear();
    v.orders.back().offers.clear();
  }
  const auto& tasks = it->second.tasks;
  for (auto t = tasks.rbegin(); t != tasks.rend() && v.tasks.size() < limit; ++t) v.tasks.push_back(*t);
  return v;
}

std::vector<OfferView> ViewStore::offers_of(const std::string& agency_id, size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<OfferView> out;
  auto it = offers_.find(agency_id);
  if (it == offers_.end()) return out;
  for (auto o = it->second.rbegin(); o != it->second.rend() && out.size() < limit; ++o) {
    OfferView v{*o, false};
    auto order = orders_.find(o->order_id());
    if (order != orders_.end() && order->second.state == vigil::v1::OFFERED &&
        !order->second.offers.empty() && order->second.offers.back().agency_id() == agency_id &&
        order->second.offers.back().attempt() == o->attempt()) {
      v.pending = true;
    }
    out.push_back(std::move(v));
  }
  return out;
}

ViewCounters ViewStore::counters() const {
  int64_t today = day_of(clock_.now_ms());
  std::lock_guard lock(mu_);
  ViewCounters c = counters_;
  auto a = alarm_days_.find(today);
  c.alarms_today = a == alarm_days_.end() ? 0 : a->second;
  auto o = order_days_.find(today);
  c.orders_today = o == order_days_.end() ? 0 : o->second;
  return c;
}

}  // namespace vigil::api
