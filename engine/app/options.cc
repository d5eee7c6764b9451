#include "engine/app/options.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>

namespace vigil::app {

Args::Args(int argc, char** argv, int first, const std::vector<std::string>& boolean_flags) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    auto eq = name.find('=');
    if (eq != std::string::npos) {
      values_[name.substr(0, eq)] = name.substr(eq + 1);
      continue;
    }
    if (std::find(boolean_flags.begin(), boolean_flags.end(), name) != boolean_flags.end()) {
      values_[name] = "true";
      continue;
    }
    if (i + 1 >= argc) throw UsageError("flag --" + name + " needs a value");
    values_[name] = argv[++i];
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

void Args::allow_only(const std::vector<std::string>& known) const {
  for (const auto& [name, value] : values_) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw UsageError("unknown flag --" + name);
    }
  }
}

double parse_number(const std::string& flag, const std::string& text) {
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) {
    throw UsageError("--" + flag + " needs a number, got '" + text + "'");
  }
  return v;
}

namespace {

//! "FILE:LINE" for an error about the YAML node at `mark` (lines counted from 1).
std::string at_line(const std::string& file, const YAML::Mark& mark) {
  return file + ":" + std::to_string(mark.line + 1);
}

//! For a value of the wrong type (YAML::BadConversion names only its line): the key path and
//! the text at that line, e.g. "shard_nice: 'fast'", or "" if no scalar value sits there.
std::string key_at_line(const YAML::Node& node, int line, const std::string& path = "") {
  if (!node.IsMap()) return "";
  for (const auto& kv : node) {
    const std::string key = path.empty() ? kv.first.Scalar() : path + "." + kv.first.Scalar();
    if (kv.second.IsScalar() && kv.second.Mark().line == line) {
      return key + ": '" + kv.second.Scalar() + "'";
    }
    if (std::string found = key_at_line(kv.second, line, key); !found.empty()) return found;
  }
  return "";
}

void apply_yaml(Settings& s, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw UsageError(at_line(file, e.mark) + ": " + e.msg);
  }
  auto str = [&](const char* key, std::string& out) {
    if (root[key]) out = root[key].as<std::string>();
  };
  try {
    str("brokers", s.brokers);
    str("data_dir", s.data_dir);
    str("rules", s.rules_dir);
    str("topic_prefix", s.topic_prefix);
    str("http", s.http);
    str("group_id", s.group_id);
    if (root["shards"]) s.shards = root["shards"].as<uint32_t>();
    if (root["partitions"]) s.partitions = root["partitions"].as<int>();
    if (root["tokens"]) {
      auto t = api::parse_tokens(root["tokens"]);
      if (!t) throw UsageError(file + ": tokens: " + t.error().message);
      s.tokens = std::move(t.value());
    }
    if (root["console_dir"]) s.console_dir = root["console_dir"].as<std::string>();
    if (root["commit_interval_ms"]) s.commit_interval_ms = root["commit_interval_ms"].as<int64_t>();
    if (root["commit_max_busy"]) {
      s.commit_max_busy = root["commit_max_busy"].as<double>();
      if (!(s.commit_max_busy >= 0 && s.commit_max_busy <= 1)) {
        throw UsageError(file + ": commit_max_busy must be between 0 and 1 (0: off)");
      }
    }
    if (root["commit_max_interval_ms"]) {
      s.commit_max_interval_ms = root["commit_max_interval_ms"].as<int64_t>();
      if (s.commit_max_interval_ms <= 0) {
        throw UsageError(file + ": commit_max_interval_ms must be positive");
      }
    }
    if (root["checkpoint_file_min_mb"]) {
      s.checkpoint_file_min_mb = root["checkpoint_file_min_mb"].as<double>();
      if (!(s.checkpoint_file_min_mb >= 0)) {
        throw UsageError(file + ": checkpoint_file_min_mb must be 0 or more");
      }
    }
    if (const auto& pin = root["pin_shards"]) {
      const std::string v = pin.as<std::string>();
      if (v == "auto") s.pin_shards = PinShards::kAuto;
      else if (v == "true") s.pin_shards = PinShards::kOn;
      else if (v == "false") s.pin_shards = PinShards::kOff;
      else throw UsageError(file + ": pin_shards is auto, true or false, not '" + v + "'");
    }
    if (const auto& nice = root["shard_nice"]) {
      s.shard_nice = nice.as<int>();
      if (s.shard_nice < -20 || s.shard_nice > 19) {
        throw UsageError(at_line(file, nice.Mark()) +
                         ": shard_nice is a nice value, -20 to 19, got " +
                         std::to_string(s.shard_nice));
      }
    }
    if (root["exactly_once"]) s.exactly_once = root["exactly_once"].as<bool>();
    if (root["changelog"]) s.changelog = root["changelog"].as<bool>();
    if (root["changelog_rewrite_mb"]) {
      s.changelog_rewrite_mb = root["changelog_rewrite_mb"].as<double>();
    }
    if (const auto& t = root["event_time"]) {
      if (t["max_out_of_order_ms"]) s.max_out_of_order_ms = t["max_out_of_order_ms"].as<int64_t>();
      if (t["late_timer_ms"]) s.late_timer_ms = t["late_timer_ms"].as<int64_t>();
    }
    if (root["rules_poll_s"]) s.rules_poll_s = root["rules_poll_s"].as<double>();
    if (const auto& d = root["dispatch"]) {
      if (d["walking_kmh"]) s.dispatch.walking_kmh = d["walking_kmh"].as<double>();
      if (d["service_circle_min"]) s.dispatch.service_circle_min = d["service_circle_min"].as<double>();
      if (d["offer_timeout_s"]) s.dispatch.offer_timeout = d["offer_timeout_s"].as<int64_t>() * 1000;
      if (d["closed_after_days"]) {
        const double days = d["closed_after_days"].as<double>();
        if (!(days > 0)) {
          throw UsageError(at_line(file, d["closed_after_days"].Mark()) +
                           ": dispatch.closed_after_days must be positive");
        }
        s.dispatch.closed_after = static_cast<TimeMs>(days * 24 * kHour);
      }
      if (d["offer_timeout_emergency_s"]) {
        s.dispatch.offer_timeout_emergency = d["offer_timeout_emergency_s"].as<int64_t>() * 1000;
      }
      // At least one candidate and one offer each, else every order would escalate at once.
      auto at_least_one = [&](const char* key, int& field) {
        if (!d[key]) return;
        const int v = d[key].as<int>();
        if (v < 1) {
          throw UsageError(at_line(file, d[key].Mark()) + ": dispatch." +
                           key + " must be at least 1, got " + std::to_string(v));
        }
        field = v;
      };
      if (d["routing"]) {
        const auto routing = d["routing"].as<std::string>();
        if (routing == "local") {
          s.dispatch.routing = dispatch::Routing::kLocal;
        } else if (routing == "kafka") {
          s.dispatch.routing = dispatch::Routing::kKafka;
        } else {
          throw UsageError(at_line(file, d["routing"].Mark()) +
                           ": dispatch.routing must be local or kafka, got '" + routing + "'");
        }
      }
      at_least_one("max_candidates", s.dispatch.max_candidates);
      at_least_one("offers_per_candidate", s.dispatch.offers_per_candidate);
      if (d["category_kmh"]) {
        for (const auto& kv : d["category_kmh"]) {
          s.dispatch.category_kmh[kv.first.as<std::string>()] = kv.second.as<double>();
        }
      }
    }
  } catch (const YAML::BadConversion& e) {
    const std::string what = key_at_line(root, e.mark.line);
    throw UsageError(at_line(file, e.mark) + ": " +
                     (what.empty() ? e.msg
                                   : what + " is not a value this key takes (docs/configuration.md)"));
  } catch (const YAML::Exception& e) {
    throw UsageError(at_line(file, e.mark) + ": " + e.msg);
  }
}

}  // namespace

Settings load_settings(const Args& args) {
  Settings s;
  if (auto f = args.get("config")) apply_yaml(s, *f);
  if (auto v = args.get("brokers")) s.brokers = *v;
  if (auto v = args.get("data-dir")) s.data_dir = *v;
  if (auto v = args.get("rules")) s.rules_dir = *v;
  if (auto v = args.get("topic-prefix")) s.topic_prefix = *v;
  if (auto v = args.get("http")) s.http = *v;
  if (auto v = args.get("console-dir")) s.console_dir = *v;
  if (auto v = args.get("group-id")) s.group_id = *v;
  if (auto v = args.get("shards")) s.shards = static_cast<uint32_t>(parse_number("shards", *v));
  if (auto v = args.get("partitions")) s.partitions = static_cast<int>(parse_number("partitions", *v));
  if (auto v = args.get("duration")) s.duration_s = parse_number("duration", *v);
  if (auto v = args.get("progress")) s.progress_s = parse_number("progress", *v);
  if (auto v = args.get("elders")) s.elders = static_cast<int>(parse_number("elders", *v));
  if (auto v = args.get("rate")) s.rate = parse_number("rate", *v);
  if (auto v = args.get("seed")) s.seed = static_cast<uint64_t>(parse_number("seed", *v));
  if (auto v = args.get("time-scale")) s.time_scale = parse_number("time-scale", *v);
  if (auto v = args.get("commit-interval-ms")) {
    s.commit_interval_ms = static_cast<int64_t>(parse_number("commit-interval-ms", *v));
  }
  if (auto v = args.get("max-out-of-order-ms")) {
    s.max_out_of_order_ms = static_cast<int64_t>(parse_number("max-out-of-order-ms", *v));
  }
  if (s.shards == 0) throw UsageError("--shards must be at least 1");
  if (s.max_out_of_order_ms < 0) throw UsageError("--max-out-of-order-ms must not be negative");
  return s;
}

}  // namespace vigil::app
