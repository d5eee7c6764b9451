#include "engine/runtime/shard_core.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/pipeline/shard_router.h"

namespace vigil::runtime {

void emit_deadletter(egress::Sink& sink, const InputRecord& rec, const std::string& reason,
                     TimeMs now) {
  vigil::v1::DeadLetter dl;
  dl.set_topic(std::string(name(rec.topic)));
  dl.set_partition(rec.partition);
  dl.set_offset(rec.offset);
  if (rec.payload.size() > codec::kMaxRecordBytes) {  // oversized: a dead letter that fits
    dl.set_payload(rec.payload.substr(0, codec::kMaxRecordBytes));
    dl.set_reason(reason + " (payload cut to its first " + std::to_string(codec::kMaxRecordBytes) +
                  " bytes)");
  } else {
    dl.set_payload(rec.payload);
    dl.set_reason(reason);
  }
  set_ts(dl.mutable_ts(), now);
  metrics().deadletters.add();
  sink.emit(OutTopic::kDeadletter, rec.key, dl);
}

ShardCore::ShardCore(uint32_t index, uint32_t shards, std::shared_ptr<const rules::RuleSet> rules,
                     egress::Sink& sink, dispatch::DispatchPort& dispatch, ShardOptions options)
    : index_(index),
      shards_(shards),
      options_(options),
      engine_(std::move(rules)),
      sink_(sink),
      dispatch_(dispatch),
      alarms_(sink, dispatch, options.alarm) {
  handles_.reset(timer_rules(engine_.rules()));
}

std::vector<bool> ShardCore::timer_rules(const rules::RuleSet& rules) {
  std::vector<bool> arms(rules.rules().size());
  for (size_t r = 0; r < arms.size(); ++r) arms[r] = rules::RuleEngine::may_arm(rules.rules()[r]);
  return arms;
}

registry::ElderState& ShardCore::elder_for(const std::string& elder_id) {
  // The new elder's record holds its id before the index reads it back (key_of). A new elder
  // takes an index drop_task() freed (its handles are all kNil) before growing the table.
  uint32_t found = find_elder(elder_id);
  if (found == pipeline::KeyIndex::kNone && load_ != nullptr && !in_load_) {
    load_on_demand(elder_id);  // stored: loaded now; new: still not found
    found = find_elder(elder_id);
  }
  const auto next = free_.empty() ? static_cast<uint32_t>(elders_.size()) : free_.back();
  const bool inserted = found == pipeline::KeyIndex::kNone;
  if (inserted) {
    const bool reused = !free_.empty();
    if (reused) free_.pop_back();
    registry::ElderState& e = reused ? elders_[next] : elders_.emplace_back();
    e.profile.set_elder_id(elder_id);
    index_of_.insert(elder_id, next, [this](uint32_t k) { return id_at(k); });
    e.slots.resize(engine_.rules().rules().size());
    if (!reused) handles_.ensure(elders_.size());
  }
  current_ = inserted ? next : found;
  before_change(current_);
  return elders_[current_];
}

const registry::ElderState* ShardCore::elder(const std::string& id) const {
  const uint32_t k = find_elder(id);
  return k == pipeline::KeyIndex::kNone ? nullptr : &elders_[k];
}

void ShardCore::mark_dirty(registry::ElderState& e, bool was_dirty) {
  if (e.dirty && !was_dirty) dirty_.push_back(current_);
}

void ShardCore::note_event_time(int32_t partition, TimeMs ts) {
  if (options_.max_out_of_order_ms < 0 || partition < 0) return;
  if (static_cast<size_t>(partition) >= watermarks_.size()) {
    watermarks_.resize(static_cast<size_t>(partition) + 1, registry::kNever);
  }
  TimeMs& wm = watermarks_[static_cast<size_t>(partition)];
  if (ts < wm) {
    // Late: applied all the same (an SOS is an SOS), counted so that the lag shows.
    metrics().late_events.add();
    return;
  }
  wm = std::max(wm, ts - options_.max_out_of_order_ms);
}

void ShardCore::process(const InputRecord& rec, TimeMs now) {
  metrics().events_in.add();
  if (tasks_on()) sink_.set_task(rec.partition);
  switch (rec.topic) {
    case InTopic::kTelemetry: on_telemetry(rec, now); break;
    case InTopic::kCalls: on_call(rec, now); break;
    case InTopic::kRegistry: on_registry(rec, now); break;
    default:
      emit_deadletter(sink_, rec, std::string("shard cannot take topic ") + std::string(name(rec.topic)), now);
  }
}

bool ShardCore::key_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now) {
  // Inputs are keyed by elder_id (SPEC section 3); a record under another key may sit on another
  // shard than its elder's state, so it is refused rather than applied out of order.
  if (rec.key == elder_id) return true;
  emit_deadletter(sink_, rec, "record key '" + rec.key + "' is not its elder_id '" + elder_id + "'", now);
  return false;
}

void ShardCore::on_telemetry(const InputRecord& rec, TimeMs now) {
  if (!decode_valid(rec, &event_, sink_, now)) return;
  if (!key_matches(rec, event_.elder_id(), now)) return;
  if (!task_matches(rec, event_.elder_id(), now)) return;
  const TimeMs ts = to_ms(event_.ts());
  note_event_time(rec.partition, ts);
  registry::ElderState& e = elder_for(event_.elder_id());
  const bool was_dirty = e.dirty;
  engine_.on_event(e, event_, ts, *this);
  mark_dirty(e, was_dirty);
}

namespace {
dispatch::OrderActionRequest order_action_request(const vigil::v1::CallEvent& call, TimeMs ts,
                                                  const InputRecord& rec) {
  dispatch::OrderActionRequest req;
  req.elder_id = call.elder_id();
  req.call_id = call.call_id();
  if (call.has_order_action()) req.action = call.order_action();
  req.ts = ts;
  req.source = rec;
  return req;
}
}  // namespace

void ShardCore::on_call(const InputRecord& rec, TimeMs now) {
  if (!decode_valid(rec, &call_, sink_, now)) return;
  if (!key_matches(rec, call_.elder_id(), now)) return;
  if (!task_matches(rec, call_.elder_id(), now)) return;
  const TimeMs ts = to_ms(call_.ts());
  registry::ElderState& e = elder_for(call_.elder_id());
  const bool was_dirty = e.dirty;
  switch (call_.action_case()) {
    case vigil::v1::CallEvent::kServiceRequest: {
      const auto& sr = call_.service_request();
      if (sr.category().empty()) {
        emit_deadletter(sink_, rec, "ServiceRequest lacks category", now);
        break;
      }
      dispatch::OrderRequest req;
      req.order_id = call_.call_id();
      req.elder_id = call_.elder_id();
      req.category = sr.category();
      req.priority = sr.priority();
      req.has_location = e.registered;
      req.lat = e.profile.home_lat();
      req.lon = e.profile.home_lon();
      req.created = ts;
      req.window_start = sr.has_window_start() ? to_ms(sr.window_start()) : ts;
      req.window_end = sr.has_window_end() ? to_ms(sr.window_end()) : 0;
      req.region = std::string(e.profile.region());
      dispatch_.request_order(req);
      break;
    }
    case vigil::v1::CallEvent::kAlarmAction:
      if (dispatch::is_order_late_action(call_.alarm_action())) {
        dispatch::OrderActionRequest req = order_action_request(call_, ts, rec);
        req.late_alarm = true;
        req.alarm_action = call_.alarm_action();
        req.operator_id = call_.operator_id();
        dispatch_.order_action(req);
        break;
      }
      if (auto s = alarms_.operator_action(e, call_.alarm_action(), call_.operator_id(), ts); !s) {
        emit_deadletter(sink_, rec, s.error().message, now);
      }
      break;
    case vigil::v1::CallEvent::kOrderAction:
      dispatch_.order_action(order_action_request(call_, ts, rec));
      break;
    case vigil::v1::CallEvent::ACTION_NOT_SET:
      break;  // validate() rejected it
  }
  mark_dirty(e, was_dirty);
}

void ShardCore::on_registry(const InputRecord& rec, TimeMs now) {
  if (!decode_valid(rec, &registry_, sink_, now)) return;
  const std::string& id = registry_.has_elder() ? registry_.elder().elder_id()
                                                : registry_.device().elder_id();
  if (!key_matches(rec, id, now)) return;
  if (!task_matches(rec, id, now)) return;
  registry::ElderState& e = elder_for(id);
  const bool was_dirty = e.dirty;
  if (registry_.has_elder()) {
    registry::apply_profile(e, registry_.elder());
    engine_.on_profile(e, now, *this);  // care-plan timers follow the profile's times
  } else if (registry_.has_device()) registry::apply_device(e, registry_.device());
  if (!was_dirty) dirty_.push_back(current_);
}

bool ShardCore::advance_to(TimeMs now, size_t budget) {
  pipeline::WheelTimer t;
  size_t fired = 0;
  for (;; ++fired) {
    if (fired == budget) return false;  // the rest on the next call, in the same order
    if (!timers_.pop_due(now, &t)) break;
    if (t.kind != epoch_ || t.key >= elders_.size()) continue;  // armed under an older rule set
    if (uint32_t* handle = handles_.find(t.key, t.slot); handle != nullptr && *handle == t.handle) {
      *handle = TimerHandles::kNil;
    }
    current_ = t.key;
    before_change(t.key);
    registry::ElderState& e = elders_[t.key];
    if (tasks_on()) sink_.set_task(task_of_elder(e.profile.elder_id()));
    const bool was_dirty = e.dirty;
    metrics().timers_fired.add();
    const TimeMs late_by = now - t.due;
    if (options_.late_timer_ms > 0 && late_by >= options_.late_timer_ms) {
      // Came due while the engine was down (or far behind): fired now, and said so.
      late_note_ = " (late: due " + format_rfc3339(t.due) + ", fired " +
                   std::to_string(late_by / kSecond) + " s after)";
      metrics().timers_fired_late.add();
    }
    engine_.on_timer(e, t.slot, t.generation, now, *this);
    late_note_.clear();
    mark_dirty(e, was_dirty);
  }
  // Escalations of unanswered alarms (the alarm book keeps their timers).
  if (alarms_.next_due() > now) return true;
  touched_.clear();
  const bool done = alarms_.advance_to(now, [this](const std::string& id) -> registry::ElderState* {
    const uint32_t k = find_elder(id);
    if (k == pipeline::KeyIndex::kNone) return nullptr;
    touched_.push_back(k);
    before_change(k);
    if (tasks_on()) sink_.set_task(task_of_elder(id));
    return &elders_[k];
  }, budget - fired);
  for (uint32_t k : touched_) {
    if (elders_[k].dirty) dirty_.push_back(k);  // collect_dirty skips repeats
  }
  return done;
}

ReloadStats ShardCore::reload(std::shared_ptr<const rules::RuleSet> next, TimeMs now) {
  continue_snapshot(SIZE_MAX);  // a reload touches every elder: finish the snapshot first
  ReloadStats stats;
  const rules::RuleSet& old = engine_.rules();
  // new index -> old index of the same unchanged rule, or -1 (changed or added).
  std::vector<int> from(next->rules().size(), -1);
  for (uint32_t j = 0; j < next->rules().size(); ++j) {
    const rules::Rule& r = next->rules()[j];
    const int i = old.index_of(r.id);
    if (i < 0) ++stats.added;
    else if (old.rules()[static_cast<size_t>(i)].fingerprint != r.fingerprint) ++stats.changed;
    else {
      from[j] = i;
      ++stats.kept;
    }
  }
  std::vector<const std::string*> removed;
  for (const auto& r : old.rules()) {
    if (next->index_of(r.id) < 0) removed.push_back(&r.id);
  }
  stats.removed = static_cast<uint32_t>(removed.size());
  // old index -> new index of the same unchanged rule, or -1.
  std::vector<int> to(old.rules().size(), -1);
  for (uint32_t j = 0; j < from.size(); ++j) {
    if (from[j] >= 0) to[static_cast<size_t>(from[j])] = static_cast<int>(j);
  }

  const size_t n = next->rules().size();
  if (reload_in_place(*next, from, stats)) {
    engine_ = rules::RuleEngine(std::move(next));
    return stats;
  }
  handles_.each_armed([this](uint32_t h) { timers_.cancel(h); });
  handles_.reset(timer_rules(*next));
  handles_.ensure(elders_.size());
  armed_without_handle_ = false;
  ++epoch_;  // anything armed before is stale; kept rules' timers are re-armed below
  for (uint32_t k = 0; k < elders_.size(); ++k) {
    if (!free_.empty() && is_free(k)) continue;
    current_ = k;
    registry::ElderState& e = elders_[k];
    if (tasks_on()) sink_.set_task(task_of_elder(e.profile.elder_id()));
    const bool was_dirty = e.dirty;
    for (const std::string* id : removed) {
      if (alarm::AlarmBook::active(e, *id) != nullptr) {
        alarms_.auto_clear(e, *id, now, "rule_removed");
        ++stats.alarms_cleared;
      }
    }
    registry::SlotMap slots;
    slots.resize(n);
    for (size_t h = 0; h < e.slots.held(); ++h) {
      const int j = to[e.slots.rule_at(h)];
      if (j >= 0) slots[static_cast<size_t>(j)] = std::move(e.slots.slot_at(h));
    }
    // Slots of changed and removed rules are dropped: the record on disk must lose them too.
    if (stats.changed + stats.removed > 0) e.dirty = true;
    e.slots = std::move(slots);
    for (size_t h = 0; h < e.slots.held(); ++h) {
      const registry::RuleSlot& slot = e.slots.slot_at(h);
      const uint32_t j = e.slots.rule_at(h);
      if (slot.due != 0) {
        const uint32_t h = timers_.arm(slot.due, epoch_, static_cast<uint16_t>(j), slot.generation, k);
        if (uint32_t* handle = handles_.find(k, j)) *handle = h;
        else armed_without_handle_ = true;
        ++stats.timers_rearmed;
      }
    }
    mark_dirty(e, was_dirty);
  }
  engine_ = rules::RuleEngine(std::move(next));
  return stats;
}

bool ShardCore::reload_in_place(const rules::RuleSet& next, const std::vector<int>& from,
                                ReloadStats& stats) {
  // The common edit (a threshold, a duration) keeps every rule at its index: then kept rules'
  // timers stay armed with their handles under the same epoch and only the changed rules' are
  // cancelled. Cancelling and re-arming every timer of the shard on each reload made memory grow
  // with the number of reloads: a cancelled timer in the wheel's overdue heap keeps its node
  // until its due time (bench/README.md "Reload").
  const rules::RuleSet& old = engine_.rules();
  const size_t n = next.rules().size();
  if (n != old.rules().size() || stats.added + stats.removed > 0) return false;
  // Timers stay armed only where their handles stay in the same columns.
  if (armed_without_handle_ || timer_rules(next) != handles_.arms()) return false;
  for (uint32_t j = 0; j < n; ++j) {
    if (old.index_of(next.rules()[j].id) != static_cast<int>(j)) return false;
  }
  for (uint32_t k = 0; k < elders_.size(); ++k) {
    if (!free_.empty() && is_free(k)) continue;
    registry::ElderState& e = elders_[k];
    const bool was_dirty = e.dirty;
    if (e.slots.size() != n) e.slots.resize(n);
    for (uint32_t j = 0; j < n; ++j) {
      uint32_t* handle = handles_.find(k, j);
      if (from[j] >= 0) {
        if (handle != nullptr && *handle != TimerHandles::kNil) ++stats.timers_rearmed;
        continue;
      }
      // A changed rule starts fresh: its slot and timer go (the record on disk loses them too).
      // An elder with no slot for it has nothing to drop (operator[] would give it one, a block
      // reshaped in every elder on every reload until the snapshot compacts it away).
      if (handle != nullptr && *handle != TimerHandles::kNil) timers_.cancel(*handle);
      if (handle != nullptr) *handle = TimerHandles::kNil;
      if (registry::RuleSlot* slot = e.slots.find(j)) {
        *slot = registry::RuleSlot{};
        e.dirty = true;
      }
    }
    current_ = k;
    mark_dirty(e, was_dirty);
  }
  return true;
}

void ShardCore::raise(registry::ElderState& e, uint32_t rule, std::string_view device_id, TimeMs ts,
                      const std::string& message) {
  if (!late_note_.empty()) {
    alarms_.raise(e, engine_.rules().rules()[rule], device_id, ts, message + late_note_);
    return;
  }
  alarms_.raise(e, engine_.rules().rules()[rule], device_id, ts, message);
}

void ShardCore::raise_with(registry::ElderState& e, uint32_t rule, vigil::v1::Severity severity,
                           std::string_view device_id, TimeMs ts, const std::string& message) {
  alarms_.raise(e, engine_.rules().with_severity(rule, severity), device_id, ts, message);
}

void ShardCore::remind(const registry::ElderState& e, uint32_t /*rule*/, std::string_view kind,
                       TimeMs ts, const std::string& message) {
  vigil::v1::Reminder r;
  r.set_elder_id(std::string(e.profile.elder_id()));
  r.set_kind(std::string(kind));
  set_ts(r.mutable_ts(), ts);
  r.set_message(message);
  sink_.emit(OutTopic::kReminders, e.profile.elder_id(), r);
}

void ShardCore::clear(registry::ElderState& e, uint32_t rule, TimeMs ts, std::string_view reason) {
  alarms_.auto_clear(e, engine_.rules().rules()[rule].id, ts, reason);
}

bool ShardCore::active(const registry::ElderState& e, uint32_t rule) const {
  return alarm::AlarmBook::active(e, engine_.rules().rules()[rule].id) != nullptr;
}

void ShardCore::arm(const registry::ElderState& e, uint32_t rule, TimeMs due, uint64_t generation) {
  // The rule engine arms only for the elder it is evaluating; look the index up otherwise.
  uint32_t key = current_;
  if (current_ >= elders_.size() || &elders_[current_] != &e) {
    key = find_elder(e.profile.elder_id());
    if (key == pipeline::KeyIndex::kNone) return;
  }
  const uint32_t h = timers_.arm(due, epoch_, static_cast<uint16_t>(rule), generation, key);
  uint32_t* handle = handles_.find(key, rule);
  if (handle == nullptr) {
    armed_without_handle_ = true;  // still correct: a stale timer is ignored by its generation
    return;
  }
  if (*handle != TimerHandles::kNil) timers_.cancel(*handle);  // the slot moved its deadline
  *handle = h;
}

void ShardCore::collect_dirty(state::StateOps& ops) {
  begin_snapshot(ops);
  continue_snapshot(SIZE_MAX);
}

void ShardCore::begin_snapshot(state::StateOps& ops) {
  if (snap_ops_ != nullptr) continue_snapshot(SIZE_MAX);  // never two at once
  snap_ops_ = &ops;
  snap_list_.swap(dirty_);
  dirty_.clear();
  snap_next_ = 0;
  if (snap_pending_.size() < elders_.size()) snap_pending_.resize(elders_.size(), false);
  // Every elder on the list was dirty when it went on (mark_dirty, the timers' touched list),
  // and only snapshot_elder clears the flag, which checks it again. So the list alone says
  // what is pending: reading each elder's flag here was a cache miss per elder at the barrier,
  // 0.7-4.5 ms of held records with ~50,000 dirty elders a shard (bench/README.md, session 18).
  for (uint32_t k : snap_list_) snap_pending_[k] = true;  // repeats: set twice
  alarms_.begin_history();  // the alarm book's part, as of the barrier (moved below)
}

bool ShardCore::continue_snapshot(size_t budget) {
  if (snap_ops_ == nullptr) return true;
  // The alarm history first: a record costs about half an elder's serialisation.
  const size_t history_budget = budget > SIZE_MAX / 2 ? SIZE_MAX : budget * 2;
  if (!alarms_.move_history(*snap_ops_, history_budget)) return false;
  // The elders are in the order they were first changed, scattered in memory: their lines
  // are asked for a few elders ahead, as the shard loop does for records (each elder's record,
  // profile id and slots are otherwise a cache miss apiece).
  // The record, what it points to, all of the slot block, the slots' extras.
  constexpr size_t kAhead[4] = {10, 7, 4, 2};
  for (size_t done = 0; snap_next_ < snap_list_.size() && done < budget; ++snap_next_) {
    for (int stage = 1; stage <= 4; ++stage) {
      const size_t at = snap_next_ + kAhead[stage - 1];
      if (at < snap_list_.size()) prefetch_elder(snap_list_[at], stage);
    }
    const uint32_t k = snap_list_[snap_next_];
    if (!snap_pending_[k]) continue;  // already serialised (changed after the barrier) or a repeat
    snapshot_elder(k);
    ++done;
  }
  if (snap_next_ < snap_list_.size()) return false;
  snap_list_.clear();
  snap_ops_ = nullptr;
  return true;
}

void ShardCore::snapshot_elder(uint32_t k) {
  snap_pending_[k] = false;
  registry::ElderState& e = elders_[k];
  if (!e.dirty) return;
  state::StateOps& ops = *snap_ops_;
  const auto& keys = engine_.rules().keys();
  const std::string_view id = e.profile.elder_id();  // the profile is not changed below
  const int32_t task = task_of_elder(id);
  key_.assign("p/").append(id);
  if (e.profile_dirty) {
    // The registry part: only when a registry record changed it (rare), never per event.
    ops.puts.add_with(key_, task, [&](std::string& out) { registry::append_profile(e, &out); });
    e.profile_dirty = false;
  }
  // Slots that went idle with no timer pending give their memory back (a restart drops them
  // the same way: idle slots are not stored).
  // (A slot kept while a disarmed timer is pending: a fresh slot's generation could match it.)
  e.slots.compact([&](uint32_t ri, const registry::RuleSlot& slot) {
    const bool untracked = armed_without_handle_ && !handles_.has_column(ri);
    return slot.idle() && slot.device == 0 && !untracked && handles_.get(k, ri) == TimerHandles::kNil;
  });
  key_[0] = 'e';
  if (stored_.size() <= k) stored_.resize(k + 1, false);
  // The e/ value is written straight into the checkpoint's buffer (no string per elder).
  const bool written = ops.puts.add_with(
      key_, task, [&](std::string& out) { registry::append_dynamic(e, keys, &out); },
      /*keep_empty=*/false);
  if (written) {
    stored_[k] = true;
  } else if (stored_[k]) {
    ops.del(key_, task);  // no rule or alarm state left: an empty elder needs no record
    stored_[k] = false;
  }
  e.dirty = false;
}

uint32_t ShardCore::apply_stored(char kind, std::string_view id, std::string_view value,
                                 size_t& corrupt) {
  if (pipeline::shard_of(id, shards_) != index_) return pipeline::KeyIndex::kNone;
  vigil::state::ElderRecord& r = record_;
  r.Clear();
  if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    ++corrupt;
    return pipeline::KeyIndex::kNone;
  }
  registry::ElderState& e = elder_for(std::string(id));
  registry::merge_record(e, r, engine_.rules().ids(), engine_.rules().keys());
  e.profile.set_elder_id(std::string(id));
  if (kind == 'e') {
    if (stored_.size() <= current_) stored_.resize(current_ + 1, false);
    stored_[current_] = true;
  }
  return current_;
}

void ShardCore::rearm_elder(uint32_t k) {
  current_ = k;
  engine_.rearm(elders_[k], *this);
  alarms_.rearm(elders_[k]);
}

Status ShardCore::load(const state::StateStore& store) {
  size_t corrupt = 0;
  // p/ (profile, devices) first, then e/ (rule and alarm state; a store written before the
  // split holds the whole record there, which merges the same way).
  for (const char* prefix : {"p/", "e/"}) {
    auto s = store.scan(prefix, [&](std::string_view key, std::string_view value) {
      apply_stored(prefix[0], key, value, corrupt);
    }, state::StateStore::ScanSize::kBulk);
    if (!s) return s;
  }
  for (uint32_t k = 0; k < elders_.size(); ++k) {
    if (!free_.empty() && is_free(k)) continue;
    rearm_elder(k);
  }
  if (corrupt) log::error("shard", "skipped ", corrupt, " unreadable elder records");
  return ok();
}

void ShardCore::begin_load(const state::StateStore& store) {
  load_ = std::make_unique<BackgroundLoad>();
  load_->store = &store;
  load_->p.cursor = store.cursor("p/");
  load_->e.cursor = store.cursor("e/");
  load_stats_ = LoadStats{};
}

uint32_t ShardCore::load_elder(std::string_view id, const std::string_view* p,
                                const std::string_view* e) {
  in_load_ = true;
  size_t corrupt = 0;
  uint32_t k = pipeline::KeyIndex::kNone;
  if (p != nullptr) k = apply_stored('p', id, *p, corrupt);
  if (e != nullptr) {
    const uint32_t ke = apply_stored('e', id, *e, corrupt);
    if (ke != pipeline::KeyIndex::kNone) k = ke;
  }
  if (k != pipeline::KeyIndex::kNone) rearm_elder(k);
  load_stats_.corrupt += corrupt;
  in_load_ = false;
  return k;
}

void ShardCore::load_on_demand(const std::string& elder_id) {
  // An elder not loaded yet is either stored (read it now, or its state would be replaced by
  // a fresh one and the background step would then skip it as loaded) or new. Its state must
  // not be guessed, so a store that answers kIo (closed by a disk-full recover()) is asked
  // again until it answers; the shard holds its records meanwhile, as a full disk holds
  // checkpoints (docs/operations.md).
  std::string pk = "p/" + elder_id;
  std::string ek = "e/" + elder_id;
  for (int tries = 0;; ++tries) {
    auto p = load_->store->get(pk);
    auto e = load_->store->get(ek);
    if (p && e) {
      if (p.value() || e.value()) {
        const std::string_view pv = p.value() ? std::string_view(*p.value()) : std::string_view();
        const std::string_view ev = e.value() ? std::string_view(*e.value()) : std::string_view();
        (void)load_elder(elder_id, p.value() ? &pv : nullptr, e.value() ? &ev : nullptr);
        ++load_stats_.on_demand;
      }
      return;
    }
    if (tries == 0) {
      log::error("shard", "shard ", index_, ": elder ", elder_id, " cannot be read from the store (",
                 (p ? e.error() : p.error()).message, "); its records wait until it can");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ShardCore::refill(BackgroundLoad::Prefix& pre) {
  // Steps of this many keys of the prefix (both shards' elders: each shard reads every key).
  constexpr size_t kStepKeys = 1024;
  while (pre.next == pre.at.size() && !pre.done) {
    pre.bytes.clear();
    pre.at.clear();
    pre.next = 0;
    auto n = load_->store->next(*pre.cursor, kStepKeys, [&](std::string_view id, std::string_view value) {
      if (pipeline::shard_of(id, shards_) != index_) return;
      pre.at.push_back({static_cast<uint32_t>(pre.bytes.size()), static_cast<uint32_t>(id.size()),
                        static_cast<uint32_t>(value.size())});
      pre.bytes.append(id).append(value);
    });
    if (!n) {
      if (!load_->io_error_logged) {
        load_->io_error_logged = true;
        log::error("shard", "shard ", index_, ": background load paused: ", n.error().message);
      }
      return false;
    }
    if (n.value() < kStepKeys) pre.done = true;
  }
  return true;
}

bool ShardCore::continue_load(size_t budget) {
  if (load_ == nullptr) return true;
  BackgroundLoad& l = *load_;
  for (size_t i = 0; i < budget; ++i) {
    if (!refill(l.p) || !refill(l.e)) return false;
    const bool has_p = l.p.next < l.p.at.size();
    const bool has_e = l.e.next < l.e.at.size();
    if (!has_p && !has_e) {
      if (load_stats_.corrupt) log::error("shard", "skipped ", load_stats_.corrupt, " unreadable elder records");
      load_.reset();
      return true;
    }
    // The smaller id of the two heads; an elder with both values takes both at once.
    const std::string_view p = has_p ? l.p.key(l.p.next) : std::string_view();
    const std::string_view e = has_e ? l.e.key(l.e.next) : std::string_view();
    const std::string_view id = (has_p && (!has_e || p <= e)) ? p : e;
    const std::string_view pval = has_p && p == id ? l.p.value(l.p.next) : std::string_view();
    const std::string_view eval = has_e && e == id ? l.e.value(l.e.next) : std::string_view();
    const std::string_view* pv = has_p && p == id ? &pval : nullptr;
    const std::string_view* ev = has_e && e == id ? &eval : nullptr;
    // A record that asked for the elder first loaded it (or made it new) already.
    if (find_elder(id) == pipeline::KeyIndex::kNone) {
      (void)load_elder(id, pv, ev);
      ++load_stats_.background;
    }
    if (pv != nullptr) ++l.p.next;
    if (ev != nullptr) ++l.e.next;
  }
  return false;
}

std::optional<vigil::state::ElderRecord> read_elder_record(const state::StateStore& store,
                                                           const std::string& elder_id) {
  auto p = store.get("p/" + elder_id);
  auto e = store.get("e/" + elder_id);
  if (!p || !e || (!p.value() && !e.value())) return std::nullopt;
  // Two serialised parts of one message concatenate into the whole message.
  std::string both = p.value().value_or("") + e.value().value_or("");
  vigil::state::ElderRecord r;
  if (!r.ParseFromString(both)) return std::nullopt;
  return r;
}

}  // namespace vigil::runtime
