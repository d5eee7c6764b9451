#pragma once
// `vigil bench`: the end-to-end harness of issue #6 (bench/README.md). One run measures, on the
// same machine and data: the engine fed in-process (max rate, then paced at half of it for
// latency), the engine fed through the embedded broker with real clients, the raw librdkafka
// consumer on the same broker and data, and RocksDB's batched write rate with the engine's
// options; plus peak RSS and state bytes per elder. Prints a table, writes JSON.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "bench/harness/workload.h"

namespace vigil::bench {

struct BenchOptions {
  std::string workload = "standard";
  double duration_s = 20;       //!< upper bound per measured phase
  std::string json_path;        //!< empty: no JSON file
  std::string rules_dir = "rules/eldercare";
  std::string work_dir;         //!< temporary state; default under /tmp
  uint32_t shards = 2;
  int partitions = 4;
  bool skip_broker = false;
  //! EngineOptions::commit_max_busy in the engine's phases (`--commit-max-busy`); negative:
  //! the engine's default.
  double commit_max_busy = -1;
  //! EngineOptions::shard_nice in the engine's phases (`--shard-nice`); unset: the engine's
  //! default.
  std::optional<int> shard_nice;
  //! The phases to run (kPhaseNames); empty: all of them. A paced phase run without its max
  //! phase needs its rate given (pace_per_s, broker_pace_per_s).
  std::vector<std::string> phases;
  //! The paced phases' offered rates (events/s); 0: half of the same run's max rate. A fixed
  //! rate makes the latency of two builds comparable (half of each run's own max is not).
  double pace_per_s = 0;
  double broker_pace_per_s = 0;
  WorkloadOptions load;
};

//! The phases' names for BenchOptions::phases (`vigil bench --phases`), in the order they run.
inline constexpr const char* kPhaseNames[] = {"inprocess-max", "inprocess-paced", "raw",
                                              "broker-max",    "broker-paced",    "rocksdb"};

//! Runs the chosen phases; returns the exit code (0, or 1 if a phase could not run).
int run_bench(const BenchOptions& options, std::ostream& out);

}  // namespace vigil::bench
