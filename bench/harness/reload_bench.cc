// `vigil bench --workload reload --reloads N`: RSS over many hot reloads of the rule pack with
// events flowing (issue #6, bench/README.md "Reload").

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <regex>
#include <sstream>
#include <thread>

#include "bench/harness/feed_clock.h"
#include "bench/harness/state_benches.h"
#include "bench/harness/workload.h"
#include "engine/core/clock.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/runtime/engine.h"
#include "engine/state/state_store.h"
#include "schemas/calls.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

class CountingSink final : public egress::Sink {
 public:
  void emit(OutTopic, std::string_view, const google::protobuf::Message&) override {
    records_.fetch_add(1, std::memory_order_relaxed);
  }
  Status flush(int) override { return ok(); }
  uint64_t records() const { return records_.load(); }

 private:
  std::atomic<uint64_t> records_{0};
};

//! A copy of the pack with one threshold changed (hr_high: 120 -> 125), so every reload
//! between the two sets changes one rule (its slots and timers start fresh) and keeps the rest.
Result<std::string> make_variant(const std::string& rules_dir, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(to, ec);
  fs::create_directories(to);
  bool changed = false;
  for (const auto& f : fs::directory_iterator(rules_dir)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    if (!changed) {
      const std::regex re("threshold: 120\\b");
      if (std::regex_search(s, re)) {
        s = std::regex_replace(s, re, "threshold: 125", std::regex_constants::format_first_only);
        changed = true;
      }
    }
    std::ofstream(to / f.path().filename()) << s;
  }
  if (!changed) return make_error(Errc::kConfig, "no 'threshold: 120' in " + rules_dir + " to change");
  return to.string();
}

//! VIGIL_BENCH_STOP_AT_SAMPLE=N: the reload count whose sample ends the process, 0 for none.
//! bench/reload_heap_diff.sh runs the bench under heaptrack twice, stopped at the warm-up's
//! sample and at the last, and compares what was live at each (bench/README.md, "Reload").
uint64_t stop_at_sample() {
  const char* v = std::getenv("VIGIL_BENCH_STOP_AT_SAMPLE");
  return v != nullptr ? std::strtoull(v, nullptr, 10) : 0;
}

//! Ends the process where it stands, with every allocation still live: no engine stop, no
//! destructor, so a heap profiler's "leaked at exit" is what was live at the sample just taken.
//! The pause lets the profiler's writer flush what it holds (heaptrack writes every 10 ms).
[[noreturn]] void stop_for_heap_profile(uint64_t done, std::ostream& out) {
  out << "reload: stopped after the sample at " << done
      << " reloads (VIGIL_BENCH_STOP_AT_SAMPLE), everything still allocated" << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::_Exit(3);
}

struct Sample {
  uint64_t reloads;
  uint64_t rss;
  uint64_t heap;
  uint64_t rocks;  //!< RocksDB memtables + block cache + table readers (fixed budgets)
  uint64_t buffers;  //!< the owners' checkpoint buffers kept (0 after settle's release)
};

//! `rec` as the record of a later round of the workload: its event times (ts, and a service
//! request's window) moved forward by `shift`, so that event time keeps going when the records
//! go round again; its offset the next of its partition. Other topics are copied as they are.
void restamp(const InputRecord& rec, TimeMs shift, int64_t offset, InputRecord& out,
             vigil::v1::DeviceEvent& event, vigil::v1::CallEvent& call) {
  out = rec;
  out.offset = offset;
  if (shift == 0) return;
  auto move = [shift](google::protobuf::Timestamp* ts) { set_ts(ts, to_ms(*ts) + shift); };
  if (rec.topic == InTopic::kTelemetry && event.ParseFromString(rec.payload)) {
    move(event.mutable_ts());
    event.SerializeToString(&out.payload);
  } else if (rec.topic == InTopic::kCalls && call.ParseFromString(rec.payload)) {
    move(call.mutable_ts());
    if (call.has_service_request()) {
      auto* sr = call.mutable_service_request();
      if (sr->has_window_start()) move(sr->mutable_window_start());
      if (sr->has_window_end()) move(sr->mutable_window_end());
    }
    call.SerializeToString(&out.payload);
  }
}

//! The engine's counters of the state the records create (alarms, orders), at one sample.
struct Created {
  uint64_t alarms_raised, alarms_cleared, orders_created, orders_escalated, timers_fired;
  static Created now() {
    const Metrics& m = metrics();
    return {m.alarms_raised.get(), m.alarms_cleared.get(), m.orders_created.get(),
            m.orders_escalated.get(), m.timers_fired.get()};
  }
};

uint64_t rocks_bytes(const runtime::Engine& engine) {
  if (!engine.store()) return 0;
  const auto m = engine.store()->memory_stats();
  return m.memtable_bytes + m.block_cache_bytes + m.table_readers_bytes;
}

double pct(uint64_t from, uint64_t to) {
  return from ? 100.0 * (static_cast<double>(to) - static_cast<double>(from)) /
                    static_cast<double>(from)
              : 0;
}

}  // namespace

int run_reload_bench(const StateBenchOptions& o, std::ostream& out) {
  namespace fs = std::filesystem;
  const Clock& clock = RealClock::instance();
  const fs::path base = o.work_dir.empty()
                            ? fs::temp_directory_path() / ("vigil-reload-" + std::to_string(clock.now_ms()))
                            : fs::path(o.work_dir);
  fs::create_directories(base);
  auto variant = make_variant(o.rules_dir, base / "rules-b");
  if (!variant) {
    out << "reload: " << variant.error().message << "\n";
    return 2;
  }
  const std::string dirs[2] = {o.rules_dir, variant.value()};
  std::shared_ptr<const rules::RuleSet> sets[2];
  for (int i = 0; i < 2; ++i) {
    auto loaded = rules::load_rule_dir(dirs[i]);
    if (!loaded.ok()) {
      for (const auto& d : loaded.diagnostics) out << d.str() << "\n";
      return 2;
    }
    sets[i] = loaded.rules;
  }

  WorkloadOptions wo;
  wo.elders = o.elders;
  wo.devices_per_elder = o.devices_per_elder;
  wo.seed = o.seed;
  // By default the records go round the warm-up's, moved on in event time each round, so the
  // state they add is bounded: an active alarm seen again only counts up, a service request
  // seen again is ignored (its call_id is its order's id), the elders are the same. What they
  // can still add is new alarms where event time reaches new times of day (and those alarms'
  // orders). With fresh_records every reload gets new records: each service request is a new
  // order, kept in memory for good (bench/README.md, "Reload").
  const uint64_t per_reload = static_cast<uint64_t>(std::max(0, o.events_per_reload));
  const uint64_t window = o.fresh_records ? o.reloads * per_reload
                                          : std::min(o.warmup_reloads, o.reloads) * per_reload;
  wo.events = std::clamp<uint64_t>(window, 1, 2'000'000);
  wo.start_ms = start_at_hour(o.start_hour);
  out << "reload: " << o.reloads << " reloads (every " << o.disk_every << "th parsed from disk), "
      << o.events_per_reload << " records between two, " << o.elders << " elders x "
      << o.devices_per_elder << " devices, " << sets[0]->rules().size() << " rules, " << o.shards
      << " shards; records " << (o.fresh_records ? "fresh for every reload" : "going round the warm-up's")
      << (o.same_rules ? "; control: every reload the same rules" : "")
      << "; event time from " << format_rfc3339(wo.start_ms) << " (" << o.start_hour
      << ":00 in Asia/Shanghai)" << std::endl;
  const Workload w = make_workload(wo);

  // The engine's time follows the records' event time (feed_clock.h), as in production and in
  // the standard bench: on the real clock, offer expiries, order escalations and alarm
  // escalations, due in event time, would never come while the records run 8x ahead of it.
  FeedClock engine_clock(w.event_ms.empty() ? clock.now_ms() : w.event_ms.front());
  CountingSink sink;
  runtime::EngineOptions eo;
  eo.shards = o.shards;
  eo.data_dir = (base / "state").string();
  fs::remove_all(eo.data_dir);
  runtime::Engine engine(eo, sets[0], sink, engine_clock);
  if (auto s = engine.start(); !s) {
    out << "reload: start failed: " << s.error().message << "\n";
    return 1;
  }
  for (const auto& r : w.registry) engine.submit(r);

  // Waits until every shard has swapped in every set handed over so far, so that the sets
  // replaced are released before RSS is read; then until two more checkpoints are committed,
  // so that every sample is taken at the same point: no snapshot in flight, every elder the
  // reloads dirtied written (and its idle slots compacted), and the checkpoint buffers given
  // back. A reload dirties every elder: their serialised state, ~6 MiB with 10k elders, is kept
  // for the next checkpoint and given back once 64 checkpoints did not need it
  // (PutList::clear); samples taken as they came were up to ~6 MiB apart depending on where
  // they fell in that cycle (bench/README.md, "Reload").
  auto settle = [&](uint64_t issued) {
    const int64_t limit = clock.steady_ns() + 120'000'000'000LL;
    while (engine.reloads_applied() < issued && clock.steady_ns() < limit) {
      (void)engine.maybe_checkpoint();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    // Two checkpoints: the first may have begun before the last reloads (whose elders it does
    // not hold then, and whose replaced slots it did not compact), the second began after it.
    const uint64_t committed = engine.checkpoints();
    auto await = [&](uint64_t n) {
      while (engine.checkpoints() < n && clock.steady_ns() < limit) {
        (void)engine.maybe_checkpoint();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    };
    await(committed + 1);
    engine.release_checkpoint_buffers();
    await(committed + 2);
    // RocksDB's memtables empty at every sample: they fill to 16-48 MiB and empty again by
    // design (a fixed budget, bench/README.md "Memory"), which moved a single sample of this
    // ~100 MiB process by up to 12% whatever the reloads did.
    const bool flushed = engine.store() != nullptr && static_cast<bool>(engine.store()->flush_memtables());
    // And no compaction running: its buffers (readahead, the table it builds) are several MiB
    // while it runs; samples taken during one read 4-6 MiB more (bench/README.md, "Reload").
    const bool idle = flushed && engine.store()->wait_background_idle(60'000);
    return engine.reloads_applied() >= issued && engine.checkpoints() >= committed + 2 && idle;
  };
  const uint64_t stop_at = stop_at_sample();
  std::vector<Sample> samples;
  const uint64_t every = std::max<uint64_t>(1, (o.reloads - std::min(o.reloads, o.warmup_reloads)) / 10);
  uint64_t next_event = 0, from_disk = 0, submitted = 0;
  double disk_s = 0;
  int64_t t_measure = 0;
  bool settled = true;
  Created at_warm{}, at_end{};
  // Round k of the workload is moved k spans forward in event time (restamp).
  const TimeMs span = w.event_ms.back() - w.event_ms.front() + kSecond;
  InputRecord next;
  vigil::v1::DeviceEvent event_buf;
  vigil::v1::CallEvent call_buf;
  const int64_t t0 = clock.steady_ns();
  for (uint64_t i = 0; i < o.reloads; ++i) {
    for (int k = 0; k < o.events_per_reload; ++k, ++submitted) {
      const TimeMs shift = static_cast<TimeMs>(submitted / w.events.size()) * span;
      engine_clock.follow(w.event_ms[next_event] + shift);
      restamp(w.events[next_event], shift, static_cast<int64_t>(submitted), next, event_buf, call_buf);
      engine.submit(next);
      next_event = (next_event + 1) % w.events.size();
    }
    (void)engine.maybe_checkpoint();
    // B, A, B, A, ...: every reload changes one rule; the control hands over A every time.
    const int which = o.same_rules ? 0 : static_cast<int>(i & 1) ^ 1;
    if (o.disk_every > 0 && (i + 1) % static_cast<uint64_t>(o.disk_every) == 0) {
      const int64_t td = clock.steady_ns();
      auto loaded = rules::load_rule_dir(dirs[which]);
      disk_s += static_cast<double>(clock.steady_ns() - td) / 1e9;
      if (!loaded.ok()) {
        out << "reload: loading " << dirs[which] << " failed\n";
        return 1;
      }
      engine.reload(loaded.rules);
      ++from_disk;
    } else {
      engine.reload(sets[which]);
    }
    const uint64_t done = i + 1;
    const bool warm = done == std::min(o.warmup_reloads, o.reloads);
    if (warm || (done > o.warmup_reloads && (done - o.warmup_reloads) % every == 0) || done == o.reloads) {
      settled = settle(done) && settled;
      samples.push_back({done, rss_bytes(), heap_in_use_bytes(), rocks_bytes(engine),
                         engine.checkpoint_buffer_bytes()});
      if (warm) {
        t_measure = clock.steady_ns();
        at_warm = Created::now();
      }
      out << "reload: " << done << " reloads, RSS " << std::fixed << std::setprecision(1)
          << static_cast<double>(samples.back().rss) / kMiB << " MiB, heap in use "
          << static_cast<double>(samples.back().heap) / kMiB << " MiB, RocksDB "
          << static_cast<double>(samples.back().rocks) / kMiB << " MiB, checkpoint buffers "
          << static_cast<double>(samples.back().buffers) / kMiB << " MiB" << std::endl;
      if (done == stop_at) stop_for_heap_profile(done, out);
    }
  }
  const double total_s = static_cast<double>(clock.steady_ns() - t0) / 1e9;
  const double measured_s = static_cast<double>(clock.steady_ns() - t_measure) / 1e9;
  const uint64_t applied = engine.reloads_applied();
  at_end = Created::now();
  if (auto s = engine.stop(); !s) out << "reload: stop: " << s.error().message << "\n";

  const Sample first = samples.front(), last = samples.back();
  const double growth = pct(first.rss, last.rss);
  const double heap_growth = pct(first.heap, last.heap);
  // The same less RocksDB's memtables and block cache, which fill and empty within their fixed
  // budgets (bench/README.md, "Memory") whatever the reloads do; and the largest RSS sampled.
  uint64_t peak = 0;
  for (const auto& x : samples) peak = std::max(peak, x.rss);
  const double peak_growth = pct(first.rss, peak);
  const uint64_t first_net = first.rss - std::min(first.rss, first.rocks);
  const uint64_t last_net = last.rss - std::min(last.rss, last.rocks);
  const double net_growth = pct(first_net, last_net);
  const uint64_t measured = last.reloads - first.reloads;
  const double rate = measured_s > 0 ? static_cast<double>(measured) / measured_s : 0;
  out << "\n" << std::left << std::setw(46) << "reload" << std::right << "value\n" << std::fixed;
  auto line = [&](const std::string& k, double v, int p) {
    out << std::left << std::setw(46) << k << std::right << std::setprecision(p) << v << "\n";
  };
  line("reloads issued", static_cast<double>(o.reloads), 0);
  line("reloads applied by every shard", static_cast<double>(applied), 0);
  line("  of which parsed from disk", static_cast<double>(from_disk), 0);
  line("records submitted between them", static_cast<double>(submitted), 0);
  line("outputs", static_cast<double>(sink.records()), 0);
  line("RSS after warm-up (MiB)", static_cast<double>(first.rss) / kMiB, 1);
  line("RSS at the end (MiB)", static_cast<double>(last.rss) / kMiB, 1);
  line("RSS growth (%)", growth, 3);
  line("largest RSS sampled after warm-up (MiB)", static_cast<double>(peak) / kMiB, 1);
  line("largest RSS growth (%)", peak_growth, 3);
  line("RocksDB memory after warm-up (MiB)", static_cast<double>(first.rocks) / kMiB, 1);
  line("RocksDB memory at the end (MiB)", static_cast<double>(last.rocks) / kMiB, 1);
  line("RSS less RocksDB growth (%)", net_growth, 3);
  line("heap in use after warm-up (MiB)", static_cast<double>(first.heap) / kMiB, 1);
  line("heap in use at the end (MiB)", static_cast<double>(last.heap) / kMiB, 1);
  line("heap growth (%)", heap_growth, 3);
  // What the records did after the warm-up: the state they add is theirs, not the reloads'.
  line("alarms raised after warm-up", static_cast<double>(at_end.alarms_raised - at_warm.alarms_raised), 0);
  line("alarms cleared after warm-up", static_cast<double>(at_end.alarms_cleared - at_warm.alarms_cleared), 0);
  line("orders created after warm-up", static_cast<double>(at_end.orders_created - at_warm.orders_created), 0);
  line("orders escalated after warm-up", static_cast<double>(at_end.orders_escalated - at_warm.orders_escalated), 0);
  line("timers fired after warm-up", static_cast<double>(at_end.timers_fired - at_warm.timers_fired), 0);
  line("reloads/s (after warm-up, with the events)", rate, 0);
  line("disk parse ms per load", from_disk ? disk_s * 1000 / from_disk : 0, 2);
  line("total s", total_s, 1);

  boost::json::object j;
  j["date"] = format_rfc3339(clock.now_ms());
  j["workload"] = "reload";
  j["elders"] = o.elders;
  j["start_hour"] = o.start_hour;
  j["event_time_start"] = format_rfc3339(wo.start_ms);
  j["shards"] = o.shards;
  j["reloads"] = o.reloads;
  j["reloads_applied"] = applied;
  j["reloads_from_disk"] = from_disk;
  j["records_submitted"] = submitted;
  j["rss_start_bytes"] = first.rss;
  j["rss_end_bytes"] = last.rss;
  j["rss_growth_pct"] = growth;
  j["rss_peak_bytes"] = peak;
  j["rss_peak_growth_pct"] = peak_growth;
  j["rocksdb_start_bytes"] = first.rocks;
  j["rocksdb_end_bytes"] = last.rocks;
  j["rss_less_rocksdb_growth_pct"] = net_growth;
  j["heap_start_bytes"] = first.heap;
  j["heap_end_bytes"] = last.heap;
  j["heap_growth_pct"] = heap_growth;
  j["fresh_records"] = o.fresh_records;
  j["same_rules"] = o.same_rules;
  j["alarms_raised_after_warmup"] = at_end.alarms_raised - at_warm.alarms_raised;
  j["orders_created_after_warmup"] = at_end.orders_created - at_warm.orders_created;
  j["reloads_per_s"] = rate;
  boost::json::array curve;
  for (const auto& s : samples) curve.push_back({s.reloads, s.rss, s.heap, s.rocks});
  j["samples_reloads_rss_heap_rocksdb"] = curve;
  if (!o.json_path.empty()) {
    std::ofstream(o.json_path) << boost::json::serialize(j) << "\n";
    out << "reload: JSON written to " << o.json_path << "\n";
  }
  std::error_code ec;
  if (o.work_dir.empty()) fs::remove_all(base, ec);
  const bool rss_read = first.rss > 0 && last.rss > 0;
  out << "reload: " << applied << "/" << o.reloads << " reloads applied; RSS "
      << (rss_read ? "read" : "NOT read") << "\n";
  return settled && applied == o.reloads && rss_read ? 0 : 1;
}

}  // namespace vigil::bench
