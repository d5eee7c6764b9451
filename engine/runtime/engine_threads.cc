// Each engine thread's place with the scheduler, set by the thread itself as it starts: its
// name (top -H, perf, gdb), its nice value and slice, and for shards the CPU they are bound to.
// One file so the whole policy reads in one place (docs/design.md "Threads and the scheduler";
// the figures behind each choice: bench/README.md, sessions 17-19).

#include <pthread.h>

#include <string>

#include "engine/core/log.h"
#include "engine/core/thread_sched.h"
#include "engine/runtime/engine.h"

namespace vigil::runtime {
namespace {
//! The slice shards and dispatcher ask for (thread_sched.h): a woken shard preempts the commit
//! thread or a RocksDB flush at once rather than after their slice (up to 5 ms seen on 2 cores).
constexpr uint64_t kShortSliceNs = 100'000;
//! The commit thread's nice value (0 is the shards' default): ~10% of a core against a busy
//! shard.
constexpr int kCommitNice = 10;
}  // namespace

void Engine::enter_shard_thread(uint32_t i) {
  pthread_setname_np(pthread_self(), ("vigil-shard" + std::to_string(i)).c_str());
  if (const SchedGrant g = request_latency_sched(options_.shard_nice, kShortSliceNs);
      g.nice > options_.shard_nice && i == 0) {
    log::warn("engine", "shard threads at nice ", g.nice, ", not ", options_.shard_nice,
              " (shard_nice): raising them needs CAP_SYS_NICE or RLIMIT_NICE ",
              20 - options_.shard_nice, "; expect a longer latency tail (docs/operations.md)");
  }
  // Bound to a CPU when shard_cpus_ says so: woken, it takes its own core at once instead of
  // queueing behind the other shard (docs/design.md "Threads and the scheduler").
  if (const int cpu = i < shard_cpus_.size() ? shard_cpus_[i] : -1; cpu >= 0) {
    if (pin_thread_to_cpu(cpu)) {
      log::info("engine", "shard ", i, " bound to CPU ", cpu, " (pin_shards)");
    } else {
      log::warn("engine", "shard ", i, " could not be bound to CPU ", cpu, " (pin_shards)");
    }
  }
}

void Engine::enter_dispatch_thread() {
  pthread_setname_np(pthread_self(), "vigil-dispatch");
  (void)request_latency_sched(0, kShortSliceNs);
}

void Engine::enter_commit_thread() {
  pthread_setname_np(pthread_self(), "vigil-commit");
  // Below the shards: on a machine with fewer cores than threads, a shard that has records
  // waiting takes the CPU from the checkpoint write (latency), and the write, which has a
  // whole interval to finish, takes what they leave (docs/design.md, "Checkpoint cadence").
  // Best effort: without the right to change it the thread keeps the default priority.
  set_thread_nice(kCommitNice);
}

}  // namespace vigil::runtime
