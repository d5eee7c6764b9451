#pragma once
// `vigil demo` as a child process for ws_fanout_bench: spawn, scrape its console URL, read its
// /metrics, sample its threads' CPU from /proc, stop it. Linux only.

#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigil::bench::ws {

//! CPU seconds (user + system) of the process's threads, grouped by thread name.
struct CpuSample {
  double engine_s = 0;   //!< vigil-shard* and vigil-dispatch: the engine's own threads
  double api_s = 0;      //!< vigil-api-io: HTTP and WebSocket fan-out
  double process_s = 0;  //!< the whole demo process (simulator, broker, clients of librdkafka)
};

class DemoProcess {
 public:
  //! Starts `vigil demo` with `args` after "demo"; throws std::runtime_error if it cannot.
  DemoProcess(const std::string& vigil, const std::vector<std::string>& args);
  ~DemoProcess();  //!< SIGTERM, then waits (SIGKILL after 20 s)

  //! Waits up to timeout_s for the "console: http://HOST:PORT/" line; returns the port or 0.
  uint16_t wait_console_port(double timeout_s);
  //! GET path on the console port; the body, or empty on any error.
  std::string get(const std::string& path, const std::string& token = {}) const;
  //! The counters and gauges of /metrics (name -> value; series without labels only).
  std::map<std::string, double> metrics() const;
  CpuSample cpu() const;
  std::string output() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::string output_;
  std::thread reader_;
};

}  // namespace vigil::bench::ws
