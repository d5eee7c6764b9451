#include "engine/runtime/rules_watcher.h"

#include <algorithm>
#include <filesystem>

#include "engine/core/log.h"

namespace vigil::runtime {

namespace fs = std::filesystem;

RulesWatcher::RulesWatcher(std::string dir) : dir_(std::move(dir)), seen_(signature()) {}

std::string RulesWatcher::signature() const {
  std::vector<std::string> parts;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".yaml" && p.extension() != ".yml") continue;
    std::error_code e1, e2;
    const auto size = fs::file_size(p, e1);
    const auto mtime = fs::last_write_time(p, e2);
    parts.push_back(p.filename().string() + ":" + std::to_string(e1 ? 0 : size) + ":" +
                    std::to_string(e2 ? 0 : mtime.time_since_epoch().count()));
  }
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const auto& s : parts) out += s + "\n";
  return out;
}

std::shared_ptr<const rules::RuleSet> RulesWatcher::poll(bool force) {
  std::string now = signature();
  if (!force && now == seen_) return nullptr;
  seen_ = std::move(now);  // a broken file is reported once, not every poll
  auto loaded = rules::load_rule_dir(dir_);
  diagnostics_ = loaded.diagnostics;
  if (!loaded.ok()) {
    ++refusals_;
    for (const auto& d : diagnostics_) log::error("rules", d.str());
    log::error("rules", "reload of ", dir_, " refused: the rules above have errors; keeping the ",
               "rules in force");
    return nullptr;
  }
  for (const auto& d : diagnostics_) log::warn("rules", d.str());
  ++loads_;
  return loaded.rules;
}

}  // namespace vigil::runtime
