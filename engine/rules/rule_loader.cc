// Loads rule packs from YAML (rules/README.md is the language reference) and validates them,
// collecting every error with its file:line:col instead of stopping at the first.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/pipeline/shard_router.h"
#include "engine/registry/elder_state.h"
#include "engine/rules/rule_set.h"
#include "engine/rules/yaml_guard.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;

const std::set<std::string> kCommonKeys = {"id",       "description", "kind",    "reads",
                                           "severity", "params",      "when",    "schedule",
                                           "clear",    "actions"};
const std::set<std::string>& kind_keys(RuleKind kind) {
  static const std::set<std::string> kEvent = {};
  static const std::set<std::string> kThreshold = {"duration", "clear_after", "unless"};
  static const std::set<std::string> kAbsence = {"duration", "per", "at", "until", "applies_to"};
  static const std::set<std::string> kSequence = {"then", "within", "after", "expect"};
  static const std::set<std::string> kAggregate = {"window", "fn", "every"};
  static const std::set<std::string> kGeofence = {"radius", "consecutive"};
  static const std::set<std::string> kScore = {"score", "bands", "max_age"};
  switch (kind) {
    case RuleKind::kEvent: return kEvent;
    case RuleKind::kThreshold: return kThreshold;
    case RuleKind::kAbsence: return kAbsence;
    case RuleKind::kSequence: return kSequence;
    case RuleKind::kAggregate: return kAggregate;
    case RuleKind::kGeofence: return kGeofence;
    case RuleKind::kScore: return kScore;
  }
  return kEvent;
}

std::optional<RuleKind> parse_kind(const std::string& s) {
  for (auto k : {RuleKind::kEvent, RuleKind::kThreshold, RuleKind::kAggregate, RuleKind::kAbsence,
                 RuleKind::kSequence, RuleKind::kGeofence, RuleKind::kScore}) {
    if (s == kind_name(k)) return k;
  }
  return std::nullopt;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

//! Parses "90", "90s", "10m", "12h", "1d" into seconds.
std::optional<double> parse_duration_s(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n < 0) return std::nullopt;
  std::string unit(p, text.data() + text.size());
  if (unit.empty() || unit == "s") return n;
  if (unit == "m" || unit == "min") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  return std::nullopt;
}

//! Parses "HH:MM" into minutes of the day.
std::optional<int> parse_hhmm(const std::string& s) {
  int h = 0, m = 0;
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  // Both digits of each part must parse: "13:3O" is not 13:03.
  auto hr = std::from_chars(s.data(), s.data() + 2, h);
  auto mr = std::from_chars(s.data() + 3, s.data() + 5, m);
  if (hr.ec != std::errc() || hr.ptr != s.data() + 2 || mr.ec != std::errc() ||
      mr.ptr != s.data() + 5 || h < 0 || m < 0 || h > 23 || m > 59) {
    return std::nullopt;
  }
  return h * 60 + m;
}

//! A mapping key's text. YAML allows sequences and maps as keys (`? - a`); those have no name
//! here and are reported as unknown keys rather than thrown (found by tests/fuzz/fuzz_rules).
std::string key_of(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : std::string("<non-scalar key>");
}

class Loader {
 public:
  explicit Loader(std::vector<Diagnostic>* diags) : diags_(diags) {}

  void load_text(const std::string& text, const std::string& file) {
    const size_t first = diags_->size();
    try {
      load_text_unsorted(text, file);
    } catch (const YAML::Exception& e) {
      // Any conversion yaml-cpp refuses is an error in the file, never a crash of a reload.
      diags_->push_back({file, e.mark.line + 1, e.mark.column + 1, e.msg, false});
    }
    std::stable_sort(diags_->begin() + static_cast<std::ptrdiff_t>(first), diags_->end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return a.line != b.line ? a.line < b.line : a.col < b.col;
                     });
  }

  void load_text_unsorted(const std::string& text, const std::string& file) {
    file_ = file;
    if (auto syntax = check_yaml_syntax(text, file)) {  // before yaml-cpp: see yaml_guard.h
      diags_->push_back(*syntax);
      return;
    }
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
      diags_->push_back({file, e.mark.line + 1, e.mark.column + 1, e.msg, false});
      return;
    }
    for (const auto& doc : docs) {
      if (!doc.IsMap() || !doc["rules"]) {
        error(doc, "a rule file is a map with a `rules:` list");
        continue;
      }
      for (const auto& kv : doc) {
        if (key_of(kv.first) != "rules") {
          error(kv.first, "unknown top-level key '" + key_of(kv.first) + "'");
        }
      }
      const auto& list = doc["rules"];
      if (!list.IsSequence()) {
        error(list, "`rules` must be a list of rules");
        continue;
      }
      for (const auto& node : list) load_rule(node);
    }
  }

  std::vector<Rule> take() { return std::move(rules_); }

 private:
  void error(const YAML::Node& n, const std::string& msg, bool warning = false) {
    diags_->push_back({file_, n.Mark().line + 1, n.Mark().column + 1, msg, warning});
  }

  std::optional<std::string> scalar(const YAML::Node& n, const char* what) {
    if (!n.IsScalar()) {
      error(n, std::string(what) + " must be a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::vector<std::string> type_list(const YAML::Node& n, const char* what) {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& t : n) {
        if (auto s = scalar(t, what)) out.push_back(*s);
      }
    } else {
      error(n, std::string(what) + " must be an event type or a list of them");
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (!is_known_event_type(out[i])) {
        error(n.IsSequence() ? n[i] : n, "unknown event type '" + out[i] + "'", true);
      }
    }
    return out;
  }

  //! Resolves a parameter reference (a param name) or an inline duration/number into a param
  //! index, adding an anonymous param for inline values.
  std::optional<uint32_t> param_ref(Rule& r, const YAML::Node& n, bool duration) {
    auto s = scalar(n, "a parameter reference");
    if (!s) return std::nullopt;
    for (uint32_t i = 0; i < r.params.size(); ++i) {
      if (r.params[i].name == *s) return i;
    }
    if (duration) {
      if (auto d = parse_duration_s(*s)) {
        r.params.push_back({"", *d, ""});
        return static_cast<uint32_t>(r.params.size() - 1);
      }
    }
    if (!(*s).empty() && (std::isalpha(static_cast<unsigned char>((*s)[0])) || (*s)[0] == '_') &&
        (!duration || (*s).find_first_of("0123456789") == std::string::npos)) {
      error(n, "reference to unknown parameter '" + *s + "'");
    } else {
      error(n, duration ? "bad duration '" + *s + "' (use seconds or 90s, 10m, 12h, 1d)"
                        : "bad number '" + *s + "'");
    }
    return std::nullopt;
  }

  void parse_condition(Rule& r, const YAML::Node& n) {
    auto text = scalar(n, "`when`");
    if (!text) return;
    std::istringstream in(*text);
    std::vector<std::string> tok;
    for (std::string t; in >> t;) tok.push_back(t);
    bool saw_or = false, saw_and = false;
    for (size_t i = 0; i < tok.size();) {
      if (i + 3 > tok.size()) {
        error(n, "`when` must read like `value > threshold [or value2 >= 120]`");
        return;
      }
      Comparison c;
      if (tok[i] == "value") c.field = Field::kValue;
      else if (tok[i] == "value2") c.field = Field::kValue2;
      else {
        error(n, "unknown field '" + tok[i] + "' in `when` (value or value2)");
        return;
      }
      const std::string& op = tok[i + 1];
      if (op == ">") c.op = CmpOp::kGt;
      else if (op == ">=") c.op = CmpOp::kGe;
      else if (op == "<") c.op = CmpOp::kLt;
      else if (op == "<=") c.op = CmpOp::kLe;
      else if (op == "==") c.op = CmpOp::kEq;
      else if (op == "!=") c.op = CmpOp::kNe;
      else {
        error(n, "unknown comparison '" + op + "' in `when`");
        return;
      }
      const std::string& rhs = tok[i + 2];
      double num = 0;
      auto [p, ec] = std::from_chars(rhs.data(), rhs.data() + rhs.size(), num);
      if (ec == std::errc() && p == rhs.data() + rhs.size()) {
        c.rhs.constant = num;
      } else {
        bool found = false;
        for (uint32_t k = 0; k < r.params.size(); ++k) {
          if (r.params[k].name == rhs) {
            c.rhs.is_param = true;
            c.rhs.param = k;
            found = true;
          }
        }
        if (!found) {
          error(n, "reference to unknown parameter '" + rhs + "' in `when`");
          return;
        }
      }
      r.condition.terms.push_back(c);
      i += 3;
      if (i < tok.size()) {
        if (tok[i] == "or") saw_or = true;
        else if (tok[i] == "and") saw_and = true;
        else {
          error(n, "expected `or` or `and` in `when`, found '" + tok[i] + "'");
          return;
        }
        ++i;
        if (i == tok.size()) error(n, "`when` ends with a dangling `or`/`and`");
      }
    }
    if (saw_or && saw_and) error(n, "`when` mixes `or` and `and`; split the rule");
    r.condition.any = !saw_and;
  }

  //! `at: medication_times | "HH:MM" | [..]` into the rule's watch times.
  void parse_at(Rule& r, const YAML::Node& n) {
    std::vector<YAML::Node> items;
    if (n.IsScalar()) items.push_back(n);
    else if (n.IsSequence()) for (const auto& i : n) items.push_back(i);
    else error(n, "`at` must be \"HH:MM\", medication_times, or a list of them");
    for (const auto& i : items) {
      const std::string t = i.IsScalar() ? i.Scalar() : "";
      if (t == "medication_times") {
        r.at.medication_times = true;
      } else if (auto m = parse_hhmm(t)) {
        r.at.minutes.push_back(*m);
      } else {
        error(i, "bad time of day '" + t + "' in `at` (HH:MM local time, or medication_times)");
      }
    }
    std::sort(r.at.minutes.begin(), r.at.minutes.end());
  }

  void load_absence_extras(Rule& r, const YAML::Node& node) {
    if (const auto& p = node["per"]) {
      auto v = scalar(p, "`per`");
      if (v && *v == "device") r.per_device = true;
      else if (v) error(p, "`per: " + *v + "` is not known (device)");
    }
    if (node["at"]) parse_at(r, node["at"]);
    if (const auto& u = node["until"]) {
      auto v = scalar(u, "`until`");
      if (!node["at"]) error(u, "`until` needs `at` (the watch opens at `at` and closes at `until`)");
      if (v) {
        if (auto m = parse_hhmm(*v)) r.until_min = *m;
        else error(u, "bad time of day '" + *v + "' in `until` (HH:MM local time)");
      }
    }
    if (const auto& a = node["applies_to"]) {
      auto v = scalar(a, "`applies_to`");
      if (v && *v == "meal_service") r.applies_to = *v;
      else if (v) error(a, "`applies_to: " + *v + "` is not an elder flag (meal_service)");
    }
    if (!r.at.empty()) {
      r.at_reminder = r.actions.reminder;  // sent at each `at` time, not when the alarm fires
      r.actions.reminder.clear();
      if (node["schedule"]) error(node["schedule"], "an `at` rule takes no `schedule`");
    }
    if (r.per_device && !r.at.empty()) error(node["per"], "`per: device` and `at` do not combine");
    if (r.until_min && node["duration"]) {
      error(node["duration"], "give either `duration` or `until` for an `at` rule, not both");
    }
  }

  void load_aggregate(Rule& r, const YAML::Node& node) {
    r.clear = ClearMode::kAuto;
    if (r.condition.terms.empty()) error(node, "aggregate rule '" + r.id + "' lacks `when`");
    for (const auto& t : r.condition.terms) {
      if (t.field != Field::kValue) {
        error(node["when"], "an aggregate's `when` reads only `value` (the aggregate)");
        break;
      }
    }
    if (!node["fn"]) {
      error(node, "aggregate rule '" + r.id + "' lacks `fn` (avg, min, max, count, delta)");
    } else if (auto f = scalar(node["fn"], "`fn`")) {
      static const std::pair<const char*, AggFn> kFns[] = {{"avg", AggFn::kAvg},
                                                           {"min", AggFn::kMin},
                                                           {"max", AggFn::kMax},
                                                           {"count", AggFn::kCount},
                                                           {"delta", AggFn::kDelta}};
      bool found = false;
      for (const auto& [name, fn] : kFns) {
        if (*f == name) {
          r.fn = fn;
          found = true;
        }
      }
      if (!found) error(node["fn"], "unknown aggregate fn '" + *f + "' (avg, min, max, count, delta)");
    }
    if (!node["window"]) {
      error(node, "aggregate rule '" + r.id + "' lacks `window`");
      return;
    }
    r.duration = param_ref(r, node["window"], true);
    if (!r.duration) return;
    const double window = r.params[*r.duration].value;
    double every = window / 12;
    if (node["every"]) {
      auto e = param_ref(r, node["every"], true);
      if (!e) return;
      every = r.params[*e].value;
    }
    const double buckets = every > 0 ? window / every : 0;
    if (every <= 0 || buckets != std::floor(buckets) || buckets < 1 || buckets > 48) {
      error(node["every"] ? node["every"] : node["window"],
            "`window` must be 1 to 48 times `every` (the evaluation step)");
      return;
    }
    r.buckets = static_cast<uint32_t>(buckets);
  }

  void load_score(Rule& r, const YAML::Node& node) {
    r.clear = ClearMode::kAuto;
    if (!node["score"]) {
      error(node, "score rule '" + r.id + "' lacks `score` (news2)");
    } else if (auto v = scalar(node["score"], "`score`"); v && *v != "news2") {
      error(node["score"], "unknown score '" + *v + "' (news2)");
    }
    for (const char* vital : {"respiration_rate", "spo2", "blood_pressure", "heart_rate",
                              "consciousness", "body_temperature"}) {
      if (std::find(r.reads.begin(), r.reads.end(), vital) == r.reads.end()) {
        error(node["reads"] ? node["reads"] : node, std::string("a news2 score reads ") + vital);
      }
    }
    if (!node["max_age"]) error(node, "score rule '" + r.id + "' lacks `max_age`");
    else r.max_age = param_ref(r, node["max_age"], true);
    const auto& b = node["bands"];
    if (!b || !b.IsMap() || b.size() == 0) {
      error(b ? b : node, "score rule '" + r.id + "' needs `bands: {CRITICAL: 7, MAJOR: 5}`");
      return;
    }
    if (node["severity"]) error(node["severity"], "a score rule's severity comes from its `bands`");
    for (const auto& kv : b) {
      const std::string name = key_of(kv.first);
      vigil::v1::Severity sev;
      if (!vigil::v1::Severity_Parse(name, &sev) || sev == vigil::v1::SEVERITY_UNSPECIFIED) {
        error(kv.first, "unknown severity '" + name + "' in `bands` (CRITICAL, MAJOR, MINOR, WARNING)");
        continue;
      }
      if (auto p = param_ref(r, kv.second, true)) r.bands.push_back({sev, *p});
    }
    std::sort(r.bands.begin(), r.bands.end(),
              [](const Band& x, const Band& y) { return x.severity < y.severity; });
    for (size_t i = 1; i < r.bands.size(); ++i) {
      if (r.params[r.bands[i].min].value >= r.params[r.bands[i - 1].min].value) {
        error(b, "`bands` must rise with severity (" +
                     std::string(vigil::v1::Severity_Name(r.bands[i - 1].severity)) + " above " +
                     vigil::v1::Severity_Name(r.bands[i].severity) + ")");
      }
    }
    if (!r.bands.empty()) r.severity = r.bands.front().severity;
  }

  void load_rule(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(node, "a rule is a map of keys (id, kind, reads, ...)");
      return;
    }
    Rule r;
    r.file = file_;
    r.line = node.Mark().line + 1;
    bool bad = false;
    size_t errors_before = diags_->size();
    auto count_errors = [&] {
      size_t n = 0;
      for (size_t i = errors_before; i < diags_->size(); ++i) n += !(*diags_)[i].warning;
      return n;
    };

    if (!node["id"]) {
      error(node, "rule lacks `id`");
      bad = true;
    } else if (auto id = scalar(node["id"], "`id`")) {
      r.id = *id;
      if (!seen_ids_.insert(r.id).second) {
        error(node["id"], "duplicate rule id '" + r.id + "'");
      } else if (auto [at, fresh] = seen_keys_.emplace(registry::rule_key(r.id), r.id); !fresh) {
        // Stored rule state names a rule by this key (registry::rule_key): two ids sharing it
        // could not be told apart after a restart. 64 bits: not expected in practice.
        error(node["id"], "rule id '" + r.id + "' has the same stored key as '" + at->second +
                              "'; rename one of them");
      }
    }
    std::optional<RuleKind> kind;
    if (!node["kind"]) {
      error(node, "rule '" + r.id + "' lacks `kind`");
    } else if (auto k = scalar(node["kind"], "`kind`")) {
      kind = parse_kind(*k);
      if (!kind) {
        error(node["kind"], "unknown kind '" + *k +
                                "' (event, threshold, aggregate, absence, sequence, geofence, score)");
      }
    }
    if (kind) r.kind = *kind;

    // Unknown or misspelt keys.
    for (const auto& kv : node) {
      std::string key = key_of(kv.first);
      if (kCommonKeys.count(key) || (kind && kind_keys(*kind).count(key))) continue;
      std::string hint;
      size_t best = 3;
      for (const auto* set : {&kCommonKeys, kind ? &kind_keys(*kind) : &kCommonKeys}) {
        for (const auto& k : *set) {
          size_t d = edit_distance(key, k);
          if (d < best) {
            best = d;
            hint = " (did you mean '" + k + "'?)";
          }
        }
      }
      error(kv.first, "unknown key '" + key + "'" + hint +
                          (kind ? std::string(" for a ") + kind_name(*kind) + " rule" : ""));
    }

    if (node["description"]) {
      if (auto d = scalar(node["description"], "`description`")) r.description = *d;
    }
    if (!node["reads"]) {
      error(node, "rule '" + r.id + "' lacks `reads` (the event types it reads)");
    } else {
      r.reads = type_list(node["reads"], "`reads`");
    }
    if (node["severity"]) {
      if (auto s = scalar(node["severity"], "`severity`")) {
        vigil::v1::Severity sev;
        if (!vigil::v1::Severity_Parse(*s, &sev) || sev == vigil::v1::SEVERITY_UNSPECIFIED) {
          error(node["severity"], "unknown severity '" + *s + "' (CRITICAL, MAJOR, MINOR, WARNING)");
        } else {
          r.severity = sev;
        }
      }
    } else if (r.kind != RuleKind::kScore) {
      error(node, "rule '" + r.id + "' lacks `severity`");
    }
    if (const auto& p = node["params"]) {
      if (!p.IsMap()) {
        error(p, "`params` must be a map of name: number");
      } else {
        for (const auto& kv : p) {
          Param param;
          param.name = key_of(kv.first);
          param.override_key = r.id + "." + param.name;
          const std::string v = kv.second.IsScalar() ? kv.second.Scalar() : "";
          double num = 0;
          auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), num);
          if (ec == std::errc() && ptr == v.data() + v.size()) {
            param.value = num;
          } else if (auto d = parse_duration_s(v)) {
            param.value = *d;
          } else {
            error(kv.second, "bad value '" + v + "' for parameter '" + param.name +
                                 "' (a number, or a duration like 90s, 10m, 12h)");
          }
          r.params.push_back(std::move(param));
        }
      }
    }
    if (node["when"]) parse_condition(r, node["when"]);
    if (const auto& s = node["schedule"]) {
      std::vector<YAML::Node> windows;
      if (s.IsScalar()) windows.push_back(s);
      else if (s.IsSequence()) for (const auto& w : s) windows.push_back(w);
      else error(s, "`schedule` must be \"HH:MM-HH:MM\" or a list of them");
      for (const auto& w : windows) {
        const std::string text = w.IsScalar() ? w.Scalar() : "";
        auto dash = text.find('-');
        std::optional<int> a, b;
        if (dash != std::string::npos) {
          a = parse_hhmm(text.substr(0, dash));
          b = parse_hhmm(text.substr(dash + 1));
        }
        if (!a || !b || *a == *b) {
          error(w, "bad schedule window '" + text + "' (expected HH:MM-HH:MM, local time)");
        } else {
          r.schedule.push_back({*a, *b});
        }
      }
    }
    if (const auto& a = node["actions"]) {
      if (!a.IsMap()) {
        error(a, "`actions` must be a map (dispatch, operator_task, reminder)");
      } else {
        for (const auto& kv : a) {
          const std::string key = key_of(kv.first);
          auto v = scalar(kv.second, "an action");
          if (!v) continue;
          if (key == "dispatch") r.actions.dispatch = *v;
          else if (key == "operator_task") {
            if (*v != "alarm" && *v != "escalation" && *v != "late_order" && *v != "welfare_call") {
              error(kv.second, "unknown operator task kind '" + *v +
                                   "' (alarm, escalation, late_order, welfare_call)");
            }
            r.actions.operator_task = *v;
          } else if (key == "reminder") r.actions.reminder = *v;
          else error(kv.first, "unknown action '" + key + "' (dispatch, operator_task, reminder)");
        }
      }
    }

    // Kind-specific parts.
    switch (r.kind) {
      case RuleKind::kEvent:
        r.clear = ClearMode::kOperator;
        break;
      case RuleKind::kThreshold:
        r.clear = ClearMode::kAuto;
        if (r.condition.terms.empty()) error(node, "threshold rule '" + r.id + "' lacks `when`");
        if (!node["duration"]) error(node, "threshold rule '" + r.id + "' lacks `duration`");
        else r.duration = param_ref(r, node["duration"], true);
        r.clear_after = node["clear_after"] ? param_ref(r, node["clear_after"], true) : r.duration;
        if (const auto& u = node["unless"]) {
          if (!u.IsMap() || !u["types"] || !u["within"]) {
            error(u, "`unless` needs `types` and `within`");
          } else {
            r.unless_types = type_list(u["types"], "`unless.types`");
            r.unless_within = param_ref(r, u["within"], true);
          }
        }
        break;
      case RuleKind::kAbsence:
        r.clear = ClearMode::kNextEvent;
        if (node["duration"]) r.duration = param_ref(r, node["duration"], true);
        else if (!node["until"]) error(node, "absence rule '" + r.id + "' lacks `duration`");
        break;
      case RuleKind::kSequence:
        r.clear = ClearMode::kOperator;
        if (!node["then"]) error(node, "sequence rule '" + r.id + "' lacks `then`");
        else r.then_types = type_list(node["then"], "`then`");
        if (!node["within"]) error(node, "sequence rule '" + r.id + "' lacks `within`");
        else r.duration = param_ref(r, node["within"], true);
        if (node["after"]) r.clear_after = param_ref(r, node["after"], true);
        if (const auto& e = node["expect"]) {
          auto v = scalar(e, "`expect`");
          if (v && *v == "absent") r.then_expected = true;
          else if (v && *v == "present") r.then_expected = false;
          else if (v) error(e, "`expect` is `absent` (fire when B does not follow) or `present`");
        } else {
          r.then_expected = true;
        }
        break;
      case RuleKind::kAggregate: load_aggregate(r, node); break;
      case RuleKind::kGeofence:
        r.clear = ClearMode::kAuto;
        if (node["radius"]) r.radius = param_ref(r, node["radius"], false);
        if (node["consecutive"]) r.consecutive = param_ref(r, node["consecutive"], false);
        break;
      case RuleKind::kScore: load_score(r, node); break;
    }
    if (r.kind == RuleKind::kAbsence) load_absence_extras(r, node);
    if (r.kind != RuleKind::kThreshold && r.kind != RuleKind::kAggregate && node["when"] &&
        r.kind != RuleKind::kEvent && r.kind != RuleKind::kSequence) {
      error(node["when"], std::string("a ") + kind_name(r.kind) + " rule takes no `when`");
    }
    if (node["clear"]) {
      auto v = scalar(node["clear"], "`clear`");
      if (v && *v == "operator") r.clear = ClearMode::kOperator;
      else if (v && *v == "auto" &&
               (r.kind == RuleKind::kThreshold || r.kind == RuleKind::kAggregate ||
                r.kind == RuleKind::kGeofence || r.kind == RuleKind::kScore)) {
        r.clear = ClearMode::kAuto;
      }
      else if (v && *v == "next_event" && r.kind == RuleKind::kAbsence) r.clear = ClearMode::kNextEvent;
      else if (v) error(node["clear"], "`clear: " + *v + "` does not fit a " + kind_name(r.kind) +
                                           " rule (operator, auto for threshold/aggregate/geofence/score, next_event for absence)");
    }

    YAML::Emitter emitter;
    emitter << node;
    r.fingerprint = pipeline::stable_hash(emitter.c_str());
    if (!bad && count_errors() == 0) rules_.push_back(std::move(r));
  }

  std::vector<Diagnostic>* diags_;
  std::string file_;
  std::vector<Rule> rules_;
  std::set<std::string> seen_ids_;
  std::map<uint64_t, std::string> seen_keys_;
};

LoadResult finish(Loader& loader, std::vector<Diagnostic> diags) {
  LoadResult out;
  bool errors = std::any_of(diags.begin(), diags.end(), [](const auto& d) { return !d.warning; });
  out.diagnostics = std::move(diags);
  if (!errors) out.rules = std::make_shared<const RuleSet>(loader.take());
  return out;
}

}  // namespace

LoadResult load_rule_text(const std::string& text, const std::string& name) {
  std::vector<Diagnostic> diags;
  Loader loader(&diags);
  loader.load_text(text, name);
  return finish(loader, std::move(diags));
}

LoadResult load_rule_dir(const std::string& dir) {
  std::vector<Diagnostic> diags;
  Loader loader(&diags);
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
  }
  if (ec) {
    diags.push_back({dir, 0, 0, "cannot read rule directory: " + ec.message(), false});
    return finish(loader, std::move(diags));
  }
  if (files.empty()) {
    diags.push_back({dir, 0, 0, "no rule files (*.yaml) in directory", false});
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    loader.load_text(text.str(), f.string());
  }
  return finish(loader, std::move(diags));
}

}  // namespace vigil::rules
