// Fuzz target: the HTTP API's request handling. Bytes go through Boost.Beast's request parser
// with the server's body limit (as engine/api/server.cc reads a connection: several requests
// may follow each other on one keep-alive stream), and every request that parses goes through
// the real routing, authentication and JSON-body handling (`handle_request`), or through the
// WebSocket upgrade's authentication; a request the parser refuses gets the server's answer to
// it (`malformed_request_response`, a 4xx). ApiHooks are small in-memory fakes; the views hold a few
// alarms, offers, orders and tasks so the handlers have something to find.
// Invariants: no crash, leak or UB (ASan + UBSan); every response has a status code between 100
// and 599, and a 5xx only where a hook said so (the fakes never fail, so never a 500).

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>

#include "engine/api/routes.h"
#include "engine/api/tests/test_records.h"
#include "engine/core/clock.h"

using namespace vigil;
using namespace vigil::api;
namespace http = boost::beast::http;

namespace {

class FixedClock final : public Clock {
 public:
  TimeMs now_ms() const override { return testing::kT0; }
  int64_t steady_ns() const override { return 0; }
};

struct World {
  FixedClock clock;
  ApiConfig config;
  ApiHooks hooks;
  ViewStore views{clock, config.limits};
  PushHub hub{16};
  VitalsStore vitals;
  std::shared_ptr<const rules::RuleSet> rule_set;
  std::unique_ptr<ApiContext> ctx;

  World() {
    config.tokens = demo_tokens({"ag-1", "ag-2"});
    config.metrics_public = true;
    hooks.submit_call = [](const vigil::v1::CallEvent&) { return ok(); };
    hooks.submit_agency = [](const vigil::v1::AgencyUpdate&) { return ok(); };
    hooks.ready = [] { return true; };
    // The product's rule set, loaded once: GET /api/rules lists it, reload loads it again.
    rule_set = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare").rules;
    hooks.rules = [this] { return rule_set; };
    hooks.reload_rules = [] { return rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare"); };
    hooks.find_order = [](const std::string& id)
        -> Result<std::optional<vigil::state::OrderRecord>> {
      if (id != "o-old") return std::optional<vigil::state::OrderRecord>();
      vigil::state::OrderRecord r;
      r.set_order_id(id);
      r.set_elder_id("e1");
      r.set_category("meal_delivery");
      return std::optional<vigil::state::OrderRecord>(r);
    };
    hooks.find_elder = [](const std::string& id) -> std::optional<vigil::state::ElderRecord> {
      if (id != "e1") return std::nullopt;
      return vigil::state::ElderRecord();
    };
    hooks.gauges = [] { return std::vector<Gauge>{{"vigil_consumer_lag", "topic=\"calls\"", 3, "lag"}}; };
    using namespace vigil::api::testing;
    views.apply(OutTopic::kAlarms, alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0));
    views.apply(OutTopic::kAlarms, alarm("a2", "e2", vigil::v1::MINOR, vigil::v1::ACTIVE_ACK, kT0));
    views.apply(OutTopic::kDispatch, offer("o1", "ag-1", "e1", kT0));
    views.apply(OutTopic::kTracking, order_event("o1", "e1", "ag-1", vigil::v1::OFFERED, kT0));
    views.apply(OutTopic::kTracking, order_event("o2", "e2", "ag-2", vigil::v1::ACCEPTED, kT0));
    views.apply(OutTopic::kOperator, task("t1", "e1", kT0));
    ctx.reset(new ApiContext{config, hooks, views, hub, clock, {}});
    ctx->stats = [] { return ServerStats{}; };
    ctx->vitals = &vitals;
  }
};

void check(const Response& res) {
  const unsigned code = res.result_int();
  if (code < 100 || code > 599) std::abort();
  if (code == 500) std::abort();  // handlers answer errors as values; the fakes never fail
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();  // lives for the whole run, like the server's context
  ApiContext& ctx = *world->ctx;
  boost::asio::const_buffer rest(data, size);
  // Requests one after another, as on a keep-alive connection; at most 8 per input.
  for (int n = 0; n < 8 && rest.size() > 0; ++n) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(ctx.config.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done() && rest.size() > 0) {
      const size_t used = parser.put(rest, ec);
      rest += used;
      if (ec == http::error::need_more) ec = {};
      if (ec || used == 0) break;
    }
    if (!ec && !parser.is_done()) parser.put_eof(ec);  // the client closed the stream
    if (ec) {  // answered as the server answers a request its parser refused (server.cc)
      const auto res = malformed_request_response(ec);
      if (!res || res->result_int() < 400 || res->result_int() > 499) std::abort();
      return 0;
    }
    if (!parser.is_done()) return 0;
    Request req = parser.release();
    if (boost::beast::websocket::is_upgrade(req)) {
      Target t = parse_target(req.target());
      FoundToken found;
      (void)authenticate(ctx, req, t, &found);
      continue;
    }
    check(handle_request(ctx, req));
  }
  return 0;
}
