#pragma once
// One record the simulator wants published: the input topic, the Kafka key, the message and its
// event time. Whoever drives the simulator (demo, simulate, tests) serialises and produces it.

#include <google/protobuf/message.h>

#include <string>
#include <variant>

#include "engine/codec/topics.h"
#include "engine/core/clock.h"
#include "schemas/agency.pb.h"
#include "schemas/calls.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::sim {

//! The message of a SimRecord, by value: a variant rather than a unique_ptr<Message> keeps it
//! one allocation lighter and lets callers std::get the concrete type without a cast. The
//! alternative always matches the topic: kTelemetry DeviceEvent, kCalls CallEvent, kAgency
//! AgencyUpdate, kRegistry RegistryUpdate.
using SimMessage = std::variant<vigil::v1::DeviceEvent, vigil::v1::CallEvent,
                                vigil::v1::AgencyUpdate, vigil::v1::RegistryUpdate>;

//! A record for an input topic: telemetry and calls keyed by elder_id, agency by order_id.
struct SimRecord {
  InTopic topic = InTopic::kTelemetry;
  std::string key;
  SimMessage message;
  TimeMs ts = 0;  //!< event time, equal to the message's own ts field

  //! The message as a protobuf Message, e.g. to SerializeToString() or codec::to_json().
  const google::protobuf::Message& proto() const {
    return std::visit([](const auto& m) -> const google::protobuf::Message& { return m; }, message);
  }
};

}  // namespace vigil::sim
