#pragma once
// Command-line flags and the YAML config file (docs/configuration.md). Flags override the file.
// Parsing errors are exceptions: they happen at start-up and are caught at the command entry.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/api/access.h"
#include "engine/core/thread_sched.h"
#include "engine/dispatch/dispatch_config.h"

namespace vigil::app {

//! A bad command line or config file; main prints it and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

//! "--name value" and "--flag" arguments plus positionals, in order.
class Args {
 public:
  //! `boolean_flags` take no value.
  Args(int argc, char** argv, int first, const std::vector<std::string>& boolean_flags);
  std::optional<std::string> get(const std::string& name) const;
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  const std::vector<std::string>& positionals() const { return positionals_; }
  //! Throws UsageError naming any flag not in `known`.
  void allow_only(const std::vector<std::string>& known) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

//! Everything the long-running commands need, from defaults, --config FILE and flags.
struct Settings {
  std::string brokers;
  std::string data_dir = "./vigil-data";
  std::string rules_dir = "rules/eldercare";
  std::string topic_prefix = "vigil.";
  std::string http = "127.0.0.1:8080";
  std::string group_id = "vigil-engine";
  uint32_t shards = 2;
  int partitions = 4;
  int64_t commit_interval_ms = 200;
  double commit_max_busy = 0.25;  //!< runtime::EngineOptions::commit_max_busy
  int64_t commit_max_interval_ms = 5000;  //!< runtime::EngineOptions::commit_max_interval_ms
  //! Outputs held until their checkpoint is durable (engine/state/README.md); false: at once,
  //! at-least-once across a crash.
  bool exactly_once = true;
  //! Tasks with a changelog (docs/design.md "State that moves with its partition"): several
  //! instances in one group, each task's state moving with its partition. Needs exactly_once
  //! and dispatch.routing: kafka.
  bool changelog = false;
  //! Rewrite a task's whole state after this many MiB of its changelog (a broker that does not
  //! compact, like the embedded one); 0: never (a real, compacted changelog topic).
  double changelog_rewrite_mb = 0;
  //! Checkpoints of at least this many MiB go to RocksDB as one ingested table file rather
  //! than a WAL batch (runtime::EngineOptions::checkpoint_file_min_bytes); 0: all of them.
  double checkpoint_file_min_mb = 8;
  //! Shard threads bound to CPUs (runtime::EngineOptions::pin_shards): "auto" when the process
  //! has exactly as many CPUs as shards, true always, false never.
  PinShards pin_shards = PinShards::kAuto;
  //! Shard threads' nice value (runtime::EngineOptions::shard_nice), -20 to 19.
  int shard_nice = 0;
  int64_t max_out_of_order_ms = 2000;  //!< bounded out-of-orderness of event time
  int64_t late_timer_ms = 1000;        //!< a timer fired this long after its due time is late
  double rules_poll_s = 1;             //!< rules directory check interval (0: SIGHUP only)
  double duration_s = 0;  //!< 0: until SIGINT/SIGTERM
  double progress_s = 5;
  // simulate / demo
  int elders = 200;
  double rate = 200;
  uint64_t seed = 42;
  double time_scale = 1;
  dispatch::DispatchConfig dispatch;
  // console and HTTP API
  std::string console_dir = VIGIL_CONSOLE_DIR;  //!< static files of the console
  api::TokenMap tokens;                         //!< `tokens:` in the config; demo: demo_tokens()
};

//! Loads --config (if given) then applies the common flags of SPEC section 6.
Settings load_settings(const Args& args);

//! Parses a number flag or throws UsageError naming it.
double parse_number(const std::string& flag, const std::string& text);

}  // namespace vigil::app
