#pragma once
// The topics of SPEC section 3 and their names under a configurable prefix (default "vigil.").

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

//! Input topics, plus kClock: the replay-only record that moves event time.
enum class InTopic : uint8_t { kTelemetry = 0, kCalls, kAgency, kRegistry, kClock };
inline constexpr std::array<InTopic, 4> kKafkaInputs = {InTopic::kTelemetry, InTopic::kCalls,
                                                        InTopic::kAgency, InTopic::kRegistry};

//! Output topics.
enum class OutTopic : uint8_t {
  kAlarms = 0,
  kDispatch,
  kTracking,
  kOperator,
  kReminders,
  kDeadletter,
};
inline constexpr std::array<OutTopic, 6> kOutputs = {OutTopic::kAlarms,   OutTopic::kDispatch,
                                                     OutTopic::kTracking, OutTopic::kOperator,
                                                     OutTopic::kReminders, OutTopic::kDeadletter};

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
  //! The bare name of a full broker topic name, or empty if it lacks the prefix.
  std::string_view strip(std::string_view full) const;
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

}  // namespace vigil
