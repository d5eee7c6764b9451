// The dispatcher's side of tasks (engine/dispatch/README.md "Tasks"; docs/design.md, "State that
// moves with its partition"): a region's task, and dropping and restoring the agencies and
// orders of a task when its `orders` partition moves to or from this instance.
#include <unordered_set>

#include "engine/core/log.h"
#include "engine/dispatch/dispatcher.h"
#include "engine/state/task.h"

namespace vigil::dispatch {

using vigil::state::OrderRecord;

int32_t Dispatcher::task_of_region(const std::string& region) const {
  return tasks_on() ? state::task_of(region_key(region), config_.task_partitions) : -1;
}

int32_t Dispatcher::task_of_order(const std::string& order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? -1 : task_of_region(it->second.region());
}

void Dispatcher::drop_task(int32_t task) {
  if (!tasks_on()) return;
  continue_snapshot(SIZE_MAX);  // the orders owed to a snapshot in progress are written first
  std::vector<std::string> agencies;
  agencies_.for_each([&](AgencyEntry& e) {
    if (task_of_region(e.record.agency().region()) == task) {
      agencies.push_back(e.record.agency().agency_id());
    }
  });
  for (const auto& id : agencies) agencies_.erase(id);
  std::unordered_set<std::string> orders;
  for (auto it = orders_.begin(); it != orders_.end();) {
    if (task_of_region(it->second.region()) != task) {
      ++it;
      continue;
    }
    orders.insert(it->first);
    dirty_orders_.erase(it->first);
    it = orders_.erase(it);
  }
  // Closed orders' records not yet written went out with the barrier's snapshot, if at all.
  std::erase_if(closing_writes_, [&](const ClosingWrite& w) { return w.task == task; });
  // Their timers would be ignored (no such order), but a restore of the same orders later would
  // arm them again beside the old ones: removed now.
  if (!orders.empty()) {
    timers_.remove_if([&](const pipeline::Timer& t) { return orders.count(t.key) != 0; });
  }
  log::info("dispatch", "dropped task ", task, ": ", agencies.size(), " agencies, ", orders.size(),
            " orders");
}

void Dispatcher::restore(const std::vector<std::pair<std::string, std::string>>& kv,
                         TimeMs now) {
  continue_snapshot(SIZE_MAX);  // the orders owed to a snapshot in progress are written first
  auto has_prefix = [](const std::string& key, std::string_view prefix) {
    return key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0;
  };
  size_t corrupt = 0;
  // As load(): agencies first, then orders (which count their pending offers on the agencies).
  for (const auto& [key, value] : kv) {
    if (!has_prefix(key, "g/")) continue;
    if (!load_agency(value)) {  // replaces an agency of the same id
      ++corrupt;
      continue;
    }
    if (AgencyEntry* a = agencies_.find(key.substr(2))) a->dirty = true;
  }
  // Orders of the same ids go first, with their timers; load_order arms the restored ones.
  std::unordered_set<std::string> replaced;
  for (const auto& [key, value] : kv) {
    if (has_prefix(key, "d/") && orders_.erase(key.substr(2)) != 0) replaced.insert(key.substr(2));
  }
  if (!replaced.empty()) {
    timers_.remove_if([&](const pipeline::Timer& t) { return replaced.count(t.key) != 0; });
  }
  for (const auto& [key, value] : kv) {
    if (!has_prefix(key, "d/")) continue;
    const std::string id = key.substr(2);
    if (!load_order(id, value, now, /*write=*/true)) {
      ++corrupt;
      continue;
    }
    if (orders_.count(id) != 0) dirty_orders_.insert(id);  // a closed one is written as it came
  }
  // Pending offers are not stored: recount them over every order, as a load would.
  agencies_.for_each([](AgencyEntry& a) { a.pending = 0; });
  for (const auto& [id, o] : orders_) {
    if (o.state() != vigil::v1::OFFERED || o.offer_expires_ms() == 0) continue;
    if (AgencyEntry* a = agencies_.find(o.agency_id())) a->pending++;
  }
  if (corrupt) log::error("dispatch", "restore skipped ", corrupt, " unreadable records");
}

void Dispatcher::mark_task_dirty(int32_t task) {
  if (!tasks_on()) return;
  continue_snapshot(SIZE_MAX);  // the orders owed to a snapshot in progress are written first
  agencies_.for_each([&](AgencyEntry& e) {
    if (task_of_region(e.record.agency().region()) == task) e.dirty = true;
  });
  for (const auto& [id, o] : orders_) {
    if (task_of_region(o.region()) == task) dirty_orders_.insert(id);
  }
}

}  // namespace vigil::dispatch
