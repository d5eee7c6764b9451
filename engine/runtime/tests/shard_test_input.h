#pragma once
// What the ShardCore tests feed a shard. The two-rule set: `sos` (an event rule: raises at
// once) and `fall_no_recovery` (a sequence: a fall not followed by fall_cancel or motion
// within 60 s raises when its timer fires), so that a test sees both an alarm and a timer;
// and the telemetry and registry records.

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/codec/record.h"
#include "engine/core/time_util.h"
#include "engine/rules/rule_set.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::runtime::test_input {

inline constexpr const char* kShardTestRules = R"(rules:
  - id: sos
    kind: event
    reads: [sos]
    severity: CRITICAL
  - id: fall_no_recovery
    kind: sequence
    reads: [fall]
    then: [fall_cancel, motion]
    within: duration_s
    expect: absent
    params: {duration_s: 60}
    severity: CRITICAL
)";

inline std::shared_ptr<const rules::RuleSet> shard_test_rules() {
  auto r = rules::load_rule_text(kShardTestRules, "test.yaml");
  for (const auto& d : r.diagnostics) ADD_FAILURE() << d.str();
  return r.rules;
}

//! A telemetry record of `type` (value 1) from the elder's "-dev" device at `ts`.
inline InputRecord telemetry(const std::string& elder, const std::string& type, TimeMs ts,
                             int32_t partition) {
  vigil::v1::DeviceEvent ev;
  ev.set_event_id(elder + type + std::to_string(ts));
  ev.set_device_id(elder + "-dev");
  ev.set_elder_id(elder);
  ev.set_type(type);
  ev.set_value(1);
  set_ts(ev.mutable_ts(), ts);
  InputRecord rec;
  rec.topic = InTopic::kTelemetry;
  rec.partition = partition;
  rec.key = elder;
  rec.payload = ev.SerializeAsString();
  return rec;
}

//! A registry record of the elder: a name and region "north".
inline InputRecord registration(const std::string& elder, int32_t partition) {
  vigil::v1::RegistryUpdate u;
  u.mutable_elder()->set_elder_id(elder);
  u.mutable_elder()->set_name("name of " + elder);
  u.mutable_elder()->set_region("north");
  InputRecord rec;
  rec.topic = InTopic::kRegistry;
  rec.partition = partition;
  rec.key = elder;
  rec.payload = u.SerializeAsString();
  return rec;
}

}  // namespace vigil::runtime::test_input
