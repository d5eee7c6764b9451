#include "bench/harness/harness.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <tuple>

#include "bench/harness/phases.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"

namespace vigil::bench {
namespace {

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

namespace {

void row(std::ostream& out, const std::string& name, const PhaseResult& r, bool latency) {
  out << std::left << std::setw(34) << name << std::right;
  if (!r.ran) {
    out << "  not run: " << r.note << "\n";
    return;
  }
  out << std::setw(12) << std::fixed << std::setprecision(0) << r.events_per_s << std::setw(11)
      << r.events << std::setw(9) << std::setprecision(1) << r.seconds;
  if (latency) {
    out << std::setw(10) << std::setprecision(0) << r.p50_us << std::setw(10) << r.p99_us
        << std::setw(11) << r.p999_us << std::setw(8) << r.probes;
  } else {
    out << std::setw(39) << "";
  }
  if (r.events > 0 && r.cpu_s > 0) {
    out << std::setw(10) << std::setprecision(2) << r.cpu_s * 1e6 / static_cast<double>(r.events);
  }
  out << (r.note.empty() ? "" : "  (" + r.note + ")") << "\n";
}

}  // namespace

int run_bench(const BenchOptions& o, std::ostream& out) {
  namespace fs = std::filesystem;
  if (o.workload != "standard") {
    out << "vigil bench: unknown workload '" << o.workload << "' (standard)\n";
    return 2;
  }
  auto loaded = rules::load_rule_dir(o.rules_dir);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) out << d.str() << "\n";
    return 2;
  }
  const fs::path base = o.work_dir.empty()
                            ? fs::temp_directory_path() /
                                  ("vigil-bench-" + std::to_string(RealClock::instance().now_ms()))
                            : fs::path(o.work_dir);
  fs::create_directories(base);
  auto wanted = [&](std::string_view name) {
    const bool broker_phase = name == "raw" || name.starts_with("broker");
    if (o.skip_broker && broker_phase) return false;
    return o.phases.empty() || std::find(o.phases.begin(), o.phases.end(), name) != o.phases.end();
  };
  for (auto [paced, max_phase, rate, flag] :
       {std::tuple("inprocess-paced", "inprocess-max", o.pace_per_s, "--pace"),
        std::tuple("broker-paced", "broker-max", o.broker_pace_per_s, "--broker-pace")}) {
    if (wanted(paced) && !wanted(max_phase) && rate <= 0) {
      out << "vigil bench: phase " << paced << " without " << max_phase << " needs " << flag << "\n";
      return 2;
    }
  }
  const double rss_before = peak_rss_mib();
  out << "bench: building the standard workload: " << o.load.elders << " elders x "
      << o.load.devices_per_elder << " devices, " << o.load.events << " records, whole "
      << o.rules_dir << " pack (" << loaded.rules->rules().size() << " rules), persistence on, "
      << "event time from " << format_rfc3339(o.load.start_ms) << std::endl;
  const Workload w = make_workload(o.load);
  out << "bench: " << w.registry.size() << " registry records, " << w.events.size() << " events ("
      << w.probes << " probes), " << w.payload_bytes / (1 << 20) << " MiB of payload" << std::endl;

  PhaseContext ctx;
  ctx.workload = &w;
  ctx.rules = loaded.rules;
  ctx.shards = o.shards;
  ctx.partitions = o.partitions;
  ctx.commit_max_busy = o.commit_max_busy;
  ctx.shard_nice = o.shard_nice;
  ctx.duration_s = o.duration_s;
  ctx.probe_elders = o.load.probe_elders;
  auto dir = [&](const char* name) {
    ctx.dir = (base / name).string();
    fs::remove_all(ctx.dir);
    return ctx;
  };

  int total_phases = 0;
  for (const char* name : kPhaseNames) total_phases += wanted(name) ? 1 : 0;
  int phase_no = 0;
  auto announce = [&]() -> std::ostream& {
    return out << "bench: phase " << ++phase_no << "/" << total_phases << " ";
  };
  auto not_run = [](const char* why) {
    PhaseResult r;
    r.note = why;
    return r;
  };
  const char* const unselected = o.skip_broker ? "skipped (--skip-broker)" : "skipped (--phases)";

  PhaseResult max = not_run("skipped (--phases)");
  if (wanted("inprocess-max")) {
    announce() << "in-process, as fast as the engine takes records" << std::endl;
    max = run_inprocess(dir("inprocess-max"), 0);
  }
  PhaseResult half = not_run("skipped (--phases)");
  if (wanted("inprocess-paced")) {
    const double pace = o.pace_per_s > 0 ? o.pace_per_s : max.events_per_s / 2;
    if (pace > 0) {
      announce() << "in-process, paced at " << static_cast<uint64_t>(pace) << " events/s"
                 << (o.pace_per_s > 0 ? " (--pace)" : " (half that rate)") << std::endl;
      half = run_inprocess(dir("inprocess-half"), pace);
    } else {
      half.note = "no rate: the max phase measured none; give --pace";
    }
  }
  PhaseResult raw = not_run(unselected), broker = not_run(unselected), broker_half = not_run(unselected);
  if (wanted("raw")) {
    announce() << "raw librdkafka consumer on the embedded broker" << std::endl;
    raw = run_raw_consumer(dir("raw"));
  }
  if (wanted("broker-max")) {
    announce() << "the engine through the embedded broker, as fast as it reads" << std::endl;
    broker = run_broker(dir("broker"));
  }
  if (wanted("broker-paced")) {
    const double broker_pace = o.broker_pace_per_s > 0 ? o.broker_pace_per_s : broker.events_per_s / 2;
    if (broker_pace > 0) {
      announce() << "the engine through the embedded broker, paced at "
                 << static_cast<uint64_t>(broker_pace) << " events/s"
                 << (o.broker_pace_per_s > 0 ? " (--broker-pace)" : " (half that rate)") << std::endl;
      broker_half = run_broker(dir("broker-half"), broker_pace);
    } else {
      broker_half.note = "no rate: the max phase measured none; give --broker-pace";
    }
  }
  PhaseResult rocks = not_run("skipped (--phases)");
  if (wanted("rocksdb")) {
    announce() << "RocksDB batched writes" << std::endl;
    const size_t value_bytes =
        max.state_records ? static_cast<size_t>(max.state_bytes / max.state_records) : 300;
    rocks = run_rocksdb(dir("rocksdb"), 2'000'000, std::max<size_t>(value_bytes, 64));
  }
  const double rss = peak_rss_mib();
  const double state_per_elder = max.state_records ? double(max.state_bytes) / max.state_records : 0;

  out << "\n" << std::left << std::setw(34) << "phase" << std::right << std::setw(12) << "events/s"
      << std::setw(11) << "events" << std::setw(9) << "s" << std::setw(10) << "p50 us"
      << std::setw(10) << "p99 us" << std::setw(11) << "p99.9 us" << std::setw(8) << "probes"
      << std::setw(11) << "cpu us/ev" << "\n";
  row(out, "in-process, max rate", max, true);
  row(out, o.pace_per_s > 0 ? "in-process, paced (--pace)" : "in-process, half rate", half, true);
  row(out, "through embedded broker, max rate", broker, true);
  row(out,
      o.broker_pace_per_s > 0 ? "through embedded broker, --broker-pace" : "through embedded broker, half rate",
      broker_half, true);
  row(out, "bound: raw librdkafka consumer", raw, false);
  row(out, "bound: RocksDB batched writes (keys)", rocks, false);
  out << std::fixed << std::setprecision(1) << "peak RSS " << rss << " MiB (" << rss_before
      << " before the workload); elder state " << state_per_elder << " bytes/elder serialised ("
      << max.state_records << " elders stored)";
  if (raw.ran && broker.ran && raw.events_per_s > 0) {
    out << "; broker/raw = " << std::setprecision(1) << 100.0 * broker.events_per_s / raw.events_per_s << "%";
  }
  out << "\n";
  // What the checkpoints cost in each in-process phase (docs/design.md "Checkpoint cadence").
  auto checkpoints = [&](const char* name, const PhaseResult& p) {
    if (!p.ran || p.checkpoints == 0) return;
    const double n = static_cast<double>(p.checkpoints);
    out << std::setprecision(1) << "checkpoints, " << name << ": " << p.checkpoints << ", "
        << static_cast<double>(p.checkpoint_bytes) / n / 1e6 << " MB each, RocksDB write "
        << p.checkpoint_write_s * 1e3 / n << " ms each; from the barrier, snapshots taken in "
        << p.checkpoint_snapshot_s * 1e3 / n << " ms, durable in "
        << p.checkpoint_durable_s * 1e3 / n << " ms each\n";
  };
  checkpoints("in-process max rate", max);
  checkpoints(o.pace_per_s > 0 ? "in-process paced" : "in-process half rate", half);

  boost::json::object j;
  j["date"] = format_rfc3339(RealClock::instance().now_ms());
  j["workload"] = o.workload;
  j["elders"] = o.load.elders;
  j["event_time_start"] = format_rfc3339(o.load.start_ms);
  j["devices_per_elder"] = o.load.devices_per_elder;
  j["events"] = w.events.size();
  j["shards"] = o.shards;
  // A phase that did not run (--phases, --skip-broker) writes null, never a 0 that reads as
  // a measurement.
  auto of = [](const PhaseResult& p, double v) -> boost::json::value {
    return p.ran ? boost::json::value(v) : boost::json::value(nullptr);
  };
  auto cpu_per_event = [](const PhaseResult& p) {
    return p.events ? p.cpu_s * 1e6 / static_cast<double>(p.events) : 0.0;
  };
  // The latency keys are the paced phases' (a rate the engine sustains), in-process and
  // through the broker alike.
  auto latencies = [&](const std::string& prefix, const PhaseResult& p) {
    j[prefix + "_p50_us"] = of(p, p.p50_us);
    j[prefix + "_p99_us"] = of(p, p.p99_us);
    j[prefix + "_p999_us"] = of(p, p.p999_us);
  };
  j["inprocess_events_per_s"] = of(max, max.events_per_s);
  latencies("inprocess", half);
  j["inprocess_max_rate_p99_us"] = of(max, max.p99_us);
  j["inprocess_half_rate_events_per_s"] = of(half, half.events_per_s);
  j["inprocess_half_rate_checkpoints"] = of(half, static_cast<double>(half.checkpoints));
  j["inprocess_half_rate_checkpoint_bytes"] = of(half, static_cast<double>(half.checkpoint_bytes));
  j["inprocess_half_rate_checkpoint_write_s"] = of(half, half.checkpoint_write_s);
  j["inprocess_half_rate_checkpoint_snapshot_s"] = of(half, half.checkpoint_snapshot_s);
  j["inprocess_half_rate_checkpoint_durable_s"] = of(half, half.checkpoint_durable_s);
  j["inprocess_cpu_us_per_event"] = of(max, cpu_per_event(max));
  j["broker_cpu_us_per_event"] = of(broker, cpu_per_event(broker));
  j["broker_events_per_s"] = of(broker, broker.events_per_s);
  latencies("broker", broker_half);
  j["broker_max_rate_p99_us"] = of(broker, broker.p99_us);
  j["broker_half_rate_events_per_s"] = of(broker_half, broker_half.events_per_s);
  j["raw_consumer_events_per_s"] = of(raw, raw.events_per_s);
  j["rocksdb_batch_writes_per_s"] = of(rocks, rocks.events_per_s);
  j["peak_rss_mib"] = rss;
  j["state_bytes_per_elder"] = of(max, state_per_elder);
  j["partitions"] = o.partitions;
  boost::json::array ran;
  const PhaseResult* results[] = {&max, &half, &raw, &broker, &broker_half, &rocks};
  for (size_t i = 0; i < std::size(kPhaseNames); ++i) {
    if (results[i]->ran) ran.emplace_back(kPhaseNames[i]);
  }
  j["phases_run"] = std::move(ran);
  if (!o.json_path.empty()) {
    std::ofstream(o.json_path) << boost::json::serialize(j) << "\n";
    out << "bench: JSON written to " << o.json_path << "\n";
  }
  std::error_code ec;
  if (o.work_dir.empty()) fs::remove_all(base, ec);
  for (const PhaseResult* p : results) {
    // A phase that was chosen but could not run fails the bench.
    if (!p->ran && p->note.rfind("skipped", 0) != 0) return 1;
  }
  return 0;
}

}  // namespace vigil::bench
