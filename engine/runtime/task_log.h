#pragma once
// The changelog of the engine's tasks (docs/design.md, "State that moves with its partition").
// A task is a partition number p of the co-partitioned inputs; changelog partition p holds,
// in order, every state write of task p's checkpoints, each checkpoint closed by a marker
// (engine/runtime/task_marker.h). Kafka in production (egress::KafkaChangelog: a compacted
// topic); any ordered per-partition log in tests.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace vigil::runtime {

//! One changelog record: a store key and its value, or no value for a delete (a tombstone).
struct TaskLogEntry {
  std::string key;
  std::optional<std::string> value;
};

class TaskLog {
 public:
  virtual ~TaskLog() = default;
  //! The number of tasks (the changelog's partitions, equal to every input topic's).
  virtual int32_t partitions() const = 0;
  //! Appends one record to task `task`'s partition; `value` null for a tombstone. Records of
  //! one task keep the order of their appends. The engine's commit thread only.
  virtual void append(int32_t task, std::string_view key, const std::string* value) = 0;
  //! Waits until every record appended so far is durable, up to timeout_ms. Returns kBroker
  //! naming what is outstanding or failed.
  virtual Status flush(int timeout_ms) = 0;
  //! Every record of task `task`'s partition, from its beginning to its end as of this call.
  //! The ingest thread only.
  virtual Result<std::vector<TaskLogEntry>> read(int32_t task, int timeout_ms) = 0;
};

}  // namespace vigil::runtime
