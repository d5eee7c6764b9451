// SPSC ring throughput between two threads: 8-byte items, and records shaped like the
// engine's (an InputRecord with a ~90-byte payload, copied into a reused slot).

#include <benchmark/benchmark.h>

#include <thread>

#include "bench/bench_util.h"
#include "engine/pipeline/spsc_ring.h"

namespace vigil::bench {
namespace {

void BM_RingU64(benchmark::State& state) {
  pipeline::SpscRing<uint64_t> ring(1 << 14);
  constexpr uint64_t kBatch = 1 << 20;
  for (auto _ : state) {
    std::thread consumer([&] {
      uint64_t got = 0, sum = 0;
      while (got < kBatch) {
        if (uint64_t* v = ring.front()) {
          sum += *v;
          ring.pop();
          ++got;
        }
      }
      benchmark::DoNotOptimize(sum);
    });
    for (uint64_t i = 0; i < kBatch; ++i) {
      uint64_t* slot;
      while ((slot = ring.try_claim()) == nullptr) {}
      *slot = i;
      ring.publish();
    }
    consumer.join();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}
BENCHMARK(BM_RingU64)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_RingRecords(benchmark::State& state) {
  pipeline::SpscRing<InputRecord> ring(1 << 14);
  const InputRecord rec = event_record(1, "heart_rate", 72, 0, kT0);
  constexpr uint64_t kBatch = 1 << 19;
  for (auto _ : state) {
    std::thread consumer([&] {
      uint64_t got = 0, bytes = 0;
      while (got < kBatch) {
        if (InputRecord* r = ring.front()) {
          bytes += r->payload.size();
          ring.pop();
          ++got;
        }
      }
      benchmark::DoNotOptimize(bytes);
    });
    for (uint64_t i = 0; i < kBatch; ++i) {
      InputRecord* slot;
      while ((slot = ring.try_claim()) == nullptr) {}
      *slot = rec;
      ring.publish();
    }
    consumer.join();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.counters["payload_B"] = static_cast<double>(rec.payload.size());
}
BENCHMARK(BM_RingRecords)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::bench
