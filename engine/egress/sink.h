#pragma once
// Where the engine's output records go: Kafka in production and the demo, a JSON-lines file in
// replay, a vector in tests. Owners call emit() from their own thread; implementations say
// whether they are thread-safe.

#include <google/protobuf/message.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/result.h"

namespace vigil::egress {

//! Who emitted an output record in exactly-once delivery: the engine instance (its data
//! directory's id), the checkpoint epoch, and the record's place in that epoch's outputs.
struct OutputTag {
  std::string_view instance;
  uint64_t epoch = 0;
  uint32_t index = 0;
};
//! "<instance>/<epoch>/<index>", the value of the `vigil-out` record header.
std::string format_tag(const OutputTag& tag);
//! Parses a header value; true and `epoch`/`index` set if it is of `instance`.
bool parse_tag(std::string_view value, std::string_view instance, uint64_t* epoch, uint32_t* index);
inline constexpr const char* kTagHeader = "vigil-out";

//! Next offset per (output topic, partition).
using OutputPositions = std::map<std::pair<OutTopic, int32_t>, int64_t>;

class Sink {
 public:
  virtual ~Sink() = default;
  //! Hands one output record to the sink. Never blocks for long; failures are counted and
  //! logged by the implementation.
  virtual void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) = 0;
  //! Waits until everything emitted so far is durable at the destination, up to timeout_ms.
  //! Returns kBroker/kIo naming what is still outstanding on failure.
  virtual Status flush(int timeout_ms) = 0;
  //! The task whose work the next emits are (engine/state/task.h): an owner thread running
  //! with tasks calls it before each piece of work that can emit (a record, a timer). Sinks
  //! that do not track tasks ignore it (the default); runtime::OwnerSink stamps its records.
  virtual void set_task(int32_t /*task*/) {}

  // Exactly-once delivery (engine/state/README.md, "Exactly-once outputs"). The engine hands
  // a checkpoint's outputs over only after that checkpoint is durable, each with a tag
  // (instance, epoch, index) that a Kafka sink writes as a record header; after a crash the
  // engine asks which tagged records of the last epoch already reached the topics and sends
  // only the others. Sinks that cannot search (replay, tests, the bench) ignore the tag.

  //! Emits one record given as its Protobuf wire bytes, with its tag. The default decodes it
  //! and calls emit().
  virtual void emit_serialized(OutTopic topic, std::string_view key, std::string_view bytes,
                               const OutputTag& tag);
  //! True if find_tagged() works.
  virtual bool can_find_tagged() const { return false; }
  //! Lower bounds of the offsets where this sink's next records will land, per output
  //! partition; records emitted so far must be acknowledged (flush) before they are taken.
  virtual OutputPositions positions() { return {}; }
  //! The indices of records tagged (instance, epoch) at or after `from` (partitions missing
  //! from `from` are read from their beginning), read to the topics' current end.
  virtual Result<std::vector<uint32_t>> find_tagged(const OutputPositions& /*from*/,
                                                    std::string_view /*instance*/,
                                                    uint64_t /*epoch*/, int /*timeout_ms*/) {
    return make_error(Errc::kRejected, "this sink cannot search its output");
  }
};


//! Writes the replay output form, one line per record:
//! {"topic":"alarms","key":"e1","value":{...}}. Not thread-safe (replay is single-threaded).
class JsonLinesSink final : public Sink {
 public:
  explicit JsonLinesSink(std::string* out) : out_(out) {}
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;
  Status flush(int) override { return ok(); }

 private:
  std::string* out_;
};

//! Counts records and drops them: the durable sink of benches whose probes observe outputs.
class DiscardSink final : public Sink {
 public:
  void emit(OutTopic, std::string_view, const google::protobuf::Message&) override {
    records_.fetch_add(1, std::memory_order_relaxed);
  }
  void emit_serialized(OutTopic, std::string_view, std::string_view, const OutputTag&) override {
    records_.fetch_add(1, std::memory_order_relaxed);
  }
  Status flush(int) override { return ok(); }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> records_{0};
};

//! One captured output record, its value in canonical JSON.
struct CapturedRecord {
  OutTopic topic;
  std::string key;
  std::string json;
};

//! Keeps every record in memory, for tests. Thread-safe.
class CollectingSink final : public Sink {
 public:
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;
  Status flush(int) override { return ok(); }
  std::vector<CapturedRecord> records() const;
  std::vector<CapturedRecord> of(OutTopic topic) const;

 private:
  mutable std::mutex mu_;
  std::vector<CapturedRecord> records_;
};

//! Appends the replay output line for one record to `out` (no trailing newline).
void append_output_line(std::string* out, OutTopic topic, std::string_view key,
                        const google::protobuf::Message& msg);

}  // namespace vigil::egress
