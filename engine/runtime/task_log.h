#pragma once
// The changelog of the engine's tasks (docs/design.md, "State that moves with its partition").
// A task is a partition number p of the co-partitioned inputs; changelog partition p holds,
// in order, every state write of task p's checkpoints, each checkpoint closed by a marker
// (engine/runtime/task_marker.h). Kafka in production (egress::KafkaChangelog: a compacted
// topic); any ordered per-partition log in tests.

#include <cstdint>
#include <map>
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
  virtual void append(int32_t task, std::string_view key, const std::string_view* value) = 0;
  //! Waits until every record appended so far is durable, up to timeout_ms. Returns kBroker
  //! naming what is outstanding or failed.
  virtual Status flush(int timeout_ms) = 0;
  //! Every record of task `task`'s partition, from its beginning to its end as of this call.
  //! The ingest thread only.
  virtual Result<std::vector<TaskLogEntry>> read(int32_t task, int timeout_ms) = 0;
};

//! Fencing (docs/design.md, "Fencing a zombie"): before a checkpoint of its tasks reaches the
//! changelog, and again before its outputs reach the topics if that was long ago, the engine
//! asks the group whether this instance still owns them. In production the consumer group's
//! coordinator answers (ingest::KafkaSource); an instance the group moved on from without its
//! knowing (a zombie) is told so and writes nothing more of its tasks.
class TaskFence {
 public:
  enum class Verdict {
    kOwner,    //!< the group knows this member at its generation: its tasks are its own
    kFenced,   //!< the group moved on: the tasks are lost (another instance may restore them)
    kUnknown,  //!< no answer (coordinator unreachable, timed out): ask again
  };
  struct Answer {
    Verdict verdict = Verdict::kUnknown;
    std::string why;  //!< the coordinator's error, for the log
  };
  virtual ~TaskFence() = default;
  //! Asks, waiting up to timeout_ms. `next`: task -> the next telemetry offset of its
  //! checkpoint (committed to the group as a side effect: the question is an offset commit).
  //! The engine's commit thread only.
  virtual Answer confirm(const std::map<int32_t, int64_t>& next, int timeout_ms) = 0;
  //! How long ownership holds without a question: the group moves a member's tasks only
  //! after it was silent for its session timeout (or after the member revoked them itself),
  //! so an instance that ran, without trouble, for less than half of it still owns them.
  virtual int lease_ms() const = 0;
  //! Errors the member's client has seen so far (broker connections, the coordinator): any new
  //! one puts ownership in doubt until confirm() says kOwner again. Any thread.
  virtual uint64_t troubles() const = 0;
};

}  // namespace vigil::runtime
