#pragma once
// A compiled rule: what the YAML of rules/README.md becomes after validation. Immutable once
// loaded; shared read-only by every shard.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schemas/outputs.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::rules {

enum class RuleKind { kEvent, kThreshold, kAggregate, kAbsence, kSequence, kGeofence, kScore };

const char* kind_name(RuleKind kind);

//! How an active alarm of the rule clears (SPEC section 5).
enum class ClearMode {
  kOperator,   //!< only an operator's CLEAR (event rules)
  kAuto,       //!< the condition is false again for `clear_after` (threshold rules)
  kNextEvent,  //!< the next event of a read type (absence rules)
};

enum class Field : uint8_t { kValue, kValue2 };
enum class CmpOp : uint8_t { kGt, kGe, kLt, kLe, kEq, kNe };

//! The right-hand side of a comparison: a number or a parameter (by index).
struct Operand {
  bool is_param = false;
  double constant = 0;
  uint32_t param = 0;
};

struct Comparison {
  Field field = Field::kValue;
  CmpOp op = CmpOp::kGt;
  Operand rhs;
};

//! `a op b [or|and c op d ...]`; an empty condition is always true.
struct Condition {
  std::vector<Comparison> terms;
  bool any = true;  //!< true: terms joined by `or`; false: by `and`
};

//! A named number an elder's `overrides` may replace as "<rule_id>.<name>".
struct Param {
  std::string name;
  double value = 0;
  std::string override_key;  //!< "<rule_id>.<name>", built once at load
};

//! A local time-of-day window [start, end) in minutes; end < start wraps past midnight.
struct DayWindow {
  int start_min = 0;
  int end_min = 0;
  bool contains(int minute_of_day) const {
    return start_min <= end_min ? (minute_of_day >= start_min && minute_of_day < end_min)
                                : (minute_of_day >= start_min || minute_of_day < end_min);
  }
};

struct Actions {
  std::string dispatch;       //!< service category of an automatic order, or empty
  std::string operator_task;  //!< OperatorTask kind to create on raise, or empty
  std::string reminder;       //!< Reminder kind, or empty
};

//! Aggregate functions over a window (kind `aggregate`).
enum class AggFn : uint8_t { kAvg, kMin, kMax, kCount, kDelta };

//! A severity band of a score rule: the score at or above `min` (a param index) raises `severity`.
struct Band {
  vigil::v1::Severity severity = vigil::v1::MAJOR;
  uint32_t min = 0;  //!< param index
};

//! Local times of day that arm a rule (`at:`): fixed minutes, or the elder's medication_times.
struct AtTimes {
  bool medication_times = false;
  std::vector<int> minutes;  //!< minutes of the local day, sorted
  bool empty() const { return !medication_times && minutes.empty(); }
};

struct Rule {
  std::string id;
  std::string description;
  RuleKind kind = RuleKind::kEvent;
  std::vector<std::string> reads;  //!< event types that feed the rule
  vigil::v1::Severity severity = vigil::v1::MAJOR;
  std::vector<Param> params;
  Condition condition;             //!< `when`
  std::optional<uint32_t> duration;    //!< param index: seconds the condition must hold / absence
  std::optional<uint32_t> clear_after; //!< param index: seconds back in range before auto-clear
  std::vector<std::string> unless_types;   //!< threshold: no event of these types ...
  std::optional<uint32_t> unless_within;   //!< ... within this many seconds (param index)
  std::vector<std::string> then_types;     //!< sequence: the B events
  bool then_expected = false;              //!< sequence: true = "not followed by" fires
  std::vector<DayWindow> schedule;         //!< empty: always
  ClearMode clear = ClearMode::kOperator;
  Actions actions;
  // absence
  bool per_device = false;       //!< `per: device`: one last-seen time per device
  AtTimes at;                    //!< `at:` watches open at these local times
  std::optional<int> until_min;  //!< `until: "HH:MM"`: the watch closes then (else `duration`)
  std::string applies_to;        //!< `applies_to: meal_service`: only elders with that flag
  std::string at_reminder;       //!< reminder kind sent at each `at` time (actions.reminder)
  // aggregate
  AggFn fn = AggFn::kAvg;
  uint32_t buckets = 0;          //!< window / every
  // geofence
  std::optional<uint32_t> radius;       //!< param index; none: the elder's geofence_radius_m
  std::optional<uint32_t> consecutive;  //!< param index
  // score
  std::vector<Band> bands;       //!< highest severity first
  std::optional<uint32_t> max_age;      //!< param index: seconds a vital stays usable
  std::string file;  //!< where it was defined, for messages
  int line = 0;
  uint64_t fingerprint = 0;  //!< hash of the definition: unchanged rules keep state on reload
};

}  // namespace vigil::rules
