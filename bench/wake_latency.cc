// How long this machine takes to wake a parked engine thread: the floor under the engine's
// latency tail when its shards go idle between records (bench/README.md, "Session 13").
//
// A consumer parks on a pipeline::Parker (the shards' and the dispatcher's futex, with their
// 1 ms timeout) pinned to the last CPU; a producer on the first CPU sleeps `gap`, then sets a
// flag and notify()s, as Engine::submit does after a publish. The latency is notify -> the
// consumer running again. On bare metal it is a few to tens of us whatever the gap; on a VM
// whose idle vCPUs halt, the wake of a vCPU idle for a millisecond can take milliseconds
// (the hypervisor has to run it again), and no engine change removes that.
//
//   build/release/bench/wake_latency [wakes per gap, default 2000]

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "bench/harness/probe_sink.h"
#include "engine/core/clock.h"
#include "engine/pipeline/parker.h"

namespace {

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int64_t now_ns() { return vigil::RealClock::instance().steady_ns(); }

//! The wake latencies in us, sorted (read with the harness's nearest-rank quantile).
std::vector<double> measure(int64_t gap_us, int wakes, int producer_cpu, int consumer_cpu) {
  vigil::pipeline::Parker parker;
  std::atomic<bool> work{false}, stop{false};
  std::atomic<int64_t> posted{0};
  std::vector<double> us;
  us.reserve(static_cast<size_t>(wakes));
  std::thread consumer([&] {
    pin_to(consumer_cpu);
    while (!stop.load(std::memory_order_acquire)) {
      if (work.load(std::memory_order_acquire)) {
        us.push_back(static_cast<double>(now_ns() - posted.load(std::memory_order_relaxed)) / 1e3);
        work.store(false, std::memory_order_release);
        continue;
      }
      parker.park([&] { return work.load(std::memory_order_acquire); }, 1'000'000);
    }
  });
  pin_to(producer_cpu);
  for (int i = 0; i < wakes; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    while (work.load(std::memory_order_acquire)) {  // the last wake not seen yet
    }
    posted.store(now_ns(), std::memory_order_relaxed);
    work.store(true, std::memory_order_release);
    parker.notify();
  }
  while (work.load(std::memory_order_acquire)) {
  }
  stop.store(true, std::memory_order_release);
  parker.notify();
  consumer.join();
  std::sort(us.begin(), us.end());
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  const int wakes = argc > 1 ? std::max(100, std::atoi(argv[1])) : 2000;
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  const int consumer_cpu = cpus > 1 ? cpus - 1 : 0;
  std::printf("parked-thread wake latency, producer on CPU 0, consumer on CPU %d, %d wakes each\n",
              consumer_cpu, wakes);
  std::printf("%10s %10s %10s %10s %10s %12s\n", "idle gap", "p50 us", "p99 us", "p99.9 us",
              "max us", "over 1 ms");
  for (int64_t gap_us : {50, 300, 1000, 5000}) {
    const int n = gap_us >= 5000 ? wakes / 2 : wakes;
    const std::vector<double> us = measure(gap_us, n, 0, consumer_cpu);
    const auto over = std::count_if(us.begin(), us.end(), [](double x) { return x > 1000.0; });
    using vigil::bench::quantile;
    std::printf("%7lld us %10.1f %10.1f %10.1f %10.1f %7lld (%.1f%%)\n",
                static_cast<long long>(gap_us), quantile(us, 0.5), quantile(us, 0.99),
                quantile(us, 0.999), us.back(), static_cast<long long>(over),
                100.0 * static_cast<double>(over) / static_cast<double>(us.size()));
  }
  return 0;
}
