#pragma once
// `vigil replay`: deterministic, event-time processing of a JSON-lines input with no broker.
// Input lines are {"topic": T, "value": {...}} (T: telemetry, calls, agency, registry, clock);
// output lines are {"topic": T, "key": K, "value": {...}} for every record emitted, in order.
// Time only moves forward: to each record's event time (ts) and to each clock record's ts;
// every timer due by then fires first, earliest first. One shard, so the order is total.

#include <istream>
#include <memory>
#include <string>

#include "engine/alarm/answer_times.h"
#include "engine/dispatch/dispatch_config.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"

namespace vigil::runtime {

struct ReplayStats {
  uint64_t lines = 0;
  uint64_t bad_lines = 0;
  alarm::AnswerTimeReport answers;  //!< answer-time figures on the replay's event time
};

//! Replays `in` into `sink`. Never throws on bad input: a bad line becomes a deadletter.
ReplayStats replay(std::istream& in, std::shared_ptr<const rules::RuleSet> rules,
                   const dispatch::DispatchConfig& config, egress::Sink& sink);

}  // namespace vigil::runtime
