#pragma once
// Hot reload's front half: notices that a rules directory changed (a *.yaml/*.yml file added,
// removed or rewritten: name, size and mtime to the nanosecond) and loads and validates the
// new set. A set with errors is refused with every error logged as file:line:col, and the
// engine keeps the set it has. Polling, not inotify: one stat per file per poll is cheap and
// works on every file system (bind mounts, NFS, ConfigMap symlink swaps).
// Owned and used by one thread (the ingest thread of `vigil run`).

#include <memory>
#include <string>
#include <vector>

#include "engine/rules/rule_set.h"

namespace vigil::runtime {

class RulesWatcher {
 public:
  //! Remembers the directory's current state as the one already loaded.
  explicit RulesWatcher(std::string dir);

  //! Checks the directory (when `force`, as on SIGHUP, loads even if nothing changed). Returns
  //! the new set when one was loaded and is valid; nullptr when nothing changed or the new
  //! files have errors (then last_errors() says why and the caller keeps its set).
  std::shared_ptr<const rules::RuleSet> poll(bool force = false);

  //! Diagnostics (errors and warnings) of the last load attempt.
  const std::vector<rules::Diagnostic>& last_diagnostics() const { return diagnostics_; }
  uint64_t loads() const { return loads_; }        //!< valid sets loaded by poll()
  uint64_t refusals() const { return refusals_; }  //!< sets refused for errors

 private:
  std::string signature() const;

  std::string dir_;
  std::string seen_;
  std::vector<rules::Diagnostic> diagnostics_;
  uint64_t loads_ = 0;
  uint64_t refusals_ = 0;
};

}  // namespace vigil::runtime
