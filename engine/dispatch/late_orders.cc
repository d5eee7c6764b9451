// Late orders (SPEC section 4): the `order_late` alarm and `late_order` task the dispatcher
// raises when nobody has arrived by an order's deadline, and operators' actions on that alarm,
// which the shards forward here because the dispatcher owns it.
#include <algorithm>

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/dispatch/dispatcher.h"

namespace vigil::dispatch {

using vigil::state::OrderRecord;

namespace {
//! Orders that can still be late: nobody has arrived and the dispatcher still follows them.
bool awaiting_arrival(vigil::v1::OrderState s) {
  return s == vigil::v1::CREATED || s == vigil::v1::OFFERED || s == vigil::v1::ACCEPTED ||
         s == vigil::v1::EN_ROUTE;
}
}  // namespace

void Dispatcher::arm_late(OrderRecord& o, TimeMs now) {
  if (o.late_raised_ms() != 0 || !awaiting_arrival(o.state())) return;  // late once per order
  // Emergencies are due at the agency's eta, others at their window end; each falls back on
  // the other when it has none.
  const TimeMs window_end = o.has_window_end() ? to_ms(o.window_end()) : 0;
  TimeMs deadline = o.priority() == vigil::v1::EMERGENCY ? (o.eta_ms() ? o.eta_ms() : window_end)
                                                         : (window_end ? window_end : o.eta_ms());
  if (deadline == 0) return;
  if (o.late_due_ms() != 0 && deadline == o.late_deadline_ms()) return;  // armed already
  const TimeMs due = std::max(deadline, now);
  o.set_late_due_ms(due);
  o.set_late_deadline_ms(deadline);
  dirty_orders_.insert(o.order_id());
  timers_.arm(due, kLateDeadline, 0, 0, o.order_id());
}

void Dispatcher::emit_late_alarm(const OrderRecord& o, vigil::v1::AlarmStatus status, TimeMs now,
                                 const std::string& message) {
  vigil::v1::AlarmEvent a;
  a.set_alarm_id(late_alarm_id(o));
  a.set_elder_id(o.elder_id());
  a.set_rule_id("order_late");
  a.set_severity(vigil::v1::MAJOR);
  a.set_status(status);
  set_ts(a.mutable_raised_at(), o.late_raised_ms());
  set_ts(a.mutable_updated_at(), now);
  a.set_count(1);
  a.set_message(message);
  a.set_order_id(o.order_id());
  a.set_assignee(o.late_assignee());
  sink_.emit(OutTopic::kAlarms, o.elder_id(), a);
}

void Dispatcher::raise_late(OrderRecord& o, TimeMs now) {
  o.set_late_due_ms(0);
  o.set_late_raised_ms(now);
  o.set_late_active(true);
  dirty_orders_.insert(o.order_id());
  // The same choice arm_late made: an emergency's eta, or the eta of an order with no window end.
  const bool by_eta =
      o.eta_ms() != 0 && (o.priority() == vigil::v1::EMERGENCY || !o.has_window_end());
  const std::string what =
      "order " + o.order_id() + " (" + o.category() + ") not arrived by its " +
      (by_eta ? "eta " : "window end ") + format_rfc3339(o.late_deadline_ms()) + ", " +
      order_state_name(o.state()) + (o.agency_id().empty() ? "" : " with " + o.agency_id());
  metrics().alarms_raised.add();
  emit_late_alarm(o, vigil::v1::ACTIVE_UNACK, now, what);
  vigil::v1::OperatorTask task;
  task.set_task_id("late-" + o.order_id());
  task.set_kind("late_order");
  task.set_elder_id(o.elder_id());
  task.set_alarm_id(late_alarm_id(o));
  task.set_order_id(o.order_id());
  task.set_priority(o.priority() == vigil::v1::EMERGENCY ? vigil::v1::EMERGENCY
                                                         : vigil::v1::URGENT);
  set_ts(task.mutable_created_at(), now);
  task.set_message("order_late: " + what);
  sink_.emit(OutTopic::kOperator, o.elder_id(), task);
}

void Dispatcher::close_late(OrderRecord& o, TimeMs now) {
  o.set_late_active(false);
  dirty_orders_.insert(o.order_id());
  // The late_order task is the operator's record, so the dispatcher clears the alarm (acked
  // or not, as an operator left it) and closes it at once.
  const std::string why = "order " + o.order_id() + " " + order_state_name(o.state());
  metrics().alarms_cleared.add();
  emit_late_alarm(o, o.late_acked() ? vigil::v1::CLEARED_ACK : vigil::v1::CLEARED_UNACK, now, why);
  emit_late_alarm(o, vigil::v1::CLOSED, now, why);
}

Status Dispatcher::on_late_alarm_action(const OrderActionRequest& r, TimeMs now) {
  using vigil::v1::AlarmAction;
  const AlarmAction& act = r.alarm_action;
  OrderRecord* found = nullptr;
  if (!act.alarm_id().empty()) {
    const std::string_view id = act.alarm_id();
    const size_t at = id.find(":order_late:");
    if (at != std::string_view::npos) {
      auto it = orders_.find(std::string(id.substr(at + 12)));
      if (it != orders_.end() && it->second.elder_id() == r.elder_id && it->second.late_active() &&
          late_alarm_id(it->second) == id) {
        found = &it->second;
      }
    }
  } else {
    // By rule: the elder's one open order_late alarm. A scan of the orders, but operator
    // actions are rare; with several open the operator must name the alarm.
    int open = 0;
    for (auto& [id, o] : orders_) {
      if (o.elder_id() == r.elder_id && o.late_active()) {
        found = &o;
        ++open;
      }
    }
    if (open > 1) {
      return make_error(Errc::kRejected, "elder " + r.elder_id + " has " + std::to_string(open) +
                                             " open order_late alarms; name one by alarm_id");
    }
  }
  if (found == nullptr) {
    return make_error(Errc::kNotFound,
                      "no open alarm " +
                          (act.alarm_id().empty() ? "of rule order_late" : act.alarm_id()) +
                          " for elder " + r.elder_id);
  }
  before_change(found->order_id());
  OrderRecord& o = *found;
  const std::string who = r.operator_id.empty() ? "operator" : r.operator_id;
  const std::string note = act.note().empty() ? "" : ": " + act.note();
  dirty_orders_.insert(o.order_id());
  switch (act.action()) {
    case AlarmAction::ACK:
      if (o.late_acked()) {
        return make_error(Errc::kRejected, "alarm " + late_alarm_id(o) + " is already acknowledged");
      }
      o.set_late_acked(true);
      emit_late_alarm(o, vigil::v1::ACTIVE_ACK, now, "acknowledged by " + who + note);
      return ok();
    case AlarmAction::ASSIGN:
      if (act.assignee().empty()) {
        return make_error(Errc::kInvalidInput,
                          "ASSIGN of alarm " + late_alarm_id(o) + " lacks assignee");
      }
      o.set_late_assignee(act.assignee());
      emit_late_alarm(o, o.late_acked() ? vigil::v1::ACTIVE_ACK : vigil::v1::ACTIVE_UNACK, now,
                      "assigned to " + act.assignee() + " by " + who);
      return ok();
    case AlarmAction::CLEAR: {
      // The operator has seen it and takes over: cleared, acknowledged and closed. The order
      // goes on; it is not raised late a second time.
      const std::string why = "cleared by " + who +
                              (act.resolution().empty() ? "" : ", resolution " + act.resolution()) +
                              note;
      o.set_late_acked(true);
      o.set_late_active(false);
      metrics().alarms_cleared.add();
      emit_late_alarm(o, vigil::v1::CLEARED_ACK, now, why);
      emit_late_alarm(o, vigil::v1::CLOSED, now, why);
      return ok();
    }
    case AlarmAction::ESCALATE: {
      vigil::v1::OperatorTask task;
      task.set_task_id("esc-" + late_alarm_id(o) + "-" + std::to_string(now));
      task.set_kind("escalation");
      task.set_elder_id(o.elder_id());
      task.set_alarm_id(late_alarm_id(o));
      task.set_order_id(o.order_id());
      task.set_priority(vigil::v1::EMERGENCY);
      set_ts(task.mutable_created_at(), now);
      task.set_message("escalated by " + who + note);
      sink_.emit(OutTopic::kOperator, o.elder_id(), task);
      emit_late_alarm(o, o.late_acked() ? vigil::v1::ACTIVE_ACK : vigil::v1::ACTIVE_UNACK, now,
                      task.message());
      return ok();
    }
    default:
      return make_error(Errc::kInvalidInput, "AlarmAction without an action");
  }
}

}  // namespace vigil::dispatch
