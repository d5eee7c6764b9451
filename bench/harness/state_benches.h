#pragma once
// The state benches of issue #6 (bench/README.md, "Restart" and "Reload"):
//   restart: state for N elders is built by a child process through the real Engine, which is
//            killed (_exit, no final checkpoint, RocksDB not closed) right after a committed
//            checkpoint; a fresh Engine in this process then opens the same data directory.
//            Measures start() (RocksDB open + WAL recovery + state load + timer re-arm) and the
//            time until the first post-restart event (an sos of a known elder) has its alarm at
//            the sink.
//   reload:  a running Engine with events flowing gets Engine::reload many times, alternating
//            two rule sets (and every so often a set freshly parsed from disk); RSS and heap in
//            use are sampled after a warm-up and at the end.
// Both print a table and optionally write JSON; they assert nothing about time. Exit code 0
// means the functional facts held (the alarm came; all reloads applied; RSS was read).

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace vigil::state {
class StateStore;
}

namespace vigil::bench {

struct StateBenchOptions {
  std::string rules_dir = "rules/eldercare";
  std::string work_dir;            //!< empty: a fresh directory under /tmp, removed at the end
  std::string json_path;           //!< empty: no JSON file
  uint32_t shards = 2;
  int elders = 1'000'000;
  int devices_per_elder = 2;
  int events_per_elder = 3;        //!< restart: telemetry records per elder (on average)
  uint64_t reloads = 100'000;      //!< reload: Engine::reload calls
  uint64_t warmup_reloads = 1'000; //!< reload: RSS "start" is sampled after these
  int events_per_reload = 10;      //!< reload: records submitted between two reloads
  int disk_every = 100;            //!< reload: every n-th reload parses the YAML from disk
  //! reload: false (default): the records go round the warm-up's (warmup x events_per_reload),
  //! moved on in event time each round; true: fresh records for every reload (at most 2M).
  bool fresh_records = false;
  //! reload: the control run: every reload hands over the pack itself (A), so no reload
  //! changes a rule and everything else (records, checkpoints, samples) is as in the run.
  bool same_rules = false;
  //! Both: the elders' local hour (Asia/Shanghai, as the simulator's elders) at which the
  //! records' event time starts, on 2026-01-01 (8: the standard workload's origin; workload.h
  //! start_at_hour). Fixed, not the wall clock, so that a run gives the same records whenever
  //! it is started: the pack's night rules raise ~10x the alarms at night, and an alarm no
  //! operator clears stays in memory, so the figures depended on the hour of the run
  //! (bench/README.md, "Reload" and "Restart"). The restart bench's clock runs on from there.
  int start_hour = 8;
  uint64_t seed = 42;
  //! restart: the shards load the elders in the background of the first records (the
  //! engine's default) or before start() returns (`--load blocking`, as before session 12).
  bool background_load = true;
};

int run_restart_bench(const StateBenchOptions& options, std::ostream& out);
int run_reload_bench(const StateBenchOptions& options, std::ostream& out);

//! Resident set size of this process now, from /proc/self/statm; 0 if it cannot be read.
uint64_t rss_bytes();
//! Bytes of heap in use (glibc mallinfo2: uordblks + hblkhd).
uint64_t heap_in_use_bytes();
//! In-memory state per elder (registry::memory_bytes) of the elders stored in `store`, each
//! rebuilt from its p/ and e/ values exactly as ShardCore::load does; the first `limit` elders
//! in key order (a sample, so that the bench does not hold a second copy of 1M elders).
struct ElderMemory {
  uint64_t elders = 0;  //!< elders with a p/ or e/ value
  double mean_bytes = 0;
  uint64_t p50_bytes = 0, p99_bytes = 0, max_bytes = 0;
};
ElderMemory elder_memory(const state::StateStore& store, const std::vector<std::string>& rule_ids,
                         size_t limit = 100'000);

//! Bytes of all regular files under `dir`.
uint64_t dir_bytes(const std::string& dir);

}  // namespace vigil::bench
