// ShardCore's side of tasks (engine/runtime/README.md "Tasks"; docs/design.md, "State that moves
// with its partition"): which task an elder is, refusing records on the wrong partition, and
// dropping and restoring a task's elders when its partitions move to or from this instance.
#include <algorithm>
#include <numeric>
#include <unordered_set>

#include "engine/core/log.h"
#include "engine/runtime/shard_core.h"
#include "engine/state/task.h"

namespace vigil::runtime {

int32_t ShardCore::task_of_elder(std::string_view elder_id) const {
  return tasks_on() ? state::task_of(elder_id, options_.task_partitions) : -1;
}

bool ShardCore::task_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now) {
  if (!tasks_on()) return true;
  const int32_t task = task_of_elder(elder_id);
  if (rec.partition == task) return true;
  // Applied here it would sit with the state of another task: lost when either task moves.
  emit_deadletter(sink_, rec,
                  "record of elder '" + elder_id + "' (key '" + rec.key + "') is on " +
                      std::string(name(rec.topic)) + " partition " + std::to_string(rec.partition) +
                      " but the elder's task is partition " + std::to_string(task) + " of " +
                      std::to_string(options_.task_partitions) +
                      ": producers must key by elder_id with librdkafka's default partitioner",
                  now);
  return false;
}

void ShardCore::forget_elder(uint32_t k) {
  handles_.each_of(k, [this](uint32_t& h) {
    if (h != TimerHandles::kNil) timers_.cancel(h);
    h = TimerHandles::kNil;
  });
  index_of_.erase(id_at(k), [this](uint32_t i) { return id_at(i); });
  // A fresh record gives the elder's memory back (slots, alarms, strings); the empty id marks
  // the index free until elder_for() hands it to the next new elder.
  elders_[k] = registry::ElderState();
  if (k < stored_.size()) stored_[k] = false;
  if (k < snap_pending_.size()) snap_pending_[k] = false;
  free_.push_back(k);
}

void ShardCore::drop_task(int32_t task) {
  if (!tasks_on()) return;
  continue_snapshot(SIZE_MAX);  // the elders owed to a snapshot in progress are written first
  size_t dropped = 0;
  for (uint32_t k = 0; k < elders_.size(); ++k) {
    if (is_free(k) || task_of_elder(elders_[k].profile.elder_id()) != task) continue;
    forget_elder(k);
    ++dropped;
  }
  if (dropped == 0) return;
  alarms_.forget_elders([&](const std::string& id) { return task_of_elder(id) == task; });
  dirty_.erase(std::remove_if(dirty_.begin(), dirty_.end(), [&](uint32_t k) { return is_free(k); }),
               dirty_.end());
  log::info("shard", "shard ", index_, " dropped task ", task, ": ", dropped, " elders");
}

void ShardCore::restore(const std::vector<std::pair<std::string, std::string>>& kv,
                        TimeMs /*now*/) {
  continue_snapshot(SIZE_MAX);
  // The elders restored replace whatever this shard has of them.
  std::unordered_set<std::string_view> ids;
  for (const auto& [key, value] : kv) {
    if (key.size() > 2 && (key.compare(0, 2, "p/") == 0 || key.compare(0, 2, "e/") == 0)) {
      ids.insert(std::string_view(key).substr(2));
    }
  }
  bool forgot = false;
  for (std::string_view id : ids) {
    const uint32_t k = find_elder(id);
    if (k == pipeline::KeyIndex::kNone) continue;
    forget_elder(k);
    forgot = true;
  }
  if (forgot) {
    alarms_.forget_elders([&](const std::string& id) { return ids.count(id) != 0; });
    dirty_.erase(
        std::remove_if(dirty_.begin(), dirty_.end(), [&](uint32_t k) { return is_free(k); }),
        dirty_.end());
  }
  // As load(): p/ (profile, devices) first, then e/ (rule and alarm state).
  size_t corrupt = 0;
  std::vector<uint32_t> restored;
  for (char kind : {'p', 'e'}) {
    for (const auto& [key, value] : kv) {
      if (key.size() <= 2 || key[0] != kind || key[1] != '/') continue;
      const uint32_t k = apply_stored(kind, std::string_view(key).substr(2), value, corrupt);
      if (k != pipeline::KeyIndex::kNone) restored.push_back(k);
    }
  }
  std::sort(restored.begin(), restored.end());
  restored.erase(std::unique(restored.begin(), restored.end()), restored.end());
  for (uint32_t k : restored) {
    rearm_elder(k);
    registry::ElderState& e = elders_[k];
    // Written again at the next checkpoint, p/ too: this instance's store gets the state it
    // now owns, and the changelog gets it from its new owner.
    const bool was_dirty = e.dirty;
    e.dirty = true;
    e.profile_dirty = true;
    if (!was_dirty) dirty_.push_back(k);
    // Restored without an e/ (no rule or alarm state): the next checkpoint deletes any e/ this
    // instance's store still holds from an earlier ownership of the task.
    if (stored_.size() <= k) stored_.resize(k + 1, false);
    stored_[k] = true;
  }
  if (corrupt) log::error("shard", "restore skipped ", corrupt, " unreadable elder records");
}

void ShardCore::mark_task_dirty(int32_t task) {
  if (!tasks_on()) return;
  for (uint32_t k = 0; k < elders_.size(); ++k) {
    if (is_free(k) || task_of_elder(id_at(k)) != task) continue;
    registry::ElderState& e = elders_[k];
    const bool was_dirty = e.dirty;
    e.dirty = true;
    e.profile_dirty = true;
    if (!was_dirty) dirty_.push_back(k);
  }
}

}  // namespace vigil::runtime
