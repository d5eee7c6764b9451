#include "engine/core/thread_sched.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

namespace {

bool set_sched_attr(int nice, uint64_t slice_ns) {
#ifdef SYS_sched_setattr
  SchedAttr a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.sched_policy = SCHED_OTHER;
  a.sched_nice = nice;
  a.sched_runtime = slice_ns;  // SCHED_OTHER: the requested slice (Linux 6.12+; ignored before)
  return syscall(SYS_sched_setattr, 0, &a, 0) == 0;
#else
  (void)nice;
  (void)slice_ns;
  errno = ENOSYS;  // not EPERM: request_latency_sched falls back to setpriority
  return false;
#endif
}

int current_nice() {
  errno = 0;
  const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  return errno == 0 ? n : 0;
}

}  // namespace

int unprivileged_nice(int asked, uint64_t rlimit_nice) {
  const int64_t lowest = 20 - static_cast<int64_t>(std::min<uint64_t>(rlimit_nice, 40));
  return std::max(asked, static_cast<int>(std::min<int64_t>(0, lowest)));
}

SchedGrant request_latency_sched(int nice, uint64_t slice_ns) {
  nice = std::clamp(nice, -20, 19);
  // Refused for want of privilege (EPERM): as far down as RLIMIT_NICE lets an unprivileged
  // thread go, never above the default. Refused otherwise (a kernel that rejects the slice, or
  // has no sched_setattr): the nice value alone.
  const auto attempt = [&](int n) {
    if (set_sched_attr(n, slice_ns)) return true;
    if (errno == EPERM) return false;
    return setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), n) == 0;
  };
  rlimit limit{};
  const int fallback = getrlimit(RLIMIT_NICE, &limit) == 0
                           ? unprivileged_nice(nice, limit.rlim_cur)  // RLIM_INFINITY: any
                           : std::max(nice, 0);
  const bool ok = attempt(nice) || (fallback != nice && attempt(fallback));
  return SchedGrant{ok, current_nice()};
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
