#include "engine/rules/rule_set.h"

#include <algorithm>
#include <array>

#include "engine/registry/elder_state.h"

namespace vigil::rules {

const char* kind_name(RuleKind kind) {
  switch (kind) {
    case RuleKind::kEvent: return "event";
    case RuleKind::kThreshold: return "threshold";
    case RuleKind::kAggregate: return "aggregate";
    case RuleKind::kAbsence: return "absence";
    case RuleKind::kSequence: return "sequence";
    case RuleKind::kGeofence: return "geofence";
    case RuleKind::kScore: return "score";
  }
  return "?";
}

std::string Diagnostic::str() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " +
         (warning ? "warning: " : "") + message;
}

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {
  for (uint32_t i = 0; i < rules_.size(); ++i) {
    ids_.push_back(rules_[i].id);
    keys_.push_back(registry::rule_key(rules_[i].id));
    if (!rules_[i].at.empty()) at_rules_.push_back(i);
    for (const auto& band : rules_[i].bands) {
      if (band.severity == rules_[i].severity) continue;
      variants_.push_back(rules_[i]);
      variants_.back().severity = band.severity;
    }
    for (const auto& t : rules_[i].reads) {
      if (t == "any") any_.push_back(i);
      else by_type_[t].push_back(i);
    }
    for (const auto& t : rules_[i].unless_types) by_type_[t].push_back(i);
    for (const auto& t : rules_[i].then_types) by_type_[t].push_back(i);
  }
  for (auto& [type, v] : by_type_) {  // a rule that reads a type twice is evaluated once
    v.insert(v.end(), any_.begin(), any_.end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
}

const std::vector<uint32_t>& RuleSet::readers(std::string_view type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? any_ : it->second;
}

const Rule& RuleSet::with_severity(uint32_t index, vigil::v1::Severity severity) const {
  const Rule& r = rules_[index];
  if (r.severity == severity) return r;
  for (const auto& v : variants_) {
    if (v.id == r.id && v.severity == severity) return v;
  }
  return r;
}

int RuleSet::index_of(std::string_view id) const {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) return static_cast<int>(i);
  }
  return -1;
}

bool is_known_event_type(std::string_view type) {
  static constexpr std::array<std::string_view, 26> kTypes = {
      "heart_rate", "spo2", "blood_pressure", "body_temperature", "respiration_rate", "motion",
      "door_open", "door_close", "bed_exit", "bed_enter", "fall", "fall_cancel", "sos", "smoke",
      "gas", "co", "water_leak", "water_meter", "room_temperature", "location", "battery",
      "heartbeat", "medication_box_opened", "meal_checkin", "consciousness", "any"};
  for (auto t : kTypes) {
    if (t == type) return true;
  }
  return false;
}

}  // namespace vigil::rules
