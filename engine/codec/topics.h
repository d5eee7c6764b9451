#pragma once
// The topics of SPEC section 3 and their names under a configurable prefix (default "vigil.").

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

//! Input topics, plus kClock: the replay-only record that moves event time, and kOrders: the
//! internal topic of routed order work (dispatch.routing: kafka, docs/design.md "Several
//! instances"), read only in that mode.
enum class InTopic : uint8_t { kTelemetry = 0, kCalls, kAgency, kRegistry, kClock, kOrders };
inline constexpr std::array<InTopic, 4> kKafkaInputs = {InTopic::kTelemetry, InTopic::kCalls,
                                                        InTopic::kAgency, InTopic::kRegistry};

//! Output topics: the six of SPEC section 3, then the internal kOrders (the same topic as
//! InTopic::kOrders: written by shards and dispatchers, read by the region's owner).
enum class OutTopic : uint8_t {
  kAlarms = 0,
  kDispatch,
  kTracking,
  kOperator,
  kReminders,
  kDeadletter,
  kOrders,
};
inline constexpr std::array<OutTopic, 6> kOutputs = {OutTopic::kAlarms,   OutTopic::kDispatch,
                                                     OutTopic::kTracking, OutTopic::kOperator,
                                                     OutTopic::kReminders, OutTopic::kDeadletter};
//! Engine-internal output topics: not in kOutputs (not part of the product's outputs, not seen
//! by the API's views), but produced and recovered exactly-once like them.
inline constexpr std::array<OutTopic, 1> kInternalOutputs = {OutTopic::kOrders};
inline constexpr bool is_internal(OutTopic t) { return t == OutTopic::kOrders; }
//! kOutputs then kInternalOutputs: every topic the engine produces to.
inline constexpr std::array<OutTopic, kOutputs.size() + kInternalOutputs.size()> all_outputs() {
  std::array<OutTopic, kOutputs.size() + kInternalOutputs.size()> all{};
  size_t i = 0;
  for (OutTopic t : kOutputs) all[i++] = t;
  for (OutTopic t : kInternalOutputs) all[i++] = t;
  return all;
}

//! The bare name ("telemetry", "alarms", ...), as in replay files.
std::string_view name(InTopic topic);
std::string_view name(OutTopic topic);

std::optional<InTopic> parse_in_topic(std::string_view bare_name);
std::optional<OutTopic> parse_out_topic(std::string_view bare_name);

//! Topic names on the broker: prefix + bare name.
class TopicNames {
 public:
  explicit TopicNames(std::string prefix = "vigil.") : prefix_(std::move(prefix)) {}
  std::string of(InTopic topic) const { return prefix_ + std::string(name(topic)); }
  std::string of(OutTopic topic) const { return prefix_ + std::string(name(topic)); }
  //! The tasks' changelog (engine/runtime/task_log.h): engine-internal, neither input nor output.
  std::string changelog() const { return prefix_ + "changelog"; }
  //! The bare name of a full broker topic name, or empty if it lacks the prefix.
  std::string_view strip(std::string_view full) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

}  // namespace vigil
