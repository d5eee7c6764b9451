#include "bench/harness/phases.h"
#include "engine/core/clock.h"
#include "engine/state/state_store.h"

namespace vigil::bench {

PhaseResult run_rocksdb(const PhaseContext& ctx, uint64_t keys, size_t value_bytes) {
  PhaseResult r;
  auto store = state::StateStore::open(ctx.dir);
  if (!store) {
    r.note = store.error().message;
    return r;
  }
  const Clock& clock = RealClock::instance();
  constexpr uint64_t kBatch = 2000;  // about what one checkpoint of a busy shard holds
  const std::string value(value_bytes, 'x');
  state::StateOps ops;
  const int64_t t0 = clock.steady_ns();
  const int64_t limit = t0 + static_cast<int64_t>(ctx.duration_s * 1e9);
  uint64_t written = 0;
  while (written < keys && clock.steady_ns() < limit) {
    ops.clear();
    for (uint64_t i = 0; i < kBatch; ++i) ops.put("e/e" + std::to_string(written + i), value);
    if (auto s = store.value()->commit({&ops}, {{{InTopic::kTelemetry, 0}, static_cast<int64_t>(written)}}); !s) {
      r.note = s.error().message;
      return r;
    }
    written += kBatch;
  }
  r.ran = true;
  r.events = written;
  r.seconds = static_cast<double>(clock.steady_ns() - t0) / 1e9;
  r.events_per_s = static_cast<double>(written) / r.seconds;
  r.state_bytes = store.value()->estimated_live_bytes();
  return r;
}

}  // namespace vigil::bench
