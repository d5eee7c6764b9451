#pragma once
// One alarm per (elder, rule) and its lifecycle (SPEC section 3): raise, repeat (count rises),
// operator ack/assign/clear/escalate, auto-clear, close. Every change is one AlarmEvent on
// `alarms`. The alarms themselves live in the elder's ElderState; the book holds no state of
// its own beyond its collaborators, so one book per shard serves all its elders (one thread).

#include <string>
#include <string_view>

#include "engine/core/result.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule.h"
#include "schemas/calls.pb.h"

namespace vigil::alarm {

class AlarmBook {
 public:
  AlarmBook(egress::Sink& sink, dispatch::DispatchPort& dispatch) : sink_(sink), dispatch_(dispatch) {}

  //! Raises the elder's alarm of `rule`, or repeats it if one is active (count + 1). A new alarm
  //! creates an operator task (CRITICAL/MAJOR or the rule's operator_task), a reminder and an
  //! automatic order as the rule's actions say.
  void raise(registry::ElderState& e, const rules::Rule& rule, std::string_view device_id, TimeMs ts,
             const std::string& message);

  //! Auto-clear of the elder's active alarm of `rule_id`; no-op if none is active.
  void auto_clear(registry::ElderState& e, const std::string& rule_id, TimeMs ts,
                  std::string_view reason);

  //! The elder's open alarm of `rule_id` that is still active (not cleared), or nullptr.
  static const vigil::v1::AlarmEvent* active(const registry::ElderState& e, const std::string& rule_id);

  //! An operator's ACK/ASSIGN/CLEAR/ESCALATE. Returns kNotFound for an unknown or closed alarm
  //! and kRejected for an action the alarm's status does not allow; nothing changes then.
  Status operator_action(registry::ElderState& e, const vigil::v1::AlarmAction& action,
                         const std::string& operator_id, TimeMs ts);

 private:
  void emit(const registry::ElderState& e, const vigil::v1::AlarmEvent& a);
  void close_if_done(registry::ElderState& e, size_t index, TimeMs ts);

  egress::Sink& sink_;
  dispatch::DispatchPort& dispatch_;
};

}  // namespace vigil::alarm
