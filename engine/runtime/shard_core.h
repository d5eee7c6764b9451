#pragma once
// The work of one shard: decodes the records of the elders it owns, keeps their registry entry,
// rule state and alarms, fires their timers, and forwards order work to the dispatcher.
// Deterministic: the same records and times give the same outputs in the same order.
// Owned and used by one thread (a shard thread live, the replay loop in replay).

#include <memory>
#include <string>
#include <unordered_map>

#include "engine/alarm/alarm_book.h"
#include "engine/codec/record.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/pipeline/timer_queue.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule_engine.h"
#include "engine/state/state_store.h"

namespace vigil::runtime {

//! Emits a DeadLetter for an input that could not be used. Shared by the shard and the
//! dispatcher's driver.
void emit_deadletter(egress::Sink& sink, const InputRecord& rec, const std::string& reason, TimeMs now);

class ShardCore final : public rules::RuleEffects {
 public:
  ShardCore(uint32_t index, uint32_t shards, std::shared_ptr<const rules::RuleSet> rules,
            egress::Sink& sink, dispatch::DispatchPort& dispatch);

  //! Decodes and applies one telemetry, calls or registry (elder/device) record at engine time
  //! `now`. Undecodable or unusable records become deadletters; never throws.
  void process(const InputRecord& rec, TimeMs now);

  //! Fires every timer due at or before `now`.
  void advance_to(TimeMs now);

  //! Serialises the elders changed since the last call into `ops`.
  void collect_dirty(state::StateOps& ops);
  //! Loads the elders this shard owns from the store and re-arms their timers.
  Status load(const state::StateStore& store);

  //! Earliest armed timer (INT64_MAX if none).
  TimeMs next_due() const { return timers_.next_due(); }
  size_t elders() const { return elders_.size(); }
  const registry::ElderState* elder(const std::string& id) const;

  // rules::RuleEffects
  void raise(registry::ElderState& e, uint32_t rule, std::string_view device_id, TimeMs ts,
             const std::string& message) override;
  void clear(registry::ElderState& e, uint32_t rule, TimeMs ts, std::string_view reason) override;
  bool active(const registry::ElderState& e, uint32_t rule) const override;
  void arm(const registry::ElderState& e, uint32_t rule, TimeMs due, uint64_t generation) override;
  void raise_with(registry::ElderState& e, uint32_t rule, vigil::v1::Severity severity,
                  std::string_view device_id, TimeMs ts, const std::string& message) override;
  void remind(const registry::ElderState& e, uint32_t rule, std::string_view kind, TimeMs ts,
              const std::string& message) override;

 private:
  registry::ElderState& elder_for(const std::string& elder_id);
  bool key_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now);
  void on_telemetry(const InputRecord& rec, TimeMs now);
  void on_call(const InputRecord& rec, TimeMs now);
  void on_registry(const InputRecord& rec, TimeMs now);

  uint32_t index_;
  uint32_t shards_;
  rules::RuleEngine engine_;
  egress::Sink& sink_;
  dispatch::DispatchPort& dispatch_;
  alarm::AlarmBook alarms_;
  pipeline::TimerQueue timers_;
  std::unordered_map<std::string, registry::ElderState> elders_;
  std::vector<std::string> dirty_;
  // Decode buffers, reused so that steady-state decoding does not allocate messages.
  vigil::v1::DeviceEvent event_;
  vigil::v1::CallEvent call_;
  vigil::v1::RegistryUpdate registry_;
};

}  // namespace vigil::runtime
