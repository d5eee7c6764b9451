#pragma once
// How the engine's threads ask the kernel's scheduler for what they need, best effort: a thread
// without the right (a container that forbids it, an old kernel) keeps the defaults and the
// engine works the same, only with a longer latency tail on a machine with fewer cores than
// threads. docs/design.md "Threads and the scheduler" gives the measurements behind each.

#include <cstdint>
#include <vector>

namespace vigil {

//! The calling thread at `nice` (higher = yields the CPU sooner to threads at lower values).
void set_thread_nice(int nice);

//! What request_latency_sched() got: the nice value now in effect, and whether the kernel took
//! the request at all.
struct SchedGrant {
  bool ok = false;  //!< false: refused outright (or no sched_setattr); the thread is unchanged
  int nice = 0;     //!< the calling thread's nice value afterwards
};

//! The calling thread (SCHED_OTHER) at `nice`, asking for time slices of `slice_ns`.
//! - The slice: on Linux 6.12 and later (EEVDF with custom slices) a thread with a shorter
//!   slice than the running one preempts it when it wakes, instead of waiting out the rest of
//!   that thread's slice (a few ms); ignored by older kernels. For the threads records wait on:
//!   shards and dispatcher.
//! - A negative `nice` (more weight) keeps a woken shard eligible to preempt at once: under
//!   EEVDF a thread that has run more than its weight's share waits for the tick, up to 4 ms
//!   (docs/design.md "Threads and the scheduler"). It needs CAP_SYS_NICE or a RLIMIT_NICE of
//!   at least 20 - nice; without them the thread gets the lowest nice RLIMIT_NICE allows
//!   (0 at worst) and the slice, and SchedGrant::nice says which.
SchedGrant request_latency_sched(int nice, uint64_t slice_ns);

//! The nice value closest to `asked` that a thread without CAP_SYS_NICE may take, never above
//! the default 0, with RLIMIT_NICE's soft limit at `rlimit_nice`: it allows down to 20 - limit.
int unprivileged_nice(int asked, uint64_t rlimit_nice);

//! The CPUs this process may run on (sched_getaffinity), in ascending order; empty if unknown.
std::vector<int> allowed_cpus();

//! Binds the calling thread to `cpu`. Returns false where refused.
bool pin_thread_to_cpu(int cpu);

//! When shard threads are bound to CPUs (EngineOptions::pin_shards).
enum class PinShards { kAuto, kOn, kOff };

//! The CPU for each of `shards` shard threads, -1 for none. kOn: `allowed` in turn, shard i on
//! allowed[i % size]. kAuto: the same when the process has exactly as many CPUs as shards (a
//! dedicated machine or a cpuset made for it), none otherwise (other work may share the CPUs,
//! and a bound shard could not move away from it). kOff, or fewer than 2 CPUs: none.
std::vector<int> shard_cpus(PinShards mode, uint32_t shards, const std::vector<int>& allowed);

}  // namespace vigil
