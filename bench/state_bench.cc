// The checkpoint write: StateStore::commit of every elder's e/ record, as the engine's commit
// thread does it at a high event rate (every elder dirty in every interval), into a real
// RocksDB on disk with the engine's options. The values are the bench's typical compact
// record size; their bytes do not matter to the WAL and memtable (compression is per table
// file, in the background flush).

#include <benchmark/benchmark.h>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/harness/phases.h"
#include "engine/state/state_store.h"

namespace vigil::bench {
namespace {

constexpr size_t kValueBytes = 310;  // a busy elder's e/ record (bench/README.md, session 10)

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

//! Two shards' ops for `elders` elders, each sorted by key as the commit thread sorts them.
std::vector<state::StateOps> checkpoint(int64_t elders, uint32_t round) {
  std::vector<state::StateOps> ops(2);
  std::mt19937_64 rng(round);
  std::string value(kValueBytes, '\0');
  for (int64_t i = 0; i < elders; ++i) {
    for (auto& c : value) c = static_cast<char>(rng());
    const std::string key = "e/E" + std::to_string(1'000'000 + i);
    ops[static_cast<size_t>(i) % 2].put(key, value);
  }
  for (auto& o : ops) o.puts.sort_by_key();
  return ops;
}

// Each iteration: one checkpoint of every elder (range(0)), committed, as a WAL batch
// (range(1) 0) or as an ingested table file (range(1) 1; StateStore::commit's path for a
// checkpoint this large). "cpu_ms" is the committing thread's own CPU per checkpoint;
// "all_cpu_ms" the whole process's, RocksDB's flushes and compactions included, up to the
// memtables flushed after the last one.
void BM_CommitCheckpoint(benchmark::State& state) {
  const std::string dir = "/tmp/vigil-state-bench-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  auto opened = state::StateStore::open(dir);
  if (!opened) {
    state.SkipWithError(opened.error().message.c_str());
    return;
  }
  std::unique_ptr<state::StateStore> store = std::move(opened).value();
  store->set_ingest_min_bytes(state.range(1) != 0 ? 0 : SIZE_MAX);
  std::vector<std::vector<state::StateOps>> rounds;
  for (uint32_t r = 0; r < 4; ++r) rounds.push_back(checkpoint(state.range(0), r));
  const double all_cpu0 = process_cpu_s();
  int64_t cpu_ns = 0;
  uint64_t bytes = 0;
  size_t r = 0;
  for (auto _ : state) {
    const auto& round = rounds[r++ % rounds.size()];
    const std::vector<const state::StateOps*> list{&round[0], &round[1]};
    const int64_t c0 = thread_cpu_ns();
    auto s = store->commit(list, {});
    cpu_ns += thread_cpu_ns() - c0;
    if (!s) {
      state.SkipWithError(s.error().message.c_str());
      break;
    }
    bytes += static_cast<uint64_t>(state.range(0)) * (kValueBytes + 10);
  }
  const auto n = static_cast<double>(state.iterations());
  if (auto s = store->flush_memtables(); !s) state.SkipWithError(s.error().message.c_str());
  state.counters["all_cpu_ms"] = (process_cpu_s() - all_cpu0) * 1e3 / n;
  state.counters["cpu_ms"] = static_cast<double>(cpu_ns) / 1e6 / n;
  state.counters["keys/s"] = benchmark::Counter(static_cast<double>(state.range(0)) * n,
                                                benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  store.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_CommitCheckpoint)
    ->Args({100'000, 0})
    ->Args({100'000, 1})
    ->Iterations(12)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The commit thread's sort of one shard's puts (engine_commit.cc): `range(0)` e/ records of
// the typical size, keyed like the simulator's elders ("e/e000001"), in the hash order a shard
// meets its dirty elders in. Rebuilt untimed before each sort.
void BM_SortCheckpointKeys(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  std::vector<std::string> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "e/e%06zu", i + 1);
    keys.emplace_back(id);
  }
  std::shuffle(keys.begin(), keys.end(), std::mt19937_64(7));
  const std::string value(kValueBytes, 'v');
  state::PutList puts;
  for (auto _ : state) {
    state.PauseTiming();
    puts.clear();
    for (const auto& k : keys) puts.add(k, value);
    state.ResumeTiming();
    puts.sort_by_key();
    benchmark::DoNotOptimize(puts[0]);
  }
  state.counters["ns/key"] = benchmark::Counter(static_cast<double>(n),
                                                benchmark::Counter::kIsIterationInvariantRate |
                                                    benchmark::Counter::kInvert);
}
BENCHMARK(BM_SortCheckpointKeys)->Arg(50'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace vigil::bench
