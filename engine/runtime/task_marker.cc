#include "engine/runtime/task_marker.h"

#include <map>
#include <set>

#include "schemas/state.pb.h"

namespace vigil::runtime {

std::string encode_marker(const TaskMarker& marker) {
  vigil::state::TaskMarkerRecord r;
  r.set_instance(marker.instance);
  r.set_epoch(marker.epoch);
  for (const auto& [tp, next] : marker.offsets) {
    auto* o = r.add_offsets();
    o->set_topic(static_cast<uint32_t>(tp.first));
    o->set_partition(tp.second);
    o->set_next(next);
  }
  r.set_positions(encode_positions(marker.positions));
  r.set_outputs(encode_outbox(marker.outputs));
  for (uint32_t i : marker.indices) r.add_indices(i);
  return r.SerializeAsString();
}

bool decode_marker(std::string_view value, TaskMarker* marker) {
  vigil::state::TaskMarkerRecord r;
  if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
  marker->instance = r.instance();
  marker->epoch = r.epoch();
  marker->offsets.clear();
  for (const auto& o : r.offsets()) {
    if (o.topic() > static_cast<uint32_t>(InTopic::kOrders)) return false;
    marker->offsets[{static_cast<InTopic>(o.topic()), o.partition()}] = o.next();
  }
  marker->positions = decode_positions(r.positions());
  if (!decode_outbox(r.outputs(), &marker->outputs)) return false;
  marker->indices.assign(r.indices().begin(), r.indices().end());
  return marker->indices.size() == marker->outputs.size();
}

Result<FoldedTask> fold_changelog(const std::vector<TaskLogEntry>& entries) {
  FoldedTask out;
  out.records = entries.size();
  size_t last = entries.size();  // index of the last marker
  for (size_t i = entries.size(); i-- > 0;) {
    if (entries[i].key == kMarkerKey && entries[i].value) {
      last = i;
      break;
    }
  }
  std::map<std::string, std::string> state;
  if (last < entries.size()) {
    for (size_t i = 0; i < last; ++i) {
      const TaskLogEntry& e = entries[i];
      if (e.key == kMarkerKey) continue;
      if (e.value) {
        state[e.key] = *e.value;
      } else {
        state.erase(e.key);
      }
    }
    TaskMarker marker;
    if (!decode_marker(*entries[last].value, &marker)) {
      return make_error(Errc::kInvalidInput, "the task's last changelog marker does not decode");
    }
    out.marker = std::move(marker);
  }
  const size_t tail_from = last < entries.size() ? last + 1 : 0;
  std::set<std::string> orphans;
  for (size_t i = tail_from; i < entries.size(); ++i) {
    const TaskLogEntry& e = entries[i];
    if (e.key == kMarkerKey) continue;
    ++out.discarded;
    if (!state.contains(e.key)) orphans.insert(e.key);
  }
  out.orphans.assign(orphans.begin(), orphans.end());
  out.state.assign(std::make_move_iterator(state.begin()), std::make_move_iterator(state.end()));
  return out;
}

}  // namespace vigil::runtime
