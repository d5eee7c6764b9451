// Rule evaluation with the whole rules/eldercare pack on one ShardCore (decode + rules + alarms
// + timers), ns per event by event type; and the same with ~10 million armed timers.
// Records are pre-encoded and their event times only move forward, as in production.

#include <benchmark/benchmark.h>

#include <memory>

#include "bench/bench_util.h"
#include "bench/snapshot_util.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/shard_core.h"

namespace vigil::bench {
namespace {

std::shared_ptr<const rules::RuleSet> pack() {
  static auto loaded = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) fprintf(stderr, "%s\n", d.str().c_str());
    abort();
  }
  return loaded.rules;
}

struct Kind {
  const char* type;
  double value, value2;
};
// Typical readings (in range), so the common path is measured; sos/fall raise alarms.
const Kind kKinds[] = {
    {"heart_rate", 72, 0},     {"spo2", 97, 0},        {"blood_pressure", 128, 82},
    {"body_temperature", 36.7, 0}, {"respiration_rate", 16, 0}, {"motion", 1, 0},
    {"door_open", 1, 0},       {"bed_exit", 1, 0},     {"heartbeat", 1, 0},
    {"battery", 80, 0},        {"location", 0, 0},     {"water_meter", 12.5, 0},
    {"medication_box_opened", 1, 0}, {"meal_checkin", 1, 0}, {"fall", 1, 0},
    {"sos", 1, 0},
};

constexpr uint32_t kElders = 10'000;

void BM_PackEvent(benchmark::State& state) {
  const Kind& kind = kKinds[state.range(0)];
  state.SetLabel(kind.type);
  CountingSink sink;
  NullPort port;
  runtime::ShardCore shard(0, 1, pack(), sink, port);
  for (uint32_t i = 0; i < kElders; ++i) shard.process(registry_record(i), kT0);
  // One pre-encoded record per iteration; each elder's event time moves 15 s per round.
  const size_t n = static_cast<size_t>(state.max_iterations);
  std::vector<InputRecord> records;
  records.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const uint32_t elder = static_cast<uint32_t>(k % kElders);
    const TimeMs ts = kT0 + static_cast<TimeMs>(k / kElders) * 15 * kSecond + elder;
    records.push_back(event_record(elder, kind.type, kind.value, kind.value2, ts));
  }
  size_t k = 0;
  for (auto _ : state) {
    const InputRecord& r = records[k++];
    shard.process(r, kT0);
    if ((k & 1023) == 0) shard.advance_to(kT0 + static_cast<TimeMs>(k / kElders) * 15 * kSecond);
  }
  state.counters["timers"] = static_cast<double>(shard.timers());
  state.counters["out_records"] = static_cast<double>(sink.records);
}
BENCHMARK(BM_PackEvent)->DenseRange(0, sizeof(kKinds) / sizeof(kKinds[0]) - 1)->Iterations(200'000);

//! The mix of the standard workload (bench/README.md): vitals, motion and heartbeats dominate.
const char* kMix[] = {"heart_rate", "heart_rate", "spo2", "motion", "motion", "heartbeat",
                      "heartbeat", "blood_pressure", "body_temperature", "door_open", "battery",
                      "heart_rate", "motion", "heartbeat", "location", "spo2"};

//! Events that leave a timer armed per rule: sequences pending, thresholds breaching,
//! absences waiting (night-time, so the 22:00-06:00 rules start too).
const Kind kArming[] = {
    {"fall", 1, 0},       {"heart_rate", 130, 0}, {"spo2", 88, 0}, {"blood_pressure", 185, 90},
    {"bed_exit", 1, 0},   {"door_open", 1, 0},    {"motion", 1, 0}, {"water_meter", 1, 0},
};

void BM_PackMixWithArmedTimers(benchmark::State& state) {
  const uint32_t elders = static_cast<uint32_t>(state.range(0));
  CountingSink sink;
  NullPort port;
  runtime::ShardCore shard(0, 1, pack(), sink, port);
  const TimeMs night = kT0 + 7 * kHour;  // 23:00 in Shanghai
  for (uint32_t i = 0; i < elders; ++i) {
    shard.process(registry_record(i), night);
    for (const Kind& k : kArming) shard.process(event_record(i, k.type, k.value, k.value2, night), night);
  }
  const size_t n = static_cast<size_t>(state.max_iterations);
  std::vector<InputRecord> records;
  records.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const uint32_t elder = static_cast<uint32_t>((k * 7919) % elders);
    const char* type = kMix[k % (sizeof(kMix) / sizeof(kMix[0]))];
    records.push_back(event_record(elder, type, type[0] == 's' ? 97 : 72, 80,
                                   night + 1000 + static_cast<TimeMs>(k / 100)));
  }
  state.counters["timers_armed"] = static_cast<double>(shard.timers());
  state.counters["elders"] = elders;
  size_t k = 0;
  for (auto _ : state) shard.process(records[k++], night);
  state.counters["timers_after"] = static_cast<double>(shard.timers());
}
// 1.25M elders x 8 armed rules = 10M timers (several GiB of state; run it alone).
BENCHMARK(BM_PackMixWithArmedTimers)->Arg(10'000)->Arg(1'250'000)->Iterations(500'000)
    ->Unit(benchmark::kNanosecond);

//! A checkpoint's snapshot on the shard thread: every elder dirty (one record of the mix each
//! since the last), then collect_dirty() serialises all of them into the checkpoint's puts.
//! The time per iteration is one whole snapshot; "ns/elder" is what each dirty elder costs
//! the shard at a barrier (the burst the paced bench phase sees at each checkpoint).
void BM_SnapshotDirtyElders(benchmark::State& state) {
  const uint32_t elders = static_cast<uint32_t>(state.range(0));
  CountingSink sink;
  NullPort port;
  runtime::ShardCore shard(0, 1, pack(), sink, port);
  const TimeMs night = kT0 + 7 * kHour;
  for (uint32_t i = 0; i < elders; ++i) {
    shard.process(registry_record(i), night);
    for (const Kind& k : kArming) shard.process(event_record(i, k.type, k.value, k.value2, night), night);
  }
  // Vitals windows filled as the standard workload fills them: a few readings per rule.
  constexpr size_t kMixLen = sizeof(kMix) / sizeof(kMix[0]);
  TimeMs ts = night + 1000;
  for (size_t round = 0; round < kMixLen; ++round, ts += 15 * kSecond) {
    for (uint32_t i = 0; i < elders; ++i) {
      const char* type = kMix[(i + round) % kMixLen];
      shard.process(event_record(i, type, type[0] == 's' ? 97 : 72.4, 80, ts + i % 1000), ts);
    }
  }
  std::vector<InputRecord> dirtying;
  dirtying.reserve(elders);
  for (uint32_t i = 0; i < elders; ++i) dirtying.push_back(event_record(i, "heartbeat", 1, 0, ts));
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (const auto& r : dirtying) shard.process(r, ts);
    bytes += timed_collect(state, shard);
    state.ResumeTiming();
  }
  per_item_counters(state, "elder", elders, bytes);
}
BENCHMARK(BM_SnapshotDirtyElders)->Arg(50'000)->Iterations(20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::bench
