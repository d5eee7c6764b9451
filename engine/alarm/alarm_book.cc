#include "engine/alarm/alarm_book.h"

#include <algorithm>

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"

namespace vigil::alarm {

using vigil::v1::AlarmAction;
using vigil::v1::AlarmEvent;

namespace {
bool is_active(const AlarmEvent& a) {
  return a.status() == vigil::v1::ACTIVE_UNACK || a.status() == vigil::v1::ACTIVE_ACK;
}
vigil::v1::Priority task_priority(vigil::v1::Severity s) {
  switch (s) {
    case vigil::v1::CRITICAL: return vigil::v1::EMERGENCY;
    case vigil::v1::MAJOR: return vigil::v1::URGENT;
    default: return vigil::v1::NORMAL;
  }
}
}  // namespace

const AlarmEvent* AlarmBook::active(const registry::ElderState& e, const std::string& rule_id) {
  for (const auto& a : e.alarms) {
    if (a.rule_id() == rule_id && is_active(a)) return &a;
  }
  return nullptr;
}

void AlarmBook::emit(const AlarmEvent& a) {
  sink_.emit(OutTopic::kAlarms, a.elder_id(), a);
  // h/<elder>/<raised_at>/<alarm_id>/<updated_at>.<status>.<count>: an elder's alarms in raise
  // order, each alarm's records in order; derived from the record, so a restart that emits the
  // same record again overwrites it rather than adding a copy.
  char key[96];
  std::snprintf(key, sizeof key, "/%013lld/", static_cast<long long>(to_ms(a.raised_at())));
  char tail[64];
  std::snprintf(tail, sizeof tail, "/%013lld.%d.%010u", static_cast<long long>(to_ms(a.updated_at())),
                static_cast<int>(a.status()), a.count());
  history_.emplace_back("h/" + a.elder_id() + key + a.alarm_id() + tail, a.SerializeAsString());
}

void AlarmBook::raise(registry::ElderState& e, const rules::Rule& rule, std::string_view device_id,
                      TimeMs ts, const std::string& message) {
  e.dirty = true;
  for (auto& a : e.alarms) {
    if (a.rule_id() == rule.id && is_active(a)) {
      a.set_count(a.count() + 1);
      set_ts(a.mutable_updated_at(), ts);
      a.set_message(message);
      metrics().alarm_repeats.add();
      emit(a);
      return;
    }
  }
  const uint32_t n = ++e.alarm_seq[rule.id];
  registry::AlarmMeta& meta = e.alarm_meta[rule.id];
  meta.escalated = 0;
  meta.held = false;
  if (meta.flap_start != 0 && ts - meta.flap_start <= config_.flap_window) {
    meta.flaps++;  // cleared and raised again inside the window
  } else {
    meta.flap_start = ts;
    meta.flaps = 0;
  }
  AlarmEvent a;
  a.set_alarm_id(std::string(e.profile.elder_id()) + ":" + rule.id + ":" + std::to_string(n));
  a.set_elder_id(std::string(e.profile.elder_id()));
  a.set_device_id(std::string(device_id));
  a.set_rule_id(rule.id);
  a.set_severity(rule.severity);
  a.set_status(vigil::v1::ACTIVE_UNACK);
  set_ts(a.mutable_raised_at(), ts);
  set_ts(a.mutable_updated_at(), ts);
  a.set_count(1);
  a.set_message(message);
  if (!rule.actions.dispatch.empty()) a.set_order_id(dispatch::order_id_for_alarm(a.alarm_id()));
  metrics().alarms_raised.add();
  answers_.on_raise(a.severity(), ts);
  emit(a);

  const bool urgent = rule.severity == vigil::v1::CRITICAL || rule.severity == vigil::v1::MAJOR;
  const bool has_task = urgent || !rule.actions.operator_task.empty();
  if (!has_task) {
    // Only alarms that put a task in an operator's queue are chased when unanswered: a MINOR
    // or WARNING without a task escalating to EMERGENCY would be noise. Marked as fully
    // escalated so that a restart does not arm them either.
    meta.escalated = 2;
  } else {
    arm_escalation(a.elder_id(), 1, ts);
    vigil::v1::OperatorTask task;
    task.set_task_id("task-" + a.alarm_id());
    task.set_kind(rule.actions.operator_task.empty() ? "alarm" : rule.actions.operator_task);
    task.set_elder_id(a.elder_id());
    task.set_alarm_id(a.alarm_id());
    task.set_order_id(a.order_id());
    task.set_priority(task_priority(rule.severity));
    set_ts(task.mutable_created_at(), ts);
    task.set_message(rule.id + ": " + message);
    sink_.emit(OutTopic::kOperator, a.elder_id(), task);
  }
  if (!rule.actions.reminder.empty()) {
    vigil::v1::Reminder r;
    r.set_elder_id(a.elder_id());
    r.set_device_id(std::string(device_id));
    r.set_kind(rule.actions.reminder);
    set_ts(r.mutable_ts(), ts);
    r.set_message(rule.description.empty() ? message : rule.description);
    sink_.emit(OutTopic::kReminders, a.elder_id(), r);
  }
  if (!rule.actions.dispatch.empty()) {
    dispatch::OrderRequest req;
    req.order_id = a.order_id();
    req.elder_id = a.elder_id();
    req.category = rule.actions.dispatch;
    req.alarm_id = a.alarm_id();
    req.priority = rule.severity == vigil::v1::CRITICAL ? vigil::v1::EMERGENCY : vigil::v1::URGENT;
    req.has_location = e.registered;
    req.lat = e.profile.home_lat();
    req.lon = e.profile.home_lon();
    req.created = ts;
    req.window_start = ts;
    req.region = std::string(e.profile.region());
    dispatch_.request_order(req);
  }
  e.alarms.push_back(std::move(a));
}

void AlarmBook::close_if_done(registry::ElderState& e, size_t index, TimeMs ts) {
  AlarmEvent& a = e.alarms[index];
  if (a.status() != vigil::v1::CLEARED_ACK) return;
  a.set_status(vigil::v1::CLOSED);
  emit(a);
  e.alarms.erase(e.alarms.begin() + static_cast<std::ptrdiff_t>(index));
}

void AlarmBook::auto_clear(registry::ElderState& e, const std::string& rule_id, TimeMs ts,
                           std::string_view reason) {
  for (size_t i = 0; i < e.alarms.size(); ++i) {
    AlarmEvent& a = e.alarms[i];
    if (a.rule_id() != rule_id || !is_active(a)) continue;
    registry::AlarmMeta& meta = e.alarm_meta[rule_id];
    if (meta.flap_start != 0 && ts - meta.flap_start <= config_.flap_window &&
        meta.flaps + 1 > config_.flap_limit) {
      // Flapping: hold it active instead of clearing and raising a new alarm every few
      // minutes. The first clear it absorbs counts as a recurrence (count + 1, one record that
      // says so); later ones are silent, so a calm stretch does not inflate the count. The next
      // clear after the window releases it.
      if (!meta.held) {
        meta.held = true;
        a.set_count(a.count() + 1);
        set_ts(a.mutable_updated_at(), ts);
        a.set_message("flapping: cleared " + std::to_string(meta.flaps + 1) + " times within " +
                      std::to_string(config_.flap_window / kSecond) + " s; held active");
        e.dirty = true;
        emit(a);
      }
      return;
    }
    meta.held = false;
    a.set_status(a.status() == vigil::v1::ACTIVE_ACK ? vigil::v1::CLEARED_ACK
                                                     : vigil::v1::CLEARED_UNACK);
    set_ts(a.mutable_updated_at(), ts);
    a.set_message("cleared: " + std::string(reason));
    e.dirty = true;
    metrics().alarms_cleared.add();
    emit(a);
    close_if_done(e, i, ts);
    return;
  }
}

Status AlarmBook::operator_action(registry::ElderState& e, const AlarmAction& act,
                                  const std::string& operator_id, TimeMs ts) {
  size_t i = 0;
  for (; i < e.alarms.size(); ++i) {
    const AlarmEvent& a = e.alarms[i];
    if (!act.alarm_id().empty() ? a.alarm_id() == act.alarm_id()
                                : (a.rule_id() == act.rule_id() && is_active(a))) {
      break;
    }
  }
  if (i == e.alarms.size()) {
    return make_error(Errc::kNotFound,
                      "no open alarm " +
                          (act.alarm_id().empty() ? "of rule " + act.rule_id() : act.alarm_id()) +
                          " for elder " + std::string(e.profile.elder_id()));
  }
  AlarmEvent& a = e.alarms[i];
  const std::string who = operator_id.empty() ? "operator" : operator_id;
  switch (act.action()) {
    case AlarmAction::ACK:
      if (a.status() == vigil::v1::ACTIVE_UNACK || a.status() == vigil::v1::CLEARED_UNACK) {
        answered(a, ts);
      }
      if (a.status() == vigil::v1::ACTIVE_UNACK) a.set_status(vigil::v1::ACTIVE_ACK);
      else if (a.status() == vigil::v1::CLEARED_UNACK) a.set_status(vigil::v1::CLEARED_ACK);
      else return make_error(Errc::kRejected, "alarm " + a.alarm_id() + " is already acknowledged");
      a.set_message("acknowledged by " + who + (act.note().empty() ? "" : ": " + act.note()));
      break;
    case AlarmAction::ASSIGN:
      if (act.assignee().empty()) {
        return make_error(Errc::kInvalidInput, "ASSIGN of alarm " + a.alarm_id() + " lacks assignee");
      }
      a.set_assignee(act.assignee());
      a.set_message("assigned to " + act.assignee() + " by " + who);
      break;
    case AlarmAction::CLEAR:
      // An operator who clears has seen it: cleared and acknowledged.
      if (a.status() == vigil::v1::ACTIVE_UNACK || a.status() == vigil::v1::CLEARED_UNACK) {
        answered(a, ts);
      }
      a.set_status(vigil::v1::CLEARED_ACK);
      a.set_message("cleared by " + who +
                    (act.resolution().empty() ? "" : ", resolution " + act.resolution()) +
                    (act.note().empty() ? "" : ": " + act.note()));
      metrics().alarms_cleared.add();
      break;
    case AlarmAction::ESCALATE: {
      vigil::v1::OperatorTask task;
      task.set_task_id("esc-" + a.alarm_id() + "-" + std::to_string(ts));
      task.set_kind("escalation");
      task.set_elder_id(a.elder_id());
      task.set_alarm_id(a.alarm_id());
      task.set_order_id(a.order_id());
      task.set_priority(vigil::v1::EMERGENCY);
      set_ts(task.mutable_created_at(), ts);
      task.set_message("escalated by " + who + (act.note().empty() ? "" : ": " + act.note()));
      sink_.emit(OutTopic::kOperator, a.elder_id(), task);
      a.set_message(task.message());
      break;
    }
    default:
      return make_error(Errc::kInvalidInput, "AlarmAction without an action");
  }
  set_ts(a.mutable_updated_at(), ts);
  e.dirty = true;
  emit(a);
  close_if_done(e, i, ts);
  return ok();
}

}  // namespace vigil::alarm

namespace vigil::alarm {

void AlarmBook::answered(const AlarmEvent& a, TimeMs ts) {
  answers_.on_answer(a.severity(), to_ms(a.raised_at()), ts);
}

void AlarmBook::arm_escalation(const std::string& elder_id, uint32_t stage, TimeMs raised_at) {
  const TimeMs delay = stage == 1 ? config_.first_escalation : config_.second_escalation;
  timers_.push(Due{raised_at + delay, next_seq_++, elder_id, stage});
}

void AlarmBook::escalate(registry::ElderState& e, AlarmEvent& a, uint32_t stage, TimeMs now) {
  registry::AlarmMeta& meta = e.alarm_meta[a.rule_id()];
  meta.escalated = stage;
  e.dirty = true;
  const TimeMs waited = now - to_ms(a.raised_at());
  vigil::v1::OperatorTask task;
  task.set_task_id("esc" + std::to_string(stage) + "-" + a.alarm_id());
  task.set_kind("escalation");
  task.set_elder_id(a.elder_id());
  task.set_alarm_id(a.alarm_id());
  task.set_order_id(a.order_id());
  task.set_priority(stage == 1 ? vigil::v1::URGENT : vigil::v1::EMERGENCY);
  set_ts(task.mutable_created_at(), now);
  task.set_message(a.rule_id() + " alarm " + a.alarm_id() + " unanswered for " +
                   std::to_string(waited / kSecond) + " s (" +
                   vigil::v1::Severity_Name(a.severity()) + ")");
  sink_.emit(OutTopic::kOperator, a.elder_id(), task);
  if (stage == 1) arm_escalation(a.elder_id(), 2, to_ms(a.raised_at()));
}

bool AlarmBook::advance_to(TimeMs now,
                           const std::function<registry::ElderState*(const std::string&)>& find,
                           size_t budget) {
  for (size_t fired = 0; !timers_.empty() && timers_.top().due <= now; ++fired) {
    if (fired == budget) return false;
    const Due d = timers_.top();
    timers_.pop();
    registry::ElderState* e = find(d.elder_id);
    if (e == nullptr) continue;
    const TimeMs delay = d.stage == 1 ? config_.first_escalation : config_.second_escalation;
    for (auto& a : e->alarms) {
      // Stale unless the same alarm is still unanswered and not yet escalated this far.
      if (a.status() != vigil::v1::ACTIVE_UNACK || to_ms(a.raised_at()) + delay != d.due) continue;
      if (e->alarm_meta[a.rule_id()].escalated >= d.stage) continue;
      escalate(*e, a, d.stage, d.due);
      break;
    }
  }
  return true;
}

void AlarmBook::rearm(const registry::ElderState& e) {
  for (const auto& a : e.alarms) {
    if (a.status() != vigil::v1::ACTIVE_UNACK) continue;
    auto it = e.alarm_meta.find(a.rule_id());
    const uint32_t done = it == e.alarm_meta.end() ? 0 : it->second.escalated;
    if (done < 2) arm_escalation(a.elder_id(), done + 1, to_ms(a.raised_at()));
  }
}

void AlarmBook::forget_elders(const std::function<bool(const std::string&)>& dropped) {
  std::vector<Due> kept;
  kept.reserve(timers_.size());
  while (!timers_.empty()) {
    if (!dropped(timers_.top().elder_id)) kept.push_back(timers_.top());
    timers_.pop();
  }
  for (auto& d : kept) timers_.push(std::move(d));  // same seq numbers: same firing order
}

void AlarmBook::begin_history() {
  snap_history_.swap(history_);  // history_ takes the moved list's capacity, emptied below
  history_.clear();
  snap_history_next_ = 0;
}

bool AlarmBook::move_history(state::StateOps& ops, size_t budget) {
  const size_t end =
      snap_history_next_ + std::min(budget, snap_history_.size() - snap_history_next_);
  for (; snap_history_next_ < end; ++snap_history_next_) {
    const auto& [k, v] = snap_history_[snap_history_next_];
    ops.put(k, v);
  }
  if (snap_history_next_ < snap_history_.size()) return false;
  snap_history_.clear();
  snap_history_next_ = 0;
  return true;
}

Result<std::vector<AlarmEvent>> load_alarm_history(const state::StateStore& store,
                                                    const std::string& elder_id) {
  std::vector<AlarmEvent> out;
  auto s = store.scan("h/" + elder_id + "/", [&](std::string_view, std::string_view v) {
    AlarmEvent a;
    if (a.ParseFromArray(v.data(), static_cast<int>(v.size()))) out.push_back(std::move(a));
  });
  if (!s) return s.error();
  return out;
}

}  // namespace vigil::alarm
