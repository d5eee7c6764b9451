#pragma once
// One alarm per (elder, rule) and its lifecycle (SPEC section 3): raise, repeat (count rises),
// operator ack/assign/clear/escalate, auto-clear, close. Every change is one AlarmEvent on
// `alarms` and one history record for the console. An alarm still ACTIVE_UNACK at the first
// answer target (60 s) gets an escalation task, at the second (180 s) a more urgent one. An
// alarm that flaps (clears and re-raises too often) is held active instead.
//
// The alarms live in the elder's ElderState; the book keeps the escalation timers, the
// answer-time figures and the history not yet checkpointed. One book per shard, used by the
// shard's thread only.

#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "engine/alarm/answer_times.h"
#include "engine/core/result.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule.h"
#include "engine/state/state_store.h"
#include "schemas/calls.pb.h"

namespace vigil::alarm {

struct AlarmConfig {
  TimeMs first_escalation = 60 * kSecond;    //!< ACTIVE_UNACK this long -> escalation task
  TimeMs second_escalation = 180 * kSecond;  //!< ... this long -> a more urgent one
  uint32_t flap_limit = 3;                   //!< re-raises within the window before holding
  TimeMs flap_window = kHour;
};

class AlarmBook {
 public:
  AlarmBook(egress::Sink& sink, dispatch::DispatchPort& dispatch, AlarmConfig config = {})
      : sink_(sink), dispatch_(dispatch), config_(config),
        answers_(config.first_escalation, config.second_escalation) {}

  //! Raises the elder's alarm of `rule`, or repeats it if one is active (count + 1). A new alarm
  //! creates an operator task (CRITICAL/MAJOR or the rule's operator_task), a reminder and an
  //! automatic order as the rule's actions say, and arms its escalations.
  void raise(registry::ElderState& e, const rules::Rule& rule, std::string_view device_id, TimeMs ts,
             const std::string& message);

  //! Auto-clear of the elder's active alarm of `rule_id`; no-op if none is active. A flapping
  //! alarm is held active instead (once, with a message saying so).
  void auto_clear(registry::ElderState& e, const std::string& rule_id, TimeMs ts,
                  std::string_view reason);

  //! The elder's open alarm of `rule_id` that is still active (not cleared), or nullptr.
  static const vigil::v1::AlarmEvent* active(const registry::ElderState& e, const std::string& rule_id);

  //! An operator's ACK/ASSIGN/CLEAR/ESCALATE. Returns kNotFound for an unknown or closed alarm
  //! and kRejected for an action the alarm's status does not allow; nothing changes then.
  Status operator_action(registry::ElderState& e, const vigil::v1::AlarmAction& action,
                         const std::string& operator_id, TimeMs ts);

  //! Fires escalations due at or before `now`, in due order, at most `budget` of them. `find`
  //! returns the elder's state or nullptr. Returns true when none due is left.
  bool advance_to(TimeMs now, const std::function<registry::ElderState*(const std::string&)>& find,
                  size_t budget = SIZE_MAX);
  //! Earliest escalation due (INT64_MAX if none).
  TimeMs next_due() const { return timers_.empty() ? INT64_MAX : timers_.top().due; }
  //! Re-arms the escalations of an elder's unanswered alarms after a load.
  void rearm(const registry::ElderState& e);

  //! Forgets the escalation timers of the elders for which `dropped(elder_id)` is true (a shard
  //! dropping a task's elders). O(armed escalations).
  void forget_elders(const std::function<bool(const std::string&)>& dropped);

  //! At a checkpoint's barrier: the history records written since the last barrier become
  //! the ones to hand over (move_history); records written from now on are the next one's.
  //! The previous barrier's must all have been moved.
  void begin_history();
  //! Moves up to `budget` of the barrier's history records into `ops`; true once all are.
  //! A few thousand records a checkpoint at the bench's rates: moved all at the barrier they
  //! held the shard's records back for 0.4-1.8 ms (bench/README.md, session 18).
  bool move_history(state::StateOps& ops, size_t budget);
  //! Both at once (tests).
  void collect_history(state::StateOps& ops) {
    begin_history();
    move_history(ops, SIZE_MAX);
  }
  const AnswerTimes& answer_times() const { return answers_; }

 private:
  struct Due {
    TimeMs due;
    uint64_t seq;
    std::string elder_id;
    uint32_t stage;
    bool operator>(const Due& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  void emit(const vigil::v1::AlarmEvent& a);
  void close_if_done(registry::ElderState& e, size_t index, TimeMs ts);
  void answered(const vigil::v1::AlarmEvent& a, TimeMs ts);
  void arm_escalation(const std::string& elder_id, uint32_t stage, TimeMs raised_at);
  void escalate(registry::ElderState& e, vigil::v1::AlarmEvent& a, uint32_t stage, TimeMs now);

  egress::Sink& sink_;
  dispatch::DispatchPort& dispatch_;
  AlarmConfig config_;
  AnswerTimes answers_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> timers_;
  uint64_t next_seq_ = 0;
  std::vector<std::pair<std::string, std::string>> history_;       //!< since the last barrier
  std::vector<std::pair<std::string, std::string>> snap_history_;  //!< the barrier's, to move
  size_t snap_history_next_ = 0;
};

//! An elder's alarm history, oldest first: every AlarmEvent record of every alarm.
Result<std::vector<vigil::v1::AlarmEvent>> load_alarm_history(const state::StateStore& store,
                                                               const std::string& elder_id);

}  // namespace vigil::alarm
