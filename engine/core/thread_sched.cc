#include "engine/core/thread_sched.h"

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

}  // namespace vigil
