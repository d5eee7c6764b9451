#pragma once
// Evaluates the rule set against one elder's state, one event or timer at a time. The engine
// itself holds only the (immutable, shared) rule set; all per-elder state lives in the
// ElderState the caller passes in. Used by one shard thread; one instance per shard.

#include <memory>
#include <string>
#include <string_view>

#include "engine/core/result.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule_set.h"
#include "schemas/telemetry.pb.h"

namespace vigil::rules {

//! What a rule can do to the world; implemented by the shard (alarm book + timers).
class RuleEffects {
 public:
  virtual ~RuleEffects() = default;
  //! Raises (or repeats) the elder's alarm of rule `rule`.
  virtual void raise(registry::ElderState& e, uint32_t rule, std::string_view device_id, TimeMs ts,
                     const std::string& message) = 0;
  //! Clears the elder's active alarm of rule `rule` (auto-clear); no-op if none is active.
  virtual void clear(registry::ElderState& e, uint32_t rule, TimeMs ts, std::string_view reason) = 0;
  //! True while the elder has an active (raised, not yet cleared) alarm of rule `rule`.
  virtual bool active(const registry::ElderState& e, uint32_t rule) const = 0;
  //! Arms a timer that calls RuleEngine::on_timer(e, rule, generation) at `due`.
  virtual void arm(const registry::ElderState& e, uint32_t rule, TimeMs due, uint64_t generation) = 0;
  //! Raises with a band's severity instead of the rule's own (score rules).
  virtual void raise_with(registry::ElderState& e, uint32_t rule, vigil::v1::Severity severity,
                          std::string_view device_id, TimeMs ts, const std::string& message) {
    (void)severity;
    raise(e, rule, device_id, ts, message);
  }
  //! Sends the elder a Reminder of `kind` (care-plan times: `at` rules with a reminder action).
  virtual void remind(const registry::ElderState& e, uint32_t rule, std::string_view kind, TimeMs ts,
                      const std::string& message) = 0;
};

class RuleEngine {
 public:
  explicit RuleEngine(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)) {}

  const RuleSet& rules() const { return *rules_; }
  const std::shared_ptr<const RuleSet>& rules_ptr() const { return rules_; }

  //! Feeds one device event (at event time `ts`) to every rule that reads its type.
  void on_event(registry::ElderState& e, const vigil::v1::DeviceEvent& ev, TimeMs ts,
                RuleEffects& fx) const;
  //! A timer armed for (elder, rule) came due. Stale generations are ignored.
  void on_timer(registry::ElderState& e, uint32_t rule, uint64_t generation, TimeMs now,
                RuleEffects& fx) const;

  //! The elder's registry profile changed (or arrived) at engine time `now` (0: unknown):
  //! (re)arms the rules that watch local times of the profile (`at:`).
  void on_profile(registry::ElderState& e, TimeMs now, RuleEffects& fx) const;

  //! Re-arms the timers recorded in a state just loaded from disk.
  void rearm(const registry::ElderState& e, RuleEffects& fx) const;

  //! Whether rule `r` can ever arm a timer: threshold, sequence, absence and aggregate rules,
  //! and any rule with `at:` watches (ShardCore keeps a timer handle only for these).
  static bool may_arm(const Rule& r) {
    return !r.at.empty() || r.kind == RuleKind::kThreshold || r.kind == RuleKind::kSequence ||
           r.kind == RuleKind::kAbsence || r.kind == RuleKind::kAggregate;
  }

  //! A parameter's value for this elder: its override "<rule_id>.<name>" or the default.
  static double param(const Rule& r, uint32_t index, const registry::ElderState& e);

 private:
  void on_threshold(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                    TimeMs ts, RuleEffects& fx) const;
  void on_sequence(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                   TimeMs ts, RuleEffects& fx) const;
  void on_absence(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                  TimeMs ts, RuleEffects& fx) const;
  void on_device_seen(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                      TimeMs ts, RuleEffects& fx) const;
  void on_watch_event(registry::ElderState& e, uint32_t ri, TimeMs ts, RuleEffects& fx) const;
  void on_aggregate(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                    TimeMs ts, RuleEffects& fx) const;
  void on_geofence(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev,
                   TimeMs ts, RuleEffects& fx) const;
  void on_score(registry::ElderState& e, uint32_t ri, const vigil::v1::DeviceEvent& ev, TimeMs ts,
                RuleEffects& fx) const;
  void absence_timer(registry::ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const;
  void device_timer(registry::ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const;
  void watch_timer(registry::ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const;
  void aggregate_timer(registry::ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx) const;
  void arm_watch(registry::ElderState& e, uint32_t ri, TimeMs now, RuleEffects& fx) const;
  static void arm(registry::ElderState& e, uint32_t ri, TimeMs due, RuleEffects& fx);
  static void disarm(registry::ElderState& e, uint32_t ri);

  std::shared_ptr<const RuleSet> rules_;
};

//! NEWS2 points of one vital (index as in kNews2Vitals) and value.
int news2_points(int vital, double value);
//! The vitals a NEWS2 score reads, in order.
inline constexpr const char* kNews2Vitals[] = {"respiration_rate", "spo2", "blood_pressure",
                                               "heart_rate", "consciousness", "body_temperature"};
//! Evaluates a `when` condition on an event for an elder.
bool eval_condition(const Rule& r, const vigil::v1::DeviceEvent& ev, const registry::ElderState& e);

}  // namespace vigil::rules
