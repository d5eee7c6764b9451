#pragma once
// The engine's HTTP/WebSocket API and console (issue 7): REST over the read models, operator
// and agency actions fed into the same Kafka topics as everyone else's, /metrics, and a
// WebSocket push of alarm, task and order changes.
//
// Wiring (engine/app): build an ApiService with the config and hooks, wrap the engine's output
// sink with make_tee(), hand the tee to the engine instead of the sink, then start(). stop()
// (or the destructor) before the downstream sink is destroyed.
//
// Threads: start() runs `io_threads` threads of its own; HTTP handlers and hooks run on them,
// never on the engine's shard threads. The tee's emit() runs on the engine's threads and never
// waits for a client.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/api/access.h"
#include "engine/api/push_hub.h"
#include "engine/api/views.h"
#include "engine/api/vitals.h"
#include "engine/core/clock.h"
#include "engine/core/result.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "schemas/agency.pb.h"
#include "schemas/calls.pb.h"
#include "schemas/state.pb.h"

namespace vigil::api {

struct ApiConfig {
  std::string http = "127.0.0.1:8080";  //!< ADDR:PORT to bind; port 0 picks a free port
  std::string static_dir;               //!< console files served at /; empty: none
  TokenMap tokens;                      //!< bearer token -> role (demo_tokens() for the demo)
  int io_threads = 1;
  size_t ws_queue_limit = 256;       //!< per WebSocket client; the oldest is dropped beyond it
  size_t push_queue_limit = 10000;   //!< updates waiting for the io thread
  bool metrics_public = true;        //!< /metrics without a token (Prometheus scrapes)
  size_t max_body_bytes = 1 << 20;
  ViewLimits limits;
};

//! A gauge or counter the engine supplies at scrape time (consumer lag, commit latency, events
//! in by topic). `labels` is the Prometheus label text without braces, e.g. `topic="calls"`.
struct Gauge {
  std::string name;  //!< full series name, e.g. "vigil_consumer_lag"
  std::string labels;
  double value = 0;
  std::string help;
  bool counter = false;
};

//! What the API calls out to. Every hook is optional; an endpoint whose hook is missing answers
//! 503. Hooks are called from the io threads and must not block for long.
struct ApiHooks {
  //! Produces a CallEvent on the `calls` topic (keyed by elder_id): alarm actions, orders
  //! placed for an elder who phoned in, cancellations and ratings.
  std::function<Status(const vigil::v1::CallEvent&)> submit_call;
  //! Produces an AgencyUpdate on the `agency` topic (keyed by order_id).
  std::function<Status(const vigil::v1::AgencyUpdate&)> submit_agency;
  //! /readyz: true once the engine consumes and commits.
  std::function<bool()> ready;
  //! The rule set in force (GET /api/rules).
  std::function<std::shared_ptr<const rules::RuleSet>()> rules;
  //! Reloads the rule directory and swaps the set in if it is valid (POST /api/rules/reload).
  std::function<rules::LoadResult()> reload_rules;
  //! Orders no longer in the views (dispatch::find_order on the state store).
  std::function<Result<std::optional<vigil::state::OrderRecord>>(const std::string&)> find_order;
  //! An elder's profile, devices and open alarms (the registry's ElderRecord), or nullopt.
  std::function<std::optional<vigil::state::ElderRecord>(const std::string&)> find_elder;
  //! Extra series for /metrics.
  std::function<std::vector<Gauge>()> gauges;
};

//! Counters of the server itself, for /metrics and tests.
struct ServerStats {
  uint64_t http_requests = 0;
  uint64_t ws_clients = 0;      //!< connected now
  uint64_t ws_sent = 0;         //!< messages written to clients
  uint64_t ws_dropped = 0;      //!< messages dropped from full client queues
  uint64_t push_published = 0;  //!< updates queued by the tee sink
  uint64_t push_dropped = 0;    //!< updates dropped before the io thread took them
};

struct ApiContext;

class ApiService {
 public:
  ApiService(ApiConfig config, ApiHooks hooks, const Clock& clock = RealClock::instance());
  ~ApiService();
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  //! A sink that forwards to `downstream` (may be null) and feeds the views and the push. Any
  //! number may be made; all feed this service. Must not outlive the service.
  std::unique_ptr<egress::Sink> make_tee(egress::Sink* downstream);

  //! Binds config.http and starts the io threads. Returns kConfig for a bad ADDR:PORT and kIo
  //! if it cannot bind.
  Status start();
  //! Closes every connection and joins the io threads. Idempotent.
  void stop();
  //! The bound port (after start()).
  uint16_t port() const;

  ViewStore& views() { return views_; }
  PushHub& hub() { return hub_; }
  //! The latest vitals per elder (GET /api/elders/{id} "vitals"); fed by a VitalsFeed.
  VitalsStore& vitals() { return vitals_; }
  ServerStats stats() const;

  class Server;

 private:
  ApiConfig config_;
  ApiHooks hooks_;
  const Clock& clock_;
  ViewStore views_;
  PushHub hub_;
  VitalsStore vitals_;
  std::unique_ptr<ApiContext> ctx_;  // before server_: the server uses it until destroyed
  std::unique_ptr<Server> server_;
};

}  // namespace vigil::api
