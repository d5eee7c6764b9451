#pragma once
// The snapshot micro benchmarks' common step: one checkpoint's collect_dirty() timed, into
// fresh ops, and the bytes it wrote counted outside the timing; then the per-item counters.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "engine/state/state_store.h"

namespace vigil::bench {

//! Times `owner.collect_dirty(ops)` (a ShardCore, a Dispatcher); returns the bytes of its puts.
template <class Owner>
uint64_t timed_collect(benchmark::State& state, Owner& owner) {
  state::StateOps ops;
  state.ResumeTiming();
  owner.collect_dirty(ops);
  benchmark::DoNotOptimize(ops);
  state.PauseTiming();
  uint64_t bytes = 0;
  for (const auto& [k, v] : ops.puts) bytes += k.size() + v.size();
  return bytes;
}

//! "ns/<item>" (time per item, shown in the unit Google Benchmark picks) and "bytes/<item>".
inline void per_item_counters(benchmark::State& state, const std::string& item, double items,
                              uint64_t bytes) {
  const auto n = static_cast<double>(state.iterations());
  state.counters["ns/" + item] = benchmark::Counter(
      items * n, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["bytes/" + item] = static_cast<double>(bytes) / n / items;
}

}  // namespace vigil::bench
