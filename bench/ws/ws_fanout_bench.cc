// ws_fanout_bench: 1,000 WebSocket clients on a running `vigil demo` (issue #7, bench/README.md
// "WebSocket fan-out"). Starts the demo (embedded broker, simulator at a fixed rate, engine,
// HTTP), measures the engine for a window with no client, connects the clients, measures the
// same window again, and reports clients connected, clients with >= 1 update, updates received,
// events/s and engine-thread CPU per million events with and without clients. Prints a table,
// writes JSON. --smoke (20 clients, short windows) exits 1 unless every client got an update.

#include <sys/resource.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "bench/ws/demo_process.h"
#include "bench/ws/ws_clients.h"

namespace {

using namespace vigil::bench::ws;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string vigil = "build/release/engine/app/vigil";
  int clients = 1000;
  double window_s = 20;
  double warmup_s = 15;
  int rate = 4000;
  int elders = 2000;
  std::string json_path;
  bool smoke = false;
};

struct Window {
  double seconds = 0;
  double events = 0;
  double engine_cpu_s = 0;
  double api_cpu_s = 0;
  double process_cpu_s = 0;
  double ws_sent = 0;
  double events_per_s() const { return seconds > 0 ? events / seconds : 0; }
  double engine_cpu_per_m() const { return events > 0 ? engine_cpu_s / events * 1e6 : 0; }
};

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

Window measure(const DemoProcess& demo, double seconds, double* client_cpu_s) {
  auto m0 = demo.metrics();
  CpuSample c0 = demo.cpu();
  double s0 = self_cpu_s();
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  auto m1 = demo.metrics();
  CpuSample c1 = demo.cpu();
  Window w;
  w.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  w.events = m1["vigil_events_in_total"] - m0["vigil_events_in_total"];
  w.ws_sent = m1["vigil_ws_sent_total"] - m0["vigil_ws_sent_total"];
  w.engine_cpu_s = c1.engine_s - c0.engine_s;
  w.api_cpu_s = c1.api_s - c0.api_s;
  w.process_cpu_s = c1.process_s - c0.process_s;
  *client_cpu_s = self_cpu_s() - s0;
  return w;
}

void raise_nofile(int need) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(need)) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(need));
    setrlimit(RLIMIT_NOFILE, &rl);  // the demo inherits it for its side of the sockets
  }
}

int usage() {
  std::cerr << "usage: ws_fanout_bench [--vigil PATH] [--clients N] [--window S] [--warmup S]\n"
               "                       [--rate EVENTS_PER_S] [--elders N] [--json FILE] [--smoke]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--vigil") o.vigil = next();
    else if (a == "--clients") o.clients = std::stoi(next());
    else if (a == "--window") o.window_s = std::stod(next());
    else if (a == "--warmup") o.warmup_s = std::stod(next());
    else if (a == "--rate") o.rate = std::stoi(next());
    else if (a == "--elders") o.elders = std::stoi(next());
    else if (a == "--json") o.json_path = next();
    else if (a == "--smoke") { o.smoke = true; o.clients = 20; o.window_s = 3; o.warmup_s = 3; o.rate = 500; o.elders = 200; }
    else return usage();
  }
  raise_nofile(o.clients * 2 + 1024);
  const double run_s = o.warmup_s + 2 * o.window_s + 180;
  DemoProcess demo(o.vigil, {"--http", "127.0.0.1:0", "--rate", std::to_string(o.rate), "--elders",
                             std::to_string(o.elders), "--duration", std::to_string(static_cast<int>(run_s))});
  const uint16_t port = demo.wait_console_port(60);
  if (port == 0) {
    std::cerr << "ws_fanout_bench: the demo printed no console URL:\n" << demo.output() << "\n";
    return 1;
  }
  for (auto end = Clock::now() + std::chrono::seconds(60);
       demo.get("/readyz").empty() && Clock::now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cout << "ws_fanout_bench: demo pid " << demo.pid() << " on port " << port << ", " << o.elders
            << " elders at " << o.rate << " events/s; warm-up " << o.warmup_s << " s" << std::endl;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_s));

  double client_cpu_a = 0, client_cpu_b = 0;
  const Window a = measure(demo, o.window_s, &client_cpu_a);

  const auto c0 = Clock::now();
  Swarm swarm("127.0.0.1", port, "demo-operator", o.clients);
  for (auto end = c0 + std::chrono::seconds(120); Clock::now() < end;) {
    SwarmCounts c = swarm.counts();
    if (static_cast<int>(c.connected + c.failed) >= o.clients) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - c0).count();
  const SwarmCounts before_b = swarm.counts();
  const Window b = measure(demo, o.window_s, &client_cpu_b);
  const SwarmCounts after_b = swarm.counts();
  // Every client gets each update: wait (bounded) for the last ones to see their first.
  for (auto end = Clock::now() + std::chrono::seconds(60);
       swarm.counts().with_update < swarm.counts().connected && Clock::now() < end;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const SwarmCounts fin = swarm.counts();
  const auto m = demo.metrics();

  const double drop_pct = a.events_per_s() > 0 ? (1 - b.events_per_s() / a.events_per_s()) * 100 : 0;
  const double cpu_pct = a.engine_cpu_per_m() > 0 ? (b.engine_cpu_per_m() / a.engine_cpu_per_m() - 1) * 100 : 0;
  const double updates_b = static_cast<double>(after_b.messages - before_b.messages);
  std::printf("\n%-34s %14s %14s\n", "", "0 clients", "with clients");
  std::printf("%-34s %14d %14llu\n", "clients connected", 0, static_cast<unsigned long long>(fin.connected));
  std::printf("%-34s %14s %14llu\n", "clients with >= 1 update", "-", static_cast<unsigned long long>(fin.with_update));
  std::printf("%-34s %14.1f %14.1f\n", "window s", a.seconds, b.seconds);
  std::printf("%-34s %14.0f %14.0f\n", "engine events/s", a.events_per_s(), b.events_per_s());
  std::printf("%-34s %14.2f %14.2f\n", "engine-thread CPU s / M events", a.engine_cpu_per_m(), b.engine_cpu_per_m());
  std::printf("%-34s %14.2f %14.2f\n", "api io-thread CPU s", a.api_cpu_s, b.api_cpu_s);
  std::printf("%-34s %14.2f %14.2f\n", "demo process CPU s", a.process_cpu_s, b.process_cpu_s);
  std::printf("%-34s %14.2f %14.2f\n", "bench clients CPU s", client_cpu_a, client_cpu_b);
  std::printf("%-34s %14.0f %14.0f\n", "ws messages sent (server)", a.ws_sent, b.ws_sent);
  std::printf("%-34s %14s %14.0f\n", "updates received in window", "-", updates_b);
  std::printf("\nevents/s drop %.2f %% (limit 5 %%); engine CPU per event %+.2f %%; connect %.2f s; "
              "%llu updates received in all, %llu failed clients, %.0f dropped from client queues\n",
              drop_pct, cpu_pct, connect_s, static_cast<unsigned long long>(fin.messages),
              static_cast<unsigned long long>(fin.failed), m.count("vigil_ws_dropped_total") ? m.at("vigil_ws_dropped_total") : 0.0);

  if (!o.json_path.empty()) {
    auto win = [](const Window& w, double client_cpu) {
      return boost::json::object{{"seconds", w.seconds}, {"events", w.events},
                                 {"events_per_s", w.events_per_s()}, {"engine_cpu_s", w.engine_cpu_s},
                                 {"engine_cpu_s_per_m_events", w.engine_cpu_per_m()},
                                 {"api_cpu_s", w.api_cpu_s}, {"process_cpu_s", w.process_cpu_s},
                                 {"client_cpu_s", client_cpu}, {"ws_sent", w.ws_sent}};
    };
    boost::json::object j{{"bench", "ws_fanout"}, {"rate", o.rate}, {"elders", o.elders},
                          {"clients", o.clients}, {"connected", fin.connected},
                          {"failed", fin.failed}, {"with_update", fin.with_update},
                          {"updates_total", fin.messages}, {"bytes_total", fin.bytes},
                          {"updates_in_window", updates_b}, {"connect_s", connect_s},
                          {"without_clients", win(a, client_cpu_a)},
                          {"with_clients", win(b, client_cpu_b)},
                          {"events_per_s_drop_pct", drop_pct},
                          {"engine_cpu_per_event_change_pct", cpu_pct}};
    std::ofstream(o.json_path) << boost::json::serialize(j) << "\n";
    std::cout << "ws_fanout_bench: JSON written to " << o.json_path << "\n";
  }
  const bool all = static_cast<int>(fin.connected) == o.clients && fin.with_update == fin.connected;
  if (!all) std::cerr << "ws_fanout_bench: not every client connected and received an update\n";
  return o.smoke && !all ? 1 : 0;
}
