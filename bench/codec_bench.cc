// Decoding input records into a reused message, as a shard does: Protobuf binary (the wire
// form on Kafka) and proto3 JSON (replay files, the HTTP API).

#include <benchmark/benchmark.h>

#include "bench/bench_util.h"
#include "engine/codec/codec.h"

namespace vigil::bench {
namespace {

void BM_DecodeDeviceEventBinary(benchmark::State& state) {
  const InputRecord rec = event_record(1, "heart_rate", 72, 0, kT0);
  vigil::v1::DeviceEvent ev;
  for (auto _ : state) {
    auto s = codec::decode(rec.payload, codec::Format::kBinary, &ev);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rec.payload.size()));
}
BENCHMARK(BM_DecodeDeviceEventBinary);

void BM_DecodeDeviceEventJson(benchmark::State& state) {
  vigil::v1::DeviceEvent src;
  (void)codec::decode(event_record(1, "heart_rate", 72, 0, kT0).payload, codec::Format::kBinary, &src);
  const std::string json = codec::to_json(src);
  vigil::v1::DeviceEvent ev;
  for (auto _ : state) {
    auto s = codec::decode(json, codec::Format::kJson, &ev);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}
BENCHMARK(BM_DecodeDeviceEventJson);

void BM_DecodeAndValidateBinary(benchmark::State& state) {
  const InputRecord rec = event_record(1, "heart_rate", 72, 0, kT0);
  vigil::v1::DeviceEvent ev;
  for (auto _ : state) {
    auto s = codec::decode(rec.payload, codec::Format::kBinary, &ev);
    auto v = codec::validate(ev);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_DecodeAndValidateBinary);

}  // namespace
}  // namespace vigil::bench
