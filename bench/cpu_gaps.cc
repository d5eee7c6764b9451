// How much of each CPU this machine takes from a thread that never gives it up: the floor under
// the engine's latency tail that no engine change removes (bench/README.md, "Session 19").
//
// One thread per allowed CPU, bound to it at nice -20 (where allowed), reads the monotonic
// clock in a loop for `seconds`; every jump between two reads over 100 us is time the thread
// did not run: an interrupt, a kernel thread the scheduler ran instead (kdamond, kcompactd,
// kworkers: kernel code the kernel does not preempt on a PREEMPT_NONE build), or the
// hypervisor running something else on the vCPU. It prints, per CPU, how many gaps there were
// over 100 us and over 1 ms, their total and the longest. To see what ran in a gap, run it
// under `perf record -a -e sched:sched_switch -k CLOCK_MONOTONIC` (a gap with no switch in it
// is the hypervisor's).
//
//   build/release/bench/cpu_gaps [seconds, default 10]

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/thread_sched.h"

namespace {

struct Gaps {
  int cpu = -1;
  int over_100us = 0;
  int over_1ms = 0;
  double total_ms = 0;
  double longest_ms = 0;
};

Gaps spin(int cpu, double seconds) {
  Gaps g;
  g.cpu = cpu;
  (void)vigil::pin_thread_to_cpu(cpu);
  (void)setpriority(PRIO_PROCESS, 0, -20);  // best effort: without the right, nice 0
  const auto& clock = vigil::RealClock::instance();
  const int64_t start = clock.steady_ns();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  for (int64_t last = start; last < end;) {
    const int64_t now = clock.steady_ns();
    const int64_t gap = now - last;
    if (gap > 100'000) {
      ++g.over_100us;
      if (gap > 1'000'000) ++g.over_1ms;
      g.total_ms += static_cast<double>(gap) / 1e6;
      g.longest_ms = std::max(g.longest_ms, static_cast<double>(gap) / 1e6);
    }
    last = now;
  }
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 10;
  if (!(seconds > 0)) {
    std::fprintf(stderr, "usage: cpu_gaps [seconds > 0]\n");
    return 2;
  }
  const std::vector<int> cpus = vigil::allowed_cpus();
  std::vector<Gaps> results(cpus.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cpus.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = spin(cpus[i], seconds); });
  }
  for (auto& t : threads) t.join();
  std::printf("cpu  gaps>100us  gaps>1ms  total ms  longest ms  (%.0f s)\n", seconds);
  for (const auto& g : results) {
    std::printf("%3d  %10d  %8d  %8.1f  %10.2f\n", g.cpu, g.over_100us, g.over_1ms, g.total_ms,
                g.longest_ms);
  }
  return 0;
}
