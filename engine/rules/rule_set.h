#pragma once
// A validated pack of rules with an index from event type to the rules that read it, so an event
// touches only its rules. Immutable; shared read-only by every shard (std::shared_ptr<const>).

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/result.h"
#include "engine/rules/rule.h"

namespace vigil::rules {

//! A problem found while loading rules, located as file:line:col.
struct Diagnostic {
  std::string file;
  int line = 0;
  int col = 0;
  std::string message;
  bool warning = false;
  std::string str() const;  //!< "file:line:col: message" ("warning: " before warnings)
};

class RuleSet {
 public:
  explicit RuleSet(std::vector<Rule> rules);

  const std::vector<Rule>& rules() const { return rules_; }
  //! Indices of the rules that read events of `type`, including rules that read `any`.
  //! Looks up without allocating.
  const std::vector<uint32_t>& readers(std::string_view type) const;
  //! The rule as raised with another severity (score bands); the rule itself if no such band.
  const Rule& with_severity(uint32_t index, vigil::v1::Severity severity) const;
  //! Index of the rule with this id, or -1.
  int index_of(std::string_view id) const;
  const std::vector<std::string>& ids() const { return ids_; }
  //! registry::rule_key() of each id: how stored rule slots name their rule.
  const std::vector<uint64_t>& keys() const { return keys_; }
  //! Indices of the rules armed at local times of day (`at:`).
  const std::vector<uint32_t>& at_rules() const { return at_rules_; }

 private:
  std::vector<Rule> rules_;
  std::vector<std::string> ids_;
  std::vector<uint64_t> keys_;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>> by_type_;
  std::vector<uint32_t> any_;
  std::vector<uint32_t> at_rules_;  //!< rules that read every type
  std::vector<Rule> variants_;  //!< score rules once per band severity
};

//! Loads every *.yaml / *.yml file in `dir` (sorted by name). Returns the set and its warnings,
//! or every error found (never just the first).
struct LoadResult {
  std::shared_ptr<const RuleSet> rules;  //!< null when there are errors
  std::vector<Diagnostic> diagnostics;   //!< errors and warnings, in file order
  bool ok() const { return rules != nullptr; }
};
LoadResult load_rule_dir(const std::string& dir);
//! Loads one YAML document's text as if it were file `name` (tests, the HTTP validate endpoint).
LoadResult load_rule_text(const std::string& text, const std::string& name);

//! The event types of SPEC section 3; others are accepted with a warning.
bool is_known_event_type(std::string_view type);

}  // namespace vigil::rules
