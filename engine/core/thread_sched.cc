#include "engine/core/thread_sched.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace vigil {
namespace {

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h); Debian 12's glibc has no
// wrapper for sched_setattr.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

}  // namespace

void set_thread_nice(int nice) {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
}

bool request_short_slice(uint64_t slice_ns) {
#ifdef SYS_sched_setattr
  SchedAttr a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.sched_policy = SCHED_OTHER;
  a.sched_nice = 0;
  a.sched_runtime = slice_ns;  // SCHED_OTHER: the requested slice (Linux 6.12+; ignored before)
  return syscall(SYS_sched_setattr, 0, &a, 0) == 0;
#else
  (void)slice_ns;
  return false;
#endif
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

bool pin_thread_to_cpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

std::vector<int> shard_cpus(PinShards mode, uint32_t shards, const std::vector<int>& allowed) {
  std::vector<int> cpus(shards, -1);
  const bool pin = allowed.size() >= 2 &&
                   (mode == PinShards::kOn || (mode == PinShards::kAuto && allowed.size() == shards));
  if (!pin) return cpus;
  for (uint32_t i = 0; i < shards; ++i) cpus[i] = allowed[i % allowed.size()];
  return cpus;
}

}  // namespace vigil
