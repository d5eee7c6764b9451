#include "engine/codec/topics.h"

namespace vigil {

std::string_view name(InTopic topic) {
  switch (topic) {
    case InTopic::kTelemetry: return "telemetry";
    case InTopic::kCalls: return "calls";
    case InTopic::kAgency: return "agency";
    case InTopic::kRegistry: return "registry";
    case InTopic::kClock: return "clock";
    case InTopic::kOrders: return "orders";
  }
  return "?";
}

std::string_view name(OutTopic topic) {
  switch (topic) {
    case OutTopic::kAlarms: return "alarms";
    case OutTopic::kDispatch: return "dispatch";
    case OutTopic::kTracking: return "tracking";
    case OutTopic::kOperator: return "operator";
    case OutTopic::kReminders: return "reminders";
    case OutTopic::kDeadletter: return "deadletter";
    case OutTopic::kOrders: return "orders";
  }
  return "?";
}

std::optional<InTopic> parse_in_topic(std::string_view bare_name) {
  for (auto t : {InTopic::kTelemetry, InTopic::kCalls, InTopic::kAgency, InTopic::kRegistry,
                 InTopic::kClock, InTopic::kOrders}) {
    if (name(t) == bare_name) return t;
  }
  return std::nullopt;
}

std::optional<OutTopic> parse_out_topic(std::string_view bare_name) {
  for (auto t : kOutputs) {
    if (name(t) == bare_name) return t;
  }
  for (auto t : kInternalOutputs) {
    if (name(t) == bare_name) return t;
  }
  return std::nullopt;
}

std::string_view TopicNames::strip(std::string_view full) const {
  if (full.substr(0, prefix_.size()) != prefix_) return {};
  return full.substr(prefix_.size());
}

}  // namespace vigil
