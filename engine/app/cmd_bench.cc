// `vigil bench --workload standard|restart|reload ...` (issue #6, bench/README.md).

#include <algorithm>
#include <iostream>
#include <optional>

#include "bench/harness/harness.h"
#include "bench/harness/state_benches.h"
#include "engine/app/commands.h"
#include "engine/app/options.h"
#include "engine/core/log.h"

namespace vigil::app {
namespace {

//! `value` as a whole number within [lo, hi], or nothing (a flag's range check).
std::optional<int> whole_in(double value, int lo, int hi) {
  if (!(value >= lo && value <= hi) || value != static_cast<int>(value)) return std::nullopt;
  return static_cast<int>(value);
}

// `--workload restart|reload`: the state benches (bench/README.md "Restart", "Reload").
int state_bench(const std::string& workload, const Args& args, int start_hour) {
  bench::StateBenchOptions o;
  auto num = [&](const char* name, const std::string& dflt) {
    return parse_number(name, args.get(name).value_or(dflt));
  };
  const bool restart = workload == "restart";
  o.json_path = args.get("json").value_or("");
  o.rules_dir = args.get("rules").value_or("rules/eldercare");
  o.work_dir = args.get("data-dir").value_or("");
  o.shards = static_cast<uint32_t>(num("shards", "2"));
  o.elders = static_cast<int>(num("elders", restart ? "1000000" : "10000"));
  o.devices_per_elder = static_cast<int>(num("devices", "2"));
  o.events_per_elder = static_cast<int>(num("events-per-elder", "3"));
  o.reloads = static_cast<uint64_t>(num("reloads", "100000"));
  o.warmup_reloads = static_cast<uint64_t>(num("warmup", "1000"));
  o.events_per_reload = static_cast<int>(num("events-per-reload", "10"));
  o.disk_every = static_cast<int>(num("disk-every", "100"));
  o.fresh_records = args.has("fresh-records");
  o.same_rules = args.has("same-rules");
  o.seed = static_cast<uint64_t>(num("seed", "42"));
  o.start_hour = start_hour;
  const std::string load = args.get("load").value_or("background");
  if (load != "background" && load != "blocking") {
    std::cerr << "vigil bench: --load is background or blocking, not '" << load << "'\n";
    return 2;
  }
  o.background_load = load == "background";
  log::set_level(log::Level::kWarn);  // the table is the output
  return restart ? bench::run_restart_bench(o, std::cout) : bench::run_reload_bench(o, std::cout);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  Args args(argc, argv, 2, {"skip-broker", "fresh-records", "same-rules"});
  args.allow_only({"workload", "duration", "json", "rules", "data-dir", "shards", "partitions",
                   "elders", "devices", "events", "seed", "skip-broker", "events-per-elder",
                   "reloads", "warmup", "events-per-reload", "disk-every", "fresh-records",
                   "same-rules", "pace", "broker-pace", "load", "phases", "commit-max-busy",
                   "shard-nice", "start-hour"});
  const std::string workload = args.get("workload").value_or("standard");
  // Every workload's records start at this hour of the elders' day (bench/harness/workload.h).
  const auto hour = whole_in(parse_number("start-hour", args.get("start-hour").value_or("8")), 0, 23);
  if (!hour) {
    std::cerr << "vigil bench: --start-hour is the elders' local hour, a whole number from 0 to 23\n";
    return 2;
  }
  if (workload == "restart" || workload == "reload") return state_bench(workload, args, *hour);
  bench::BenchOptions o;
  o.workload = workload;
  o.duration_s = parse_number("duration", args.get("duration").value_or("20"));
  o.json_path = args.get("json").value_or("");
  o.rules_dir = args.get("rules").value_or("rules/eldercare");
  o.work_dir = args.get("data-dir").value_or("");
  o.shards = static_cast<uint32_t>(parse_number("shards", args.get("shards").value_or("2")));
  o.partitions = static_cast<int>(parse_number("partitions", args.get("partitions").value_or("4")));
  o.skip_broker = args.has("skip-broker");
  if (auto list = args.get("phases")) {
    std::string_view rest = *list;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string name(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (std::find_if(std::begin(bench::kPhaseNames), std::end(bench::kPhaseNames),
                       [&](const char* n) { return name == n; }) == std::end(bench::kPhaseNames)) {
        std::cerr << "vigil bench: unknown phase '" << name << "' in --phases (";
        for (const char* n : bench::kPhaseNames) {
          std::cerr << (n == bench::kPhaseNames[0] ? "" : ", ") << n;
        }
        std::cerr << ")\n";
        return 2;
      }
      o.phases.push_back(name);
    }
  }
  if (auto busy = args.get("commit-max-busy")) o.commit_max_busy = parse_number("commit-max-busy", *busy);
  if (auto nice = args.get("shard-nice")) {
    o.shard_nice = whole_in(parse_number("shard-nice", *nice), -20, 19);
    if (!o.shard_nice) {
      std::cerr << "vigil bench: --shard-nice is a nice value, a whole number from -20 to 19\n";
      return 2;
    }
  }
  o.pace_per_s = parse_number("pace", args.get("pace").value_or("0"));
  o.broker_pace_per_s = parse_number("broker-pace", args.get("broker-pace").value_or("0"));
  o.load.elders = static_cast<int>(parse_number("elders", args.get("elders").value_or("100000")));
  o.load.devices_per_elder = static_cast<int>(parse_number("devices", args.get("devices").value_or("4")));
  o.load.seed = static_cast<uint64_t>(parse_number("seed", args.get("seed").value_or("42")));
  o.load.start_ms = bench::start_at_hour(*hour);
  // Enough records for the duration at the ambition (2M/s), within memory.
  const double want = std::min(2e6 * o.duration_s, 16e6);
  o.load.events = static_cast<uint64_t>(parse_number("events", args.get("events").value_or(std::to_string(static_cast<uint64_t>(want)))));
  log::set_level(log::Level::kWarn);  // the table is the output
  return bench::run_bench(o, std::cout);
}

}  // namespace vigil::app
