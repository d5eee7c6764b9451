#include "engine/app/commands.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "engine/app/demo_printer.h"
#include "engine/app/options.h"
#include "engine/app/run_engine.h"
#include "engine/app/run_simulator.h"
#include "engine/app/signals.h"
#include "engine/broker/embedded_broker.h"
#include "engine/broker/tail.h"
#include "engine/core/clock.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/replay.h"
#include "engine/sim/population.h"

namespace vigil::app {
namespace {

const std::vector<std::string> kCommonFlags = {
    "brokers", "data-dir", "rules", "config", "topic-prefix", "http", "console-dir", "duration", "shards",
    "partitions", "group-id", "progress", "commit-interval-ms", "max-out-of-order-ms"};

std::vector<std::string> with(std::vector<std::string> base, std::initializer_list<const char*> more) {
  for (const char* m : more) base.emplace_back(m);
  return base;
}

//! Sleeps in small steps until `stop` or the duration passes (0: only `stop`).
void wait_until(std::atomic<bool>& stop, double duration_s) {
  const Clock& clock = RealClock::instance();
  const int64_t end = clock.steady_ns() + static_cast<int64_t>(duration_s * 1e9);
  while (!stop.load() && (duration_s <= 0 || clock.steady_ns() < end)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only(kCommonFlags);
  Settings s = load_settings(args);
  auto& stop = install_stop_signals();
  return run_engine(s, stop, std::cout);
}

int cmd_simulate(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only(with(kCommonFlags, {"elders", "rate", "seed", "time-scale"}));
  Settings s = load_settings(args);
  auto& stop = install_stop_signals();
  return run_simulator(s, stop, std::cout);
}

int cmd_broker(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only({"partitions", "broker-count", "topic-prefix", "duration"});
  const int partitions = static_cast<int>(parse_number("partitions", args.get("partitions").value_or("4")));
  const int count = static_cast<int>(parse_number("broker-count", args.get("broker-count").value_or("1")));
  const double duration = parse_number("duration", args.get("duration").value_or("0"));
  auto& stop = install_stop_signals();
  auto broker = broker::EmbeddedBroker::start(count, partitions,
                                              TopicNames(args.get("topic-prefix").value_or("vigil.")));
  if (!broker) {
    std::cerr << "vigil broker: " << broker.error().message << "\n";
    return 1;
  }
  std::cout << "bootstrap.servers=" << broker.value()->bootstrap_servers() << std::endl;
  std::cout << "broker: in-memory Kafka-protocol broker (librdkafka mock cluster), " << count
            << " broker(s), " << partitions << " partitions per topic; not durable" << std::endl;
  wait_until(stop, duration);
  std::cout << "broker: stopped" << std::endl;
  return 0;
}

int cmd_tail(int argc, char** argv) {
  Args args(argc, argv, 2, {"from-beginning"});
  args.allow_only({"brokers", "from-beginning", "duration", "topic-prefix", "max-records"});
  if (args.positionals().size() != 1) throw UsageError("usage: vigil tail TOPIC --brokers LIST");
  broker::TailOptions o;
  o.topic = args.positionals()[0];
  o.brokers = args.get("brokers").value_or("");
  if (o.brokers.empty()) throw UsageError("--brokers is required");
  o.topic_prefix = args.get("topic-prefix").value_or("vigil.");
  o.from_beginning = args.has("from-beginning");
  o.duration_s = parse_number("duration", args.get("duration").value_or("0"));
  o.max_records = static_cast<size_t>(parse_number("max-records", args.get("max-records").value_or("0")));
  o.stop = &install_stop_signals();
  return broker::run_tail(o);
}

int cmd_rules(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only({});
  const auto& pos = args.positionals();
  if (pos.size() != 2 || pos[0] != "check") throw UsageError("usage: vigil rules check DIR");
  auto result = std::filesystem::is_directory(pos[1])
                    ? rules::load_rule_dir(pos[1])
                    : [&] {
                        std::ifstream in(pos[1]);
                        std::stringstream text;
                        text << in.rdbuf();
                        if (!in) {
                          rules::LoadResult r;
                          r.diagnostics.push_back({pos[1], 0, 0, "cannot read file", false});
                          return r;
                        }
                        return rules::load_rule_text(text.str(), pos[1]);
                      }();
  for (const auto& d : result.diagnostics) std::cout << d.str() << "\n";
  return result.ok() ? 0 : 1;
}

int cmd_replay(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only({"rules", "input", "output", "config"});
  Settings s = load_settings(args);
  auto input = args.get("input");
  auto output = args.get("output");
  if (!input || !output) throw UsageError("usage: vigil replay --rules DIR --input FILE.jsonl --output FILE.jsonl");
  auto loaded = rules::load_rule_dir(s.rules_dir);
  for (const auto& d : loaded.diagnostics) std::cerr << d.str() << "\n";
  if (!loaded.ok()) return 2;
  std::ifstream in(*input);
  if (!in) {
    std::cerr << "vigil replay: cannot read " << *input << "\n";
    return 2;
  }
  std::string out_text;
  egress::JsonLinesSink sink(&out_text);
  auto stats = runtime::replay(in, loaded.rules, s.dispatch, sink);
  std::ofstream out(*output, std::ios::binary | std::ios::trunc);
  out << out_text;
  if (!out) {
    std::cerr << "vigil replay: cannot write " << *output << "\n";
    return 1;
  }
  std::cerr << "replay: " << stats.lines << " lines in (" << stats.bad_lines << " bad), "
            << std::count(out_text.begin(), out_text.end(), '\n') << " records out\n"
            << stats.answers.str();
  return 0;
}

int cmd_demo(int argc, char** argv) {
  Args args(argc, argv, 2, {});
  args.allow_only(with(kCommonFlags, {"elders", "rate", "seed", "time-scale"}));
  Settings s = load_settings(args);
  if (!args.has("time-scale")) s.time_scale = 0.05;  // agencies answer and travel 20x faster
  if (!args.has("data-dir")) {
    // The embedded broker forgets everything on exit, so the demo's state starts fresh too.
    s.data_dir = (std::filesystem::temp_directory_path() /
                  ("vigil-demo-" + std::to_string(RealClock::instance().now_ms())))
                     .string();
  }
  auto& stop = install_stop_signals();
  const TopicNames topics(s.topic_prefix);
  {
    // The demo's tokens: demo-operator, demo-admin and demo-agency-<id> for each simulated agency.
    sim::SimOptions so;
    so.elders = s.elders;
    so.seed = s.seed;
    std::vector<std::string> agency_ids;
    for (const auto& a : sim::make_population(so).agencies) agency_ids.push_back(a.agency_id());
    s.tokens = api::demo_tokens(agency_ids);
  }
  auto broker = broker::EmbeddedBroker::start(1, s.partitions, topics);
  if (!broker) {
    std::cerr << "vigil demo: " << broker.error().message << "\n";
    return 1;
  }
  s.brokers = broker.value()->bootstrap_servers();
  std::cout << "demo: embedded Kafka-protocol broker at " << s.brokers << " (" << s.partitions
            << " partitions per topic)\n"
            << "demo: " << s.elders << " simulated elders at " << s.rate
            << " events/s, simulated agencies, state in " << s.data_dir << "\n"
            << "demo: tokens demo-operator, demo-admin, demo-agency-<agency_id> (e.g. demo-agency-ag01)\n"
            << "demo: or watch a topic with: vigil tail alarms --brokers " << s.brokers << std::endl;

  std::atomic<bool> others_stop{false};
  std::thread printer([&] { run_demo_printer(s.brokers, topics, others_stop, std::cout); });
  std::thread simulator([&] {
    Settings sim = s;
    sim.duration_s = 0;
    sim.progress_s = 0;  // the engine's progress line is the demo's
    run_simulator(sim, others_stop, std::cout);
  });
  const int rc = run_engine(s, stop, std::cout);
  others_stop.store(true);
  simulator.join();
  printer.join();
  std::error_code ec;
  if (!args.has("data-dir")) std::filesystem::remove_all(s.data_dir, ec);
  return rc;
}

}  // namespace vigil::app
