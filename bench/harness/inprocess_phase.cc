#include <chrono>
#include <thread>

#include "bench/harness/feed_clock.h"
#include "bench/harness/phases.h"
#include "bench/harness/probe_sink.h"
#include "engine/core/clock.h"
#include "engine/core/metrics.h"
#include "engine/runtime/engine.h"

namespace vigil::bench {

PhaseResult run_inprocess(const PhaseContext& ctx, double pace_per_s) {
  PhaseResult r;
  const Workload& w = *ctx.workload;
  ProbeSink sink(ctx.probe_elders, w.probes);
  const Clock& clock = RealClock::instance();
  FeedClock engine_clock(w.event_ms.empty() ? clock.now_ms() : w.event_ms.front());
  egress::DiscardSink delivered;
  runtime::Engine engine(engine_options(ctx, &sink), ctx.rules, delivered, engine_clock);
  if (auto s = engine.start(); !s) {
    r.note = s.error().message;
    return r;
  }
  for (const auto& rec : w.registry) engine.submit(rec);
  if (auto s = settle(engine); !s) {
    r.note = s.error().message;
    return r;
  }

  const double cpu0 = process_cpu_s();
  const Metrics& m = metrics();
  const uint64_t checkpoints0 = m.checkpoints.get(), bytes0 = m.checkpoint_bytes.get(),
                 write_us0 = m.checkpoint_write_us.get(),
                 snapshot_us0 = m.checkpoint_snapshot_us.get(),
                 durable_us0 = m.checkpoint_durable_us.get();
  const int64_t t0 = clock.steady_ns();
  const int64_t limit = t0 + static_cast<int64_t>(ctx.duration_s * 1e9);
  uint64_t n = 0;
  for (; n < w.events.size(); ++n) {
    if ((n & 1023) == 0) {
      if (clock.steady_ns() >= limit) break;
      engine_clock.follow(w.event_ms[n]);
      (void)engine.maybe_checkpoint();
    }
    if (pace_per_s > 0 && (n & 63) == 0) {
      // Record n is due at t0 + n / pace; held every 64 records, so that the feed comes in
      // small bursts rather than 1,024 records at once (a probe's wait behind its burst is part
      // of its latency). Sleep, not spin, as the broker phase's producer does: a spinning
      // feeder takes a core from the engine it feeds.
      const int64_t due = t0 + static_cast<int64_t>(static_cast<double>(n) / pace_per_s * 1e9);
      const int64_t wait_ns = due - clock.steady_ns();
      if (wait_ns > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
    }
    if (w.probe_id[n] >= 0) sink.submitted(static_cast<uint64_t>(w.probe_id[n]), clock.steady_ns());
    engine.submit(w.events[n]);
  }
  if (auto s = engine.stop(); !s) r.note = s.error().message;  // drains every ring first
  const int64_t t1 = clock.steady_ns();
  r.cpu_s = process_cpu_s() - cpu0;
  r.checkpoints = m.checkpoints.get() - checkpoints0;
  r.checkpoint_bytes = m.checkpoint_bytes.get() - bytes0;
  r.checkpoint_write_s = static_cast<double>(m.checkpoint_write_us.get() - write_us0) / 1e6;
  r.checkpoint_snapshot_s =
      static_cast<double>(m.checkpoint_snapshot_us.get() - snapshot_us0) / 1e6;
  r.checkpoint_durable_s = static_cast<double>(m.checkpoint_durable_us.get() - durable_us0) / 1e6;
  r.ran = true;
  r.events = n;
  r.seconds = static_cast<double>(t1 - t0) / 1e9;
  r.events_per_s = static_cast<double>(n) / r.seconds;
  take_latencies(ctx, sink, r);
  take_checkpoint_timeline(ctx, engine, t0);
  if (engine.store()) {
    // What the elders' state costs: the serialised ElderRecords the checkpoints wrote.
    // The profile (p/, written when the registry changes) and the rule and alarm state (e/).
    (void)engine.store()->scan("e/", [&](std::string_view, std::string_view v) {
      r.state_bytes += v.size();
      ++r.state_records;
    });
    (void)engine.store()->scan("p/", [&](std::string_view, std::string_view v) {
      r.state_bytes += v.size();
    });
  }
  return r;
}

}  // namespace vigil::bench
