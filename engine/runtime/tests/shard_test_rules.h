#pragma once
// The two-rule set the ShardCore tests run on: `sos` (an event rule: raises at once) and
// `fall_no_recovery` (a sequence: a fall not followed by fall_cancel or motion within 60 s
// raises when its timer fires), so that a test sees both an alarm and a timer.

#include <gtest/gtest.h>

#include <memory>

#include "engine/rules/rule_set.h"

namespace vigil::runtime::test_rules {

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

}  // namespace vigil::runtime::test_rules
