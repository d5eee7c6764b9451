#pragma once
// Reading and writing a task's changelog (docs/design.md, "State that moves with its
// partition"). Each checkpoint appends, per task it changed, the task's state writes and then
// one marker (key kMarkerKey). A task's state is therefore the changelog folded up to its last
// marker: records after it belong to a checkpoint whose writer died before finishing it.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/egress/sink.h"
#include "engine/runtime/outbox.h"
#include "engine/runtime/task_log.h"
#include "engine/state/state_store.h"

namespace vigil::runtime {

//! The marker's key; state keys always contain a '/', so it cannot clash.
inline constexpr const char* kMarkerKey = "m";

struct TaskMarker {
  std::string instance;
  uint64_t epoch = 0;
  state::OffsetMap offsets;             //!< the task's input partitions only
  egress::OutputPositions positions;    //!< output positions before the epoch's outputs
  std::vector<OutRecord> outputs;       //!< the task's outputs of the epoch
  std::vector<uint32_t> indices;        //!< each output's index in the epoch's tags
};

std::string encode_marker(const TaskMarker& marker);
//! False if `value` is not a marker.
bool decode_marker(std::string_view value, TaskMarker* marker);

//! A task's changelog folded up to its last marker.
struct FoldedTask {
  std::optional<TaskMarker> marker;  //!< the last marker; none for a task never checkpointed
  //! The state as of that marker: key -> value, deletes applied, in key order.
  std::vector<std::pair<std::string, std::string>> state;
  //! Keys written only after the last marker (an unfinished checkpoint): whoever restores the
  //! task deletes them in its first checkpoint, so that a compacted changelog never keeps them.
  std::vector<std::string> orphans;
  size_t records = 0;    //!< changelog records read
  size_t discarded = 0;  //!< of them, after the last marker
};

//! Folds `entries` (a changelog partition from its beginning). Returns kInvalidInput if the
//! last marker does not decode.
Result<FoldedTask> fold_changelog(const std::vector<TaskLogEntry>& entries);

}  // namespace vigil::runtime
