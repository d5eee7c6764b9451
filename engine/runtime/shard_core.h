#pragma once
// The work of one shard: decodes the records of the elders it owns, keeps their registry entry,
// rule state and alarms, fires their timers, and forwards order work to the dispatcher.
// Deterministic: the same records and times give the same outputs in the same order.
// Owned and used by one thread (a shard thread live, the replay loop in replay).
//
// Elders are interned: each gets a dense index on first sight, and the timer wheel holds that
// index instead of the elder_id, so a timer costs 32 bytes. Each (elder, rule) holds at most one
// timer: re-arming cancels the previous one, so absence rules that move their deadline on
// every event do not pile up stale timers. Timers carry the rule-set epoch; a reload cancels
// every timer, bumps it, and re-arms the timers of kept rules under their new index.

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/alarm/alarm_book.h"
#include "engine/codec/codec.h"
#include "engine/codec/record.h"
#include "engine/core/prefetch.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/pipeline/key_index.h"
#include "engine/pipeline/stable_vector.h"
#include "engine/pipeline/timer_wheel.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule_engine.h"
#include "engine/runtime/timer_handles.h"
#include "engine/state/state_store.h"

namespace vigil::runtime {

//! Emits a DeadLetter for an input that could not be used. Shared by the shard and the
//! dispatcher's driver.
void emit_deadletter(egress::Sink& sink, const InputRecord& rec, const std::string& reason,
                     TimeMs now);

//! Decodes `rec` into `msg` and validates it; if either fails, emits the dead letter with the
//! reason and returns false. The one entry check of every input an owner thread applies.
template <class Msg>
bool decode_valid(const InputRecord& rec, Msg* msg, egress::Sink& sink, TimeMs now) {
  if (auto s = codec::decode(rec.payload, rec.format, msg); !s) {
    emit_deadletter(sink, rec, s.error().message, now);
    return false;
  }
  if (auto s = codec::validate(*msg); !s) {
    emit_deadletter(sink, rec, s.error().message, now);
    return false;
  }
  return true;
}

//! Event-time settings of a shard. The defaults are replay's: no watermarks, nothing late.
struct ShardOptions {
  //! Bounded out-of-orderness: an event older than its partition's newest event time minus
  //! this is late (counted; still applied). Negative: no watermarks (replay).
  TimeMs max_out_of_order_ms = -1;
  //! A timer fired this long or more after its due time is marked late in the alarm message
  //! and counted. 0: never (replay, where timers fire exactly at their due time).
  TimeMs late_timer_ms = 0;
  //! Answer targets (escalations) and flapping (engine/alarm/README.md).
  alarm::AlarmConfig alarm;
  //! Task partitions (docs/design.md, "State that moves with its partition"): when > 0 the
  //! shard tells its sink each piece of work's task (set_task), annotates its StateOps with the
  //! elder's task, dead-letters records on another partition than their elder's task, and can
  //! drop_task() and restore(). 0 (the default): none of that, behaviour as before.
  int32_t task_partitions = 0;
};

//! What a rule-set swap did (for the log and tests).
struct ReloadStats {
  uint32_t kept = 0;     //!< rules with the same id and fingerprint: state kept
  uint32_t changed = 0;  //!< same id, new definition: state starts fresh
  uint32_t added = 0;
  uint32_t removed = 0;
  uint64_t alarms_cleared = 0;  //!< removed rules' active alarms cleared (rule_removed)
  uint64_t timers_rearmed = 0;
};

class ShardCore final : public rules::RuleEffects {
 public:
  ShardCore(uint32_t index, uint32_t shards, std::shared_ptr<const rules::RuleSet> rules,
            egress::Sink& sink, dispatch::DispatchPort& dispatch, ShardOptions options = {});

  //! Decodes and applies one telemetry, calls or registry (elder/device) record at engine time
  //! `now`. Undecodable or unusable records become deadletters; never throws.
  void process(const InputRecord& rec, TimeMs now);

  //! Fires the timers due at or before `now`, in due order: rule timers, then escalations, at
  //! most `budget` in all (escalations once every due rule timer has fired). Returns true when
  //! none due is left.
  //! The live loop passes a budget so that thousands of timers due at one instant (every
  //! elder's 08:00 medication time) do not hold the shard's records back; replay fires all.
  bool advance_to(TimeMs now, size_t budget = SIZE_MAX);

  //! Swaps the rule set between two events: kept rules (same id and fingerprint) keep their
  //! slots, timers and alarms; changed rules start with empty slots; removed rules' active
  //! alarms are cleared with reason `rule_removed` at `now`.
  ReloadStats reload(std::shared_ptr<const rules::RuleSet> next, TimeMs now);
  const rules::RuleSet& rules() const { return engine_.rules(); }

  //! Serialises the elders changed since the last call into `ops`: e/<id> (rule and alarm
  //! state) of each, p/<id> (profile and devices) of those a registry record changed.
  //! begin_snapshot() + continue_snapshot() until done, at once.
  void collect_dirty(state::StateOps& ops);

  //! The same, copy-on-write, so that a checkpoint does not stall the shard for the time it
  //! takes to serialise every dirty elder: at the barrier, begin_snapshot() only takes the list
  //! of dirty elders (and the alarm history). The shard goes on processing; an elder still on
  //! the list is serialised just before its first change after the barrier (elder_for, timers,
  //! escalations), and continue_snapshot() serialises up to `budget` of the rest between
  //! batches. `ops` therefore holds exactly the state as of the barrier once
  //! continue_snapshot() returns true. One snapshot at a time; reload() completes it first.
  void begin_snapshot(state::StateOps& ops);
  bool continue_snapshot(size_t budget);
  bool snapshot_in_progress() const { return snap_ops_ != nullptr; }
  //! The time the shard's timer wheel starts from (the live engine's timer clock at start),
  //! set before a load, a restore or a record arms the first timer: timers are then placed
  //! against the clock, not against the first one's due (pipeline::TimerWheel::start_at).
  void start_timers_at(TimeMs now) { timers_.start_at(now); }
  //! Loads the elders this shard owns from the store (p/ then e/) and re-arms their timers.
  Status load(const state::StateStore& store);
  //! Loads them in the background of the shard's records instead (the live engine after a
  //! restart, engine/runtime/README.md "Background load"): continue_load() reads them in
  //! steps between batches, and an elder a record or a registry update asks for before its
  //! step is read from the store at once, with its timers re-armed (elder_for). So records
  //! are processed from the moment the store is open. `store` must outlive the load.
  void begin_load(const state::StateStore& store);
  //! Loads up to `budget` more of this shard's stored elders. True once every stored elder is
  //! loaded (at once if no load was begun); false with more to do, or while the store answers
  //! kIo (a disk-full recover() in progress: tried again on the next call).
  bool continue_load(size_t budget);
  bool loading() const { return load_ != nullptr; }
  //! Elders the background load found already loaded by a record that asked first, and the
  //! elders it loaded itself (for the log line at the end of the load).
  struct LoadStats {
    uint64_t on_demand = 0;
    uint64_t background = 0;
    uint64_t corrupt = 0;
  };
  LoadStats load_stats() const { return load_stats_; }

  // Tasks (ShardOptions::task_partitions > 0; engine/runtime/README.md "Tasks").
  //! The task of an elder: state::task_of(elder_id, task_partitions); -1 without tasks.
  int32_t task_of_elder(std::string_view elder_id) const;
  //! Forgets every elder of `task`: rule state, timers, alarms and their escalations, dirty
  //! and stored marks, index entry. Emits nothing. A snapshot in progress is completed first.
  //! Freed elder indices are reused by the next new or restored elders. No-op without tasks.
  void drop_task(int32_t task);
  //! Replaces the elders of `kv` (store keys p/<id> and e/<id> with values exactly as this
  //! shard writes them, any order; other keys and other shards' elders are skipped) with the
  //! stored state, as load() does, re-arms their timers (overdue ones fire on the next
  //! advance_to, as after a restart), and marks each restored elder dirty with its p/ too, so
  //! the next checkpoint writes all of them again. `now` is the engine time of the restore
  //! (nothing fires inside restore). A snapshot in progress is completed first.
  void restore(const std::vector<std::pair<std::string, std::string>>& kv, TimeMs now);
  //! Marks every elder of `task` dirty with its p/, so that the next snapshot writes the whole
  //! task (a changelog rewrite, EngineOptions::changelog_rewrite_bytes). Between snapshots.
  void mark_task_dirty(int32_t task);

  //! Earliest armed timer (INT64_MAX if none).
  TimeMs next_due() { return std::min(timers_.next_due(), alarms_.next_due()); }
  //! Answer-time figures of this shard's alarms (read after the shard thread stopped).
  const alarm::AnswerTimes& answer_times() const { return alarms_.answer_times(); }
  size_t elders() const { return elders_.size() - free_.size(); }
  //! Elder records allocated, free ones (drop_task) included: memory, for tests and figures.
  size_t elder_slots() const { return elders_.size(); }
  size_t timers() const { return timers_.size(); }
  //! A rule RuleEngine::may_arm said never arms armed a timer (a bug; tests check it).
  bool armed_without_handle() const { return armed_without_handle_; }
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

  //! The shard loop's look-ahead (Engine::shard_loop): for a record some places ahead in the
  //! ring, asks the CPU for what its lookup and rules will read, in three stages as the lines
  //! arrive: 0 the index line, 1 the elder's record, 2 what that record points to. `key_hash`
  //! is pipeline::stable_hash of the record's key. Changes nothing; a wrong guess costs a load.
  //! Stages 3 and 4 only while a snapshot is in progress, for an elder it still owes: that
  //! elder is serialised before the record changes it (copy-on-write), every slot of it.
  void prefetch(uint64_t key_hash, int stage) const {
    const uint32_t tag = pipeline::KeyIndex::tag_of_hash(key_hash);
    if (stage == 0) return index_of_.prefetch(tag);
    const uint32_t k = index_of_.candidate(tag);
    if (stage >= 3 && (snap_ops_ == nullptr || k >= snap_pending_.size() || !snap_pending_[k])) {
      return;
    }
    prefetch_elder(k, stage);
  }
  //! Stage 1 to 4 of prefetch() for elder `k` (any value: out of range asks for nothing).
  void prefetch_elder(uint32_t k, int stage) const {
    if (k >= elders_.size()) return;
    const registry::ElderState& e = elders_[k];
    if (stage == 1) {
      const char* p = reinterpret_cast<const char*>(&e);
      for (size_t at = 0; at < sizeof(e); at += 64) vigil::prefetch(p + at);
      return;
    }
    if (stage == 2) {
      e.prefetch_heap();
      handles_.prefetch(k);
      return;
    }
    // 3, a snapshot's pass over every slot: the rest of the slot block, then the slots' extras
    // (each a cache miss of its own otherwise: most of serialising an elder's time).
    if (stage == 3) return e.slots.prefetch_block();
    e.slots.prefetch_extras();
  }

 private:
  registry::ElderState& elder_for(const std::string& elder_id);
  //! Which rules of `rules` get a timer handle column (RuleEngine::may_arm).
  static std::vector<bool> timer_rules(const rules::RuleSet& rules);
  //! Before elder k changes: if it is still waiting for the snapshot in progress, serialise it.
  void before_change(uint32_t k) {
    if (snap_ops_ != nullptr && k < snap_pending_.size() && snap_pending_[k]) snapshot_elder(k);
  }
  void snapshot_elder(uint32_t k);
  void mark_dirty(registry::ElderState& e, bool was_dirty);
  //! reload() when every rule keeps its index: keeps the kept rules' timers (see the .cc).
  bool reload_in_place(const rules::RuleSet& next, const std::vector<int>& from,
                       ReloadStats& stats);
  void note_event_time(int32_t partition, TimeMs ts);
  bool key_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now);
  //! With tasks: false (and a deadletter) if the record is not on its elder's task partition.
  bool task_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now);
  bool tasks_on() const { return options_.task_partitions > 0; }
  //! A freed elder index (drop_task): its record is empty, its id too (ids are never empty).
  bool is_free(uint32_t k) const { return elders_[k].profile.elder_id().empty(); }
  //! Cancels elder k's timers, removes it from the index and frees its index (drop, restore).
  void forget_elder(uint32_t k);
  //! load()'s and restore()'s step: merges one stored value (`kind` 'p' or 'e') into elder
  //! `id`; returns its index, or kNone if it is not this shard's or does not parse (`corrupt`).
  uint32_t apply_stored(char kind, std::string_view id, std::string_view value, size_t& corrupt);
  //! Re-arms elder k's rule timers and escalations from its state (load, restore).
  void rearm_elder(uint32_t k);
  //! The background load's step for one elder that is not loaded yet: merges its stored p/
  //! and e/ values (either may be missing) and re-arms it. Returns its index or kNone.
  uint32_t load_elder(std::string_view id, const std::string_view* p, const std::string_view* e);
  //! elder_for's part while a background load runs: reads an elder not loaded yet from the
  //! store at once (waiting while the store answers kIo: its state must not be lost).
  void load_on_demand(const std::string& elder_id);
  void on_telemetry(const InputRecord& rec, TimeMs now);
  void on_call(const InputRecord& rec, TimeMs now);
  void on_registry(const InputRecord& rec, TimeMs now);

  uint32_t index_;
  uint32_t shards_;
  ShardOptions options_;
  rules::RuleEngine engine_;
  egress::Sink& sink_;
  dispatch::DispatchPort& dispatch_;
  alarm::AlarmBook alarms_;
  pipeline::TimerWheel timers_;
  uint16_t epoch_ = 0;    //!< rule-set generation (wrapping); timers of older epochs are stale
  TimerHandles handles_;  //!< (elder, rule): its armed timer, or kNil (timer_handles.h)
  //! A rule without a handle column armed a timer (may_arm was wrong): reloads then take the
  //! path that bumps the epoch, since that timer cannot be cancelled.
  bool armed_without_handle_ = false;
  //! By elder index; elements never move (pipeline/stable_vector.h).
  pipeline::StableVector<registry::ElderState> elders_;
  pipeline::KeyIndex index_of_;  //!< elder id -> index in elders_
  //! The key of an index for index_of_: the elder's own id.
  std::string_view id_at(uint32_t k) const { return elders_[k].profile.elder_id(); }
  uint32_t find_elder(std::string_view id) const {
    return index_of_.find(id, [this](uint32_t k) { return id_at(k); });
  }
  uint32_t current_ = 0;   //!< index of the elder being evaluated (the key of timers it arms)
  std::string late_note_;  //!< appended to alarm messages while a late timer fires
  std::vector<uint32_t> dirty_;
  std::vector<bool> stored_;        //!< [elder]: an e/ value (rule and alarm state) is on disk
  std::vector<uint32_t> touched_;   //!< elders an escalation pass looked at
  std::vector<TimeMs> watermarks_;  //!< per input partition (telemetry), see ShardOptions
  // Decode buffers, reused so that steady-state decoding does not allocate messages.
  vigil::v1::DeviceEvent event_;
  vigil::v1::CallEvent call_;
  vigil::v1::RegistryUpdate registry_;
  vigil::state::ElderRecord record_;  //!< load's reused parsing buffer
  // The snapshot in progress (begin_snapshot): where it goes, the elders it still owes.
  state::StateOps* snap_ops_ = nullptr;
  std::vector<uint32_t> snap_list_;
  size_t snap_next_ = 0;
  std::vector<bool> snap_pending_;  //!< [elder]: on snap_list_ and not yet serialised
  std::string key_;                 //!< snapshot_elder's key buffer
  std::vector<uint32_t> free_;      //!< elder indices freed by drop_task/restore, reused first
  //! A background load in progress (begin_load): per prefix, the keys read so far and the
  //! current step's values of this shard's elders; both prefixes are walked in id order
  //! together, so an elder's p/ and e/ are applied in one go.
  struct BackgroundLoad {
    struct Prefix {
      std::unique_ptr<state::StateStore::Cursor> cursor;
      //! The current step's keys and values of this shard's elders, in key order, packed in
      //! one buffer (no allocation per key): each entry's offset, key length, value length.
      std::string bytes;
      std::vector<std::array<uint32_t, 3>> at;
      size_t next = 0;
      bool done = false;
      std::string_view key(size_t i) const { return {bytes.data() + at[i][0], at[i][1]}; }
      std::string_view value(size_t i) const {
        return {bytes.data() + at[i][0] + at[i][1], at[i][2]};
      }
    };
    const state::StateStore* store = nullptr;
    Prefix p;
    Prefix e;
    bool io_error_logged = false;
  };
  //! Reads the next step of `pre` once its values are used up; false on kIo.
  bool refill(BackgroundLoad::Prefix& pre);
  std::unique_ptr<BackgroundLoad> load_;
  LoadStats load_stats_;
  bool in_load_ = false;  //!< inside load_elder: elder_for must not read the store again
};

//! The whole stored record of one elder (its p/ and e/ values merged), std::nullopt if neither
//! is stored or they do not parse. For the console and tools; any thread.
std::optional<vigil::state::ElderRecord> read_elder_record(const state::StateStore& store,
                                                           const std::string& elder_id);

}  // namespace vigil::runtime
