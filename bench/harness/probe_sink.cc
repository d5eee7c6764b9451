#include "bench/harness/probe_sink.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <thread>

#include "bench/harness/phases.h"
#include "schemas/outputs.pb.h"

namespace vigil::bench {

ProbeSink::ProbeSink(uint32_t probe_elders, uint64_t probes)
    : probe_elders_(probe_elders),
      submit_ns_(new std::atomic<int64_t>[probes + 1]),
      emit_ns_(new std::atomic<int64_t>[probes + 1]),
      probes_(probes) {
  for (uint64_t i = 0; i <= probes; ++i) {
    submit_ns_[i].store(0);
    emit_ns_[i].store(0);
  }
}

void ProbeSink::emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) {
  records_.fetch_add(1, std::memory_order_relaxed);
  if (topic != OutTopic::kAlarms) return;
  alarms_.fetch_add(1, std::memory_order_relaxed);
  constexpr std::string_view kPrefix = "bench-probe-";
  if (key.substr(0, kPrefix.size()) != kPrefix) return;
  const auto& a = static_cast<const vigil::v1::AlarmEvent&>(msg);
  if (a.rule_id() != "sos" || a.count() == 0) return;
  const uint64_t p = std::stoul(std::string(key.substr(kPrefix.size())));
  // Probe ids go round the probe elders: id = (count - 1) * elders + p.
  const uint64_t id = (a.count() - 1) * probe_elders_ + p;
  if (id < probes_) emit_ns_[id].store(RealClock::instance().steady_ns(), std::memory_order_relaxed);
}

std::vector<double> ProbeSink::latencies_us() const {
  std::vector<double> out;
  for (uint64_t i = 0; i < probes_; ++i) {
    const int64_t s = submit_ns_[i].load(), e = emit_ns_[i].load();
    if (s != 0 && e != 0 && e >= s) out.push_back(static_cast<double>(e - s) / 1000.0);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ProbeSink::write_timeline(std::ostream& out) const {
  std::vector<std::pair<int64_t, int64_t>> rows;  // submit, emit
  for (uint64_t i = 0; i < probes_; ++i) {
    const int64_t s = submit_ns_[i].load(), e = emit_ns_[i].load();
    if (s != 0 && e != 0 && e >= s) rows.emplace_back(s, e);
  }
  std::sort(rows.begin(), rows.end());
  out << "submit_ms\tlatency_us\tsubmit_monotonic_s\n";
  out << std::fixed;
  for (const auto& [s, e] : rows) {
    out << std::setprecision(3) << static_cast<double>(s - rows.front().first) / 1e6 << '\t'
        << std::setprecision(1) << static_cast<double>(e - s) / 1e3 << '\t'
        << std::setprecision(6) << static_cast<double>(s) / 1e9 << '\n';
  }
}

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

}  // namespace vigil::bench

namespace vigil::bench {

runtime::EngineOptions engine_options(const PhaseContext& ctx, egress::Sink* probes) {
  runtime::EngineOptions eo;
  eo.observer = probes;
  eo.shards = ctx.shards;
  eo.data_dir = ctx.dir;
  if (ctx.commit_max_busy >= 0) eo.commit_max_busy = ctx.commit_max_busy;
  if (ctx.shard_nice) eo.shard_nice = *ctx.shard_nice;
  return eo;
}

Status settle(runtime::Engine& engine) {
  const uint64_t first = engine.checkpoints() + 2;  // the one in flight may predate the submits
  while (engine.checkpoints() < first) {
    if (auto s = engine.maybe_checkpoint(); !s) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return ok();
}

void take_latencies(const PhaseContext& ctx, const ProbeSink& sink, PhaseResult& r) {
  if (const char* dir = std::getenv("VIGIL_BENCH_PROBE_LOG"); dir != nullptr && *dir != 0) {
    std::ofstream out(std::filesystem::path(dir) /
                      (std::filesystem::path(ctx.dir).filename().string() + ".tsv"));
    sink.write_timeline(out);
  }
  const auto lat = sink.latencies_us();
  r.probes = lat.size();
  r.p50_us = quantile(lat, 0.50);
  r.p99_us = quantile(lat, 0.99);
  r.p999_us = quantile(lat, 0.999);
  r.outputs = sink.records();
}

void take_checkpoint_timeline(const PhaseContext& ctx, const runtime::Engine& engine,
                              int64_t from_ns) {
  const char* dir = std::getenv("VIGIL_BENCH_PROBE_LOG");
  if (dir == nullptr || *dir == 0) return;
  std::ofstream out(std::filesystem::path(dir) /
                    (std::filesystem::path(ctx.dir).filename().string() + "-checkpoints.tsv"));
  out << "epoch\tbarrier_monotonic_s\tsnapshot_ms\twrite_begin_ms\twrite_end_ms\tdurable_ms\n";
  out << std::fixed;
  for (const auto& t : engine.checkpoint_timings()) {
    if (t.barrier_ns < from_ns) continue;
    auto ms = [&](int64_t at) { return static_cast<double>(at - t.barrier_ns) / 1e6; };
    out << t.epoch << '\t' << std::setprecision(6) << static_cast<double>(t.barrier_ns) / 1e9
        << std::setprecision(1) << '\t' << ms(t.snapshot_ns) << '\t' << ms(t.write_begin_ns)
        << '\t' << ms(t.write_end_ns) << '\t' << ms(t.durable_ns) << '\n';
  }
}

std::unique_ptr<broker::EmbeddedBroker> start_broker(const PhaseContext& ctx, PhaseResult& r) {
  auto b = broker::EmbeddedBroker::start(1, ctx.partitions, TopicNames("vigil."));
  if (!b) {
    r.note = b.error().message;
    return nullptr;
  }
  return std::move(b.value());
}

}  // namespace vigil::bench
