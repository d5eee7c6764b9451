#pragma once
// How the engine's threads ask the kernel's scheduler for what they need, best effort: a thread
// without the right (a container that forbids it, an old kernel) keeps the defaults and the
// engine works the same, only with a longer latency tail on a machine with fewer cores than
// threads. docs/design.md "Threads and the scheduler" gives the measurements behind each.

#include <cstdint>

namespace vigil {

//! The calling thread at `nice` (higher = yields the CPU sooner to threads at lower values).
void set_thread_nice(int nice);

//! The calling thread (SCHED_OTHER, nice 0) asks for time slices of `slice_ns`: on Linux 6.12
//! and later (EEVDF with custom slices) a thread with a shorter slice than the running one
//! preempts it when it wakes, instead of waiting out the rest of that thread's slice (a few
//! ms). For the threads records wait on: shards and dispatcher. Returns false where refused.
bool request_short_slice(uint64_t slice_ns);

}  // namespace vigil
