// `vigil bench --workload restart --elders N`: time to the first processed event after a crash
// with N elders of state (issue #6, bench/README.md "Restart").

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <thread>

#include "bench/harness/shifted_clock.h"
#include "bench/harness/state_benches.h"
#include "bench/harness/workload.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "engine/runtime/engine.h"
#include "engine/state/state_store.h"
#include "schemas/outputs.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

//! Counts records; remembers when the first sos AlarmEvent of one elder arrived (shard threads).
class TargetSink final : public egress::Sink {
 public:
  explicit TargetSink(std::string elder) : elder_(std::move(elder)) {}
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override {
    records_.fetch_add(1, std::memory_order_relaxed);
    if (topic != OutTopic::kAlarms || key != elder_ || !armed_.load(std::memory_order_acquire)) return;
    if (static_cast<const vigil::v1::AlarmEvent&>(msg).rule_id() != "sos") return;
    int64_t none = 0;
    seen_ns_.compare_exchange_strong(none, RealClock::instance().steady_ns());
  }
  Status flush(int) override { return ok(); }
  //! From now on an sos alarm of the elder counts (the ones before are the pre-crash state's).
  void arm() { records_before_ = records_.load(); armed_.store(true, std::memory_order_release); }
  int64_t seen_ns() const { return seen_ns_.load(std::memory_order_acquire); }
  uint64_t records() const { return records_.load(); }
  uint64_t records_before_arm() const { return records_before_; }

 private:
  std::string elder_;
  std::atomic<bool> armed_{false};
  std::atomic<int64_t> seen_ns_{0};
  std::atomic<uint64_t> records_{0};
  uint64_t records_before_ = 0;
};

//! What the child that built the state tells the parent through a pipe.
struct BuildReport {
  int ok = 0;
  double workload_s = 0;   //!< generating and encoding the records
  double feed_s = 0;       //!< submitting them and the last checkpoint
  uint64_t records = 0;
  uint64_t checkpoints = 0;
  double rss_mib = 0;
  char error[200] = {};
};

double since_s(int64_t t0) { return static_cast<double>(RealClock::instance().steady_ns() - t0) / 1e9; }

runtime::EngineOptions options_for(const StateBenchOptions& o, const std::string& dir) {
  runtime::EngineOptions eo;
  eo.shards = o.shards;
  eo.data_dir = dir;
  return eo;
}

//! In the child: registry + events through a real Engine, then a crash right after a committed
//! checkpoint that covers every record: _exit with the threads running, no final checkpoint, no
//! RocksDB close (its WAL is in the page cache, as after a process crash).
[[noreturn]] void build_and_crash(const StateBenchOptions& o,
                                  std::shared_ptr<const rules::RuleSet> rules,
                                  const std::string& dir, const Clock& clock, int fd,
                                  std::ostream& out) {
  BuildReport rep;
  int64_t t0 = clock.steady_ns();
  WorkloadOptions wo;
  wo.elders = o.elders;
  wo.devices_per_elder = o.devices_per_elder;
  wo.events = static_cast<uint64_t>(o.elders) * static_cast<uint64_t>(o.events_per_elder);
  wo.seed = o.seed;
  wo.agencies = std::min(200, std::max(12, o.elders / 500));  // set-up is O(elders x agencies)
  // Event time ends a little before the clock's now (run_restart_bench), so timers are armed
  // in the future as in production.
  wo.start_ms = start_at_hour(o.start_hour);
  const Workload w = make_workload(wo);
  rep.workload_s = since_s(t0);
  out << "restart: child " << getpid() << " built " << w.registry.size() << " registry records and "
      << w.events.size() << " events in " << std::fixed << std::setprecision(1) << rep.workload_s
      << " s; feeding the engine" << std::endl;

  TargetSink sink(probe_elder(0));
  runtime::Engine engine(options_for(o, dir), rules, sink, clock);
  if (auto s = engine.start(); !s) {
    snprintf(rep.error, sizeof rep.error, "%s", s.error().message.c_str());
    (void)!write(fd, &rep, sizeof rep);
    _exit(1);
  }
  t0 = clock.steady_ns();
  uint64_t n = 0;
  auto feed = [&](const std::vector<InputRecord>& recs) {
    for (const auto& r : recs) {
      if ((++n & 1023) == 0) (void)engine.maybe_checkpoint();
      if ((n % 1'000'000) == 0) {
        out << "restart: child fed " << n << " records, " << std::setprecision(0)
            << static_cast<double>(n) / since_s(t0) << "/s" << std::endl;
      }
      engine.submit(r);
    }
  };
  feed(w.registry);
  feed(w.events);
  // A checkpoint begun after the last submit covers everything: wait for two commits.
  const uint64_t c0 = engine.checkpoints();
  while (engine.checkpoints() < c0 + 2) {
    if (auto s = engine.maybe_checkpoint(); !s) {
      snprintf(rep.error, sizeof rep.error, "%s", s.error().message.c_str());
      (void)!write(fd, &rep, sizeof rep);
      _exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  rep.ok = 1;
  rep.feed_s = since_s(t0);
  rep.records = n;
  rep.checkpoints = engine.checkpoints();
  rep.rss_mib = static_cast<double>(rss_bytes()) / kMiB;
  (void)!write(fd, &rep, sizeof rep);
  out.flush();
  _exit(0);  // the crash: no destructor, no stop(), no final checkpoint
}

}  // namespace

int run_restart_bench(const StateBenchOptions& o, std::ostream& out) {
  namespace fs = std::filesystem;
  auto loaded = rules::load_rule_dir(o.rules_dir);
  if (!loaded.ok()) {
    for (const auto& d : loaded.diagnostics) out << d.str() << "\n";
    return 2;
  }
  // The records' event time ends 10 s before the clock's now, as in production; it starts at
  // --start-hour (the elders' local hour, Asia/Shanghai) on 2026-01-01, not at the wall clock:
  // which rules fire, and so the state per elder and the timers due at the restart, depend on
  // the hour (bench/README.md, "Restart").
  const double span_ms = static_cast<double>(o.events_per_elder) /
                         WorkloadOptions{}.event_rate_per_elder_hz * 1000;
  const ShiftedClock clock(start_at_hour(o.start_hour) + static_cast<int64_t>(span_ms) + 10'000);
  const fs::path base = o.work_dir.empty()
                            ? fs::temp_directory_path() /
                                  ("vigil-restart-" + std::to_string(RealClock::instance().now_ms()))
                            : fs::path(o.work_dir);
  const std::string dir = (base / "state").string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  out << "restart: building state for " << o.elders << " elders x " << o.devices_per_elder
      << " devices, ~" << o.events_per_elder << " events each, whole " << o.rules_dir << " pack ("
      << loaded.rules->rules().size() << " rules), " << o.shards << " shards, in " << dir
      << "; event time from " << format_rfc3339(start_at_hour(o.start_hour)) << " ("
      << o.start_hour << ":00 in Asia/Shanghai)" << std::endl;

  // The state is built in a child process (no thread exists yet in this one), which crashes.
  int fds[2];
  if (pipe(fds) != 0) {
    out << "restart: pipe failed\n";
    return 1;
  }
  const int64_t tb = clock.steady_ns();
  const pid_t pid = fork();
  if (pid < 0) {
    out << "restart: fork failed\n";
    return 1;
  }
  if (pid == 0) {
    close(fds[0]);
    build_and_crash(o, loaded.rules, dir, clock, fds[1], out);
  }
  close(fds[1]);
  BuildReport rep;
  const ssize_t got = read(fds[0], &rep, sizeof rep);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const double build_s = since_s(tb);
  if (got != static_cast<ssize_t>(sizeof rep) || !rep.ok) {
    out << "restart: building the state failed: " << (got > 0 ? rep.error : "child died") << "\n";
    return 1;
  }
  const uint64_t disk_before = dir_bytes(dir);
  out << "restart: state built in " << std::fixed << std::setprecision(1) << build_s << " s ("
      << rep.records << " records fed in " << rep.feed_s << " s, " << rep.checkpoints
      << " checkpoints, child RSS " << std::setprecision(0) << rep.rss_mib
      << " MiB); child killed after its last checkpoint; " << std::setprecision(1)
      << static_cast<double>(disk_before) / kMiB << " MiB on disk" << std::endl;

  // The restart, in this process.
  TargetSink sink(probe_elder(0));
  const uint64_t rss_before = rss_bytes();
  const uint64_t heap_before = heap_in_use_bytes();
  uint64_t heap_loaded = 0;
  int64_t t0 = clock.steady_ns();
  int64_t t1 = 0, t2 = 0, seen = 0;
  bool alarm = false;
  uint64_t outputs_at_start = 0, outputs_at_loaded = 0, stored_elders = 0, stored_profiles = 0;
  uint64_t rss_loaded = 0;
  runtime::Engine::StartTimes start_times;
  state::StateStore::MemoryStats rocks{};
  ElderMemory mem;
  {
    // The probe observes outputs when they are made; delivery (at the next checkpoint, for
    // exactly-once) goes to a discarding sink.
    egress::DiscardSink delivered;
    runtime::EngineOptions eo = options_for(o, dir);
    eo.observer = &sink;
    eo.background_load = o.background_load;
    runtime::Engine engine(eo, loaded.rules, delivered, clock);
    if (auto s = engine.start(); !s) {
      out << "restart: start failed: " << s.error().message << "\n";
      return 1;
    }
    t1 = clock.steady_ns();
    vigil::v1::DeviceEvent sos;
    sos.set_type("sos");
    sos.set_elder_id(probe_elder(0));
    sos.set_device_id(probe_elder(0) + "-button");
    set_ts(sos.mutable_ts(), clock.now_ms());
    InputRecord rec;
    rec.topic = InTopic::kTelemetry;
    rec.key = probe_elder(0);
    rec.format = codec::Format::kBinary;
    sos.SerializeToString(&rec.payload);
    const auto it = engine.stored_offsets().find({InTopic::kTelemetry, 0});
    rec.offset = it == engine.stored_offsets().end() ? 0 : it->second;
    sink.arm();
    t2 = clock.steady_ns();
    engine.submit(rec);
    const int64_t limit = t2 + 120'000'000'000LL;  // a bound, not a measure
    while ((seen = sink.seen_ns()) == 0 && clock.steady_ns() < limit) {
      (void)engine.maybe_checkpoint();
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    alarm = seen != 0;
    outputs_at_start = sink.records_before_arm();
    // The shards load the rest of the elders in the background (engine/runtime/README.md
    // "Background load"): the memory figures are read once every elder is in.
    while (!engine.loaded() && clock.steady_ns() < limit) {
      (void)engine.maybe_checkpoint();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    start_times = engine.start_times();
    outputs_at_loaded = sink.records();
    rss_loaded = rss_bytes();
    heap_loaded = heap_in_use_bytes();
    rocks = engine.store()->memory_stats();
    if (auto s = engine.stop(); !s) out << "restart: stop: " << s.error().message << "\n";
    (void)engine.store()->scan("e/", [&](std::string_view, std::string_view) { ++stored_elders; });
    (void)engine.store()->scan("p/", [&](std::string_view, std::string_view) { ++stored_profiles; });
    mem = elder_memory(*engine.store(), loaded.rules->ids());
  }
  if (!alarm) seen = clock.steady_ns();
  const double load_s = static_cast<double>(t1 - t0) / 1e9;
  const double first_ms = static_cast<double>(seen - t2) / 1e6;
  const double total_ms = static_cast<double>(seen - t0) / 1e6;

  out << "\n" << std::left << std::setw(46) << "restart" << std::right << "value\n";
  auto line = [&](const std::string& k, const std::string& v) {
    out << std::left << std::setw(46) << k << std::right << v << "\n";
  };
  auto fmt = [](double v, int p) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(p) << v;
    return s.str();
  };
  line("elders stored (e/ keys)", std::to_string(stored_elders));
  line("profiles stored (p/ keys)", std::to_string(stored_profiles));
  line("RocksDB bytes on disk (MiB, after the crash)", fmt(static_cast<double>(disk_before) / kMiB, 1));
  line("start(): open + WAL replay + dispatcher (s)", fmt(load_s, 2));
  line("... RocksDB open, WAL replay (s)", fmt(start_times.open_s, 2));
  if (o.background_load) {
    line("elders all loaded, in the background (s after start() began)",
         start_times.load_s < 0 ? "not in 120 s" : fmt(start_times.load_s, 2));
  } else {
    line("... elders loaded before start() returned (s)", fmt(start_times.load_s, 2));
  }
  line("first event submit -> its alarm (ms)", alarm ? fmt(first_ms, 2) : "no alarm in 120 s");
  line("start() begin -> first alarm (ms)", alarm ? fmt(total_ms, 1) : "-");
  line("outputs before the first event (late timers)", std::to_string(outputs_at_start));
  line("outputs until all elders were loaded", std::to_string(outputs_at_loaded));
  line("RSS before start (MiB)", fmt(static_cast<double>(rss_before) / kMiB, 0));
  line("RSS after load (MiB)", fmt(static_cast<double>(rss_loaded) / kMiB, 0));
  // Memory per elder (bench/README.md, "Memory"): RSS growth over the load, less
  // what RocksDB holds by design (memtables refilled by the WAL recovery, block cache).
  const uint64_t rocks_bytes =
      rocks.memtable_bytes + rocks.block_cache_bytes + rocks.table_readers_bytes;
  const double per_elder_rss =
      stored_profiles
          ? (static_cast<double>(rss_loaded) - static_cast<double>(rss_before)) / stored_profiles
          : 0;
  const double per_elder_net =
      stored_profiles ? (static_cast<double>(rss_loaded) - static_cast<double>(rss_before) -
                       static_cast<double>(rocks_bytes)) /
                          stored_profiles
                    : 0;
  line("RocksDB memory after load (MiB: memtables+cache)",
       fmt(static_cast<double>(rocks_bytes) / kMiB, 1));
  line("RSS growth per elder loaded (p/ keys, bytes)", fmt(per_elder_rss, 0));
  line("... less RocksDB's memory (bytes)", fmt(per_elder_net, 0));
  // Heap in use (malloc'd and not freed, RocksDB's memtables and cache included) against RSS:
  // the difference is freed memory malloc keeps, and code, stacks and mappings.
  const double per_elder_heap =
      stored_profiles ? (static_cast<double>(heap_loaded) - static_cast<double>(heap_before) -
                         static_cast<double>(rocks_bytes)) /
                            stored_profiles
                      : 0;
  line("heap in use after load (MiB)", fmt(static_cast<double>(heap_loaded) / kMiB, 0));
  line("heap growth per elder less RocksDB's (bytes)", fmt(per_elder_heap, 0));
  line("elder state in memory, mean (bytes, " + std::to_string(mem.elders) + " elders)",
       fmt(mem.mean_bytes, 0));
  line("elder state in memory, p50 / p99 / max (bytes)", std::to_string(mem.p50_bytes) + " / " +
                                                             std::to_string(mem.p99_bytes) + " / " +
                                                             std::to_string(mem.max_bytes));
  line("state build (s, not measured work)", fmt(build_s, 1));

  boost::json::object j;
  j["date"] = format_rfc3339(RealClock::instance().now_ms());  // the run's, not the records'
  j["workload"] = "restart";
  j["elders"] = o.elders;
  j["start_hour"] = o.start_hour;
  j["event_time_start"] = format_rfc3339(start_at_hour(o.start_hour));
  j["elders_stored"] = stored_elders;
  j["profiles_stored"] = stored_profiles;
  j["devices_per_elder"] = o.devices_per_elder;
  j["records_fed"] = rep.records;
  j["shards"] = o.shards;
  j["rocksdb_bytes"] = disk_before;
  j["load_s"] = load_s;
  j["rocksdb_open_s"] = start_times.open_s;
  j["elders_load_s"] = start_times.load_s;
  j["background_load"] = o.background_load;
  j["first_alarm"] = alarm;
  j["time_to_first_output_ms"] = first_ms;
  j["start_to_first_output_ms"] = total_ms;
  j["outputs_before_first_event"] = outputs_at_start;
  j["outputs_until_loaded"] = outputs_at_loaded;
  j["rss_before_start_mib"] = static_cast<double>(rss_before) / kMiB;
  j["rss_after_load_mib"] = static_cast<double>(rss_loaded) / kMiB;
  j["build_s"] = build_s;
  j["rocksdb_memory_after_load_bytes"] = rocks_bytes;
  j["rss_growth_per_elder_bytes"] = per_elder_rss;
  j["rss_growth_per_elder_less_rocksdb_bytes"] = per_elder_net;
  j["heap_after_load_mib"] = static_cast<double>(heap_loaded) / kMiB;
  j["heap_growth_per_elder_less_rocksdb_bytes"] = per_elder_heap;
  j["elder_memory_sampled"] = mem.elders;
  j["elder_memory_mean_bytes"] = mem.mean_bytes;
  j["elder_memory_p50_bytes"] = mem.p50_bytes;
  j["elder_memory_p99_bytes"] = mem.p99_bytes;
  j["elder_memory_max_bytes"] = mem.max_bytes;
  if (!o.json_path.empty()) {
    std::ofstream(o.json_path) << boost::json::serialize(j) << "\n";
    out << "restart: JSON written to " << o.json_path << "\n";
  }
  std::error_code ec;
  if (o.work_dir.empty()) fs::remove_all(base, ec);
  // Functional facts only: the first event after the restart produced its alarm, and every
  // elder of the workload (plus the probe elders) came back from disk: every registered elder
  // has its p/ (profile); an elder whose rule and alarm state is empty has no e/ by design
  // (engine/registry/README.md), which happens with more devices per elder.
  const bool all_back = stored_profiles >= static_cast<uint64_t>(o.elders);
  out << "restart: first event's alarm " << (alarm ? "seen" : "NOT seen") << "; elders "
      << (all_back ? "all stored" : "MISSING") << "; RSS " << (rss_loaded > 0 ? "read" : "NOT read") << "\n";
  return alarm && all_back && rss_loaded > 0 ? 0 : 1;
}

}  // namespace vigil::bench
