#pragma once
// Where the engine's output records go: Kafka in production and the demo, a JSON-lines file in
// replay, a vector in tests. Owners call emit() from their own thread; implementations say
// whether they are thread-safe.

#include <google/protobuf/message.h>

#include <mutex>

#include <string>
#include <string_view>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/result.h"

namespace vigil::egress {

class Sink {
 public:
  virtual ~Sink() = default;
  //! Hands one output record to the sink. Never blocks for long; failures are counted and
  //! logged by the implementation.
  virtual void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) = 0;
  //! Waits until everything emitted so far is durable at the destination, up to timeout_ms.
  //! Returns kBroker/kIo naming what is still outstanding on failure.
  virtual Status flush(int timeout_ms) = 0;
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
