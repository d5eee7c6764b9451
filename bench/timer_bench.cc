// The shard timer wheel: arm + fire, and re-arm (cancel + arm) as absence rules do on every
// event, with 0, 1 million and 10 million other timers armed.

#include <benchmark/benchmark.h>

#include <random>

#include "bench/bench_util.h"
#include "engine/pipeline/timer_wheel.h"

namespace vigil::bench {
namespace {

//! A wheel preloaded with `armed` timers spread over 12 hours after kT0.
void preload(pipeline::TimerWheel& w, int64_t armed) {
  std::mt19937_64 rng(1);
  for (int64_t i = 0; i < armed; ++i) {
    w.arm(kT0 + 1 + static_cast<TimeMs>(rng() % (12 * kHour)), 0, 0, 0, static_cast<uint32_t>(i));
  }
}

// Each iteration: time moves 1 ms, one timer is armed 60 s ahead and whatever is due fires
// (in steady state one per iteration: the one armed 60,000 iterations ago).
void BM_WheelArmAndFire(benchmark::State& state) {
  pipeline::TimerWheel w;
  preload(w, state.range(0));
  TimeMs now = kT0;
  pipeline::WheelTimer t;
  uint64_t fired = 0;
  for (auto _ : state) {
    ++now;
    w.arm(now + 60 * kSecond, 0, 1, 0, 7);
    while (w.pop_due(now, &t)) ++fired;
  }
  benchmark::DoNotOptimize(fired);
  state.counters["armed"] = static_cast<double>(w.size());
  state.counters["MiB"] = static_cast<double>(w.pool_bytes()) / (1 << 20);
}
BENCHMARK(BM_WheelArmAndFire)->Arg(0)->Arg(1'000'000)->Arg(10'000'000);

// Each iteration: one of 100,000 deadlines moves 45 min ahead (cancel + arm).
void BM_WheelRearm(benchmark::State& state) {
  pipeline::TimerWheel w;
  preload(w, state.range(0));
  std::vector<uint32_t> handle(100'000, pipeline::TimerWheel::kNil);
  TimeMs now = kT0;
  size_t k = 0;
  for (auto _ : state) {
    ++now;
    uint32_t& h = handle[k++ % handle.size()];
    if (h != pipeline::TimerWheel::kNil) w.cancel(h);
    h = w.arm(now + 45 * kMinute, 0, 0, 0, 1);
  }
  state.counters["armed"] = static_cast<double>(w.size());
}
BENCHMARK(BM_WheelRearm)->Arg(0)->Arg(1'000'000)->Arg(10'000'000);

}  // namespace
}  // namespace vigil::bench
