#include "engine/alarm/alarm_book.h"

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

void AlarmBook::emit(const registry::ElderState& e, const AlarmEvent& a) {
  sink_.emit(OutTopic::kAlarms, a.elder_id(), a);
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
      emit(e, a);
      return;
    }
  }
  const uint32_t n = ++e.alarm_seq[rule.id];
  AlarmEvent a;
  a.set_alarm_id(e.profile.elder_id() + ":" + rule.id + ":" + std::to_string(n));
  a.set_elder_id(e.profile.elder_id());
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
  emit(e, a);

  const bool urgent = rule.severity == vigil::v1::CRITICAL || rule.severity == vigil::v1::MAJOR;
  if (urgent || !rule.actions.operator_task.empty()) {
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
    dispatch_.request_order(req);
  }
  e.alarms.push_back(std::move(a));
}

void AlarmBook::close_if_done(registry::ElderState& e, size_t index, TimeMs ts) {
  AlarmEvent& a = e.alarms[index];
  if (a.status() != vigil::v1::CLEARED_ACK) return;
  a.set_status(vigil::v1::CLOSED);
  emit(e, a);
  e.alarms.erase(e.alarms.begin() + static_cast<std::ptrdiff_t>(index));
}

void AlarmBook::auto_clear(registry::ElderState& e, const std::string& rule_id, TimeMs ts,
                           std::string_view reason) {
  for (size_t i = 0; i < e.alarms.size(); ++i) {
    AlarmEvent& a = e.alarms[i];
    if (a.rule_id() != rule_id || !is_active(a)) continue;
    a.set_status(a.status() == vigil::v1::ACTIVE_ACK ? vigil::v1::CLEARED_ACK
                                                     : vigil::v1::CLEARED_UNACK);
    set_ts(a.mutable_updated_at(), ts);
    a.set_message("cleared: " + std::string(reason));
    e.dirty = true;
    metrics().alarms_cleared.add();
    emit(e, a);
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
                          " for elder " + e.profile.elder_id());
  }
  AlarmEvent& a = e.alarms[i];
  const std::string who = operator_id.empty() ? "operator" : operator_id;
  switch (act.action()) {
    case AlarmAction::ACK:
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
  emit(e, a);
  close_if_done(e, i, ts);
  return ok();
}

}  // namespace vigil::alarm
