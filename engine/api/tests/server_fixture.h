#pragma once
// The fixture of the API tests: a port-0 ApiService with recording hooks, fed through its tee
// sink, and a real Beast client (HTTP and WebSocket). One test file per resource uses it.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <mutex>
#include <thread>

#include "engine/api/api_service.h"
#include "engine/api/tests/test_records.h"
#include "engine/codec/codec.h"

namespace vigil::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using namespace vigil::api::testing;

constexpr char kValidRule[] = "rules:\n  - id: pillow\n    kind: event\n    reads: [sos]\n    severity: MINOR\n";
constexpr char kInvalidRule[] = "rules:\n  - id: bad\n    kind: event\n    reads: [sos]\n    severity: LOUD\n";

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string set_cookie;
  json::value json() const { return json::parse(body); }
  std::string error() const { return json::value_to<std::string>(json().at("error")); }
};

// Waits (polling) until `done` holds; a guard against hanging, not a timing assertion.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 3000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// One HTTP request to 127.0.0.1:port over a fresh connection.
inline Reply send_request(uint16_t port, http::verb verb, const std::string& target,
                          const std::string& token, const std::string& body = {},
                          const std::string& cookie = {}) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!cookie.empty()) req.set(http::field::cookie, cookie);
  if (!body.empty() || verb == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(socket, buf, res);
  Reply r;
  r.status = res.result_int();
  r.body = res.body();
  r.content_type = std::string(res[http::field::content_type]);
  r.set_cookie = std::string(res[http::field::set_cookie]);
  return r;
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiConfig config;
    config.http = "127.0.0.1:0";
    config.static_dir = VIGIL_API_CONSOLE_DIR;
    config.tokens = demo_tokens({"ag1", "ag2"});
    config.ws_queue_limit = 8;
    ApiHooks hooks;
    hooks.submit_call = [this](const vigil::v1::CallEvent& c) -> Status {
      std::lock_guard lock(mu_);
      if (fail_submit_) return make_error(Errc::kBroker, "broker down");
      calls_.push_back(c);
      return ok();
    };
    hooks.submit_agency = [this](const vigil::v1::AgencyUpdate& u) -> Status {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      return ok();
    };
    hooks.ready = [this] { return ready_.load(); };
    hooks.rules = [] { return rules::load_rule_text(kValidRule, "pack.yaml").rules; };
    hooks.reload_rules = [this] {
      return rules::load_rule_text(reload_ok_ ? kValidRule : kInvalidRule, "pack.yaml");
    };
    hooks.find_order = [](const std::string& id)
        -> Result<std::optional<vigil::state::OrderRecord>> {
      if (id != "archived") return std::optional<vigil::state::OrderRecord>();
      vigil::state::OrderRecord r;
      r.set_order_id("archived");
      r.set_elder_id("e1");
      r.set_agency_id("ag1");
      r.set_state(vigil::v1::RATED);
      *r.add_history() = order_event("archived", "e1", "ag1", vigil::v1::CREATED, kT0 - 86'400'000);
      *r.add_history() = order_event("archived", "e1", "ag1", vigil::v1::RATED, kT0 - 80'000'000);
      return std::optional<vigil::state::OrderRecord>(r);
    };
    hooks.find_elder = [](const std::string& id) -> std::optional<vigil::state::ElderRecord> {
      if (id != "e1" && id != "e9") return std::nullopt;
      vigil::state::ElderRecord r;
      r.set_registered(true);
      r.mutable_elder()->set_elder_id(id);
      r.mutable_elder()->set_name("Wang Fang");
      auto* d = r.add_devices();
      d->set_device_id("watch-" + id);
      d->set_elder_id(id);
      d->set_type("watch");
      return r;
    };
    hooks.gauges = [] {
      return std::vector<Gauge>{{"vigil_consumer_lag", "topic=\"telemetry\"", 42, "Records behind.", false}};
    };
    service_ = std::make_unique<ApiService>(std::move(config), std::move(hooks), clock_);
    ASSERT_TRUE(service_->start());
    port_ = service_->port();
    ASSERT_NE(port_, 0);
    tee_ = service_->make_tee(&downstream_);
    // An open alarm for e1, an acked one for e2, an order offered to ag1 and one held by ag2.
    tee_->emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0 - 5000));
    tee_->emit(OutTopic::kAlarms, "e2", alarm("a2", "e2", vigil::v1::MINOR, vigil::v1::ACTIVE_ACK, kT0 - 9000, kT0 - 8000, "fever"));
    tee_->emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "", vigil::v1::CREATED, kT0 - 4000));
    tee_->emit(OutTopic::kDispatch, "ag1", offer("o1", "ag1", "e1", kT0 - 4000));
    tee_->emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "ag1", vigil::v1::OFFERED, kT0 - 4000));
    tee_->emit(OutTopic::kTracking, "o2", order_event("o2", "e2", "", vigil::v1::CREATED, kT0 - 3000));
    tee_->emit(OutTopic::kDispatch, "ag2", offer("o2", "ag2", "e2", kT0 - 3000));
    tee_->emit(OutTopic::kTracking, "o2", order_event("o2", "e2", "ag2", vigil::v1::OFFERED, kT0 - 3000));
    tee_->emit(OutTopic::kTracking, "o2", order_event("o2", "e2", "ag2", vigil::v1::ACCEPTED, kT0 - 2000));
    tee_->emit(OutTopic::kOperator, "e1", task("t1", "e1", kT0 - 5000));
  }

  void TearDown() override { service_->stop(); }

  Reply request(http::verb verb, const std::string& target, const std::string& token,
                const std::string& body = {}, const std::string& cookie = {}) {
    return send_request(port_, verb, target, token, body, cookie);
  }
  Reply get(const std::string& target, const std::string& token = "demo-operator") {
    return request(http::verb::get, target, token);
  }
  Reply post(const std::string& target, const std::string& body, const std::string& token = "demo-operator") {
    return request(http::verb::post, target, token, body);
  }
  std::vector<vigil::v1::CallEvent> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<vigil::v1::AgencyUpdate> updates() {
    std::lock_guard lock(mu_);
    return updates_;
  }

  SimClock clock_{kT0};
  egress::CollectingSink downstream_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<egress::Sink> tee_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<vigil::v1::CallEvent> calls_;
  std::vector<vigil::v1::AgencyUpdate> updates_;
  bool fail_submit_ = false;
  bool reload_ok_ = true;
  std::atomic<bool> ready_{false};
};

// A blocking WebSocket client for one test.
class WsClient {
 public:
  explicit WsClient(uint16_t port, const std::string& target) : ws_(ioc_) {
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", target);
  }
  // The next message, or "" if none arrives in time (a guard, not a timing assertion).
  std::string read() {
    std::string out;
    (void)read_one(&out);
    return out;
  }
  //! Sends one text message; the error, if the server has already failed the connection.
  beast::error_code write(const std::string& text) {
    beast::error_code ec;
    ws_.text(true);
    ws_.write(net::buffer(text), ec);
    return ec;
  }
  //! Reads until the connection ends: the server's close code if its close frame arrived, -1 if
  //! the connection ended without one (reset or EOF: a server that fails a connection while the
  //! client is still sending may reset it before the frame is read), 0 if it is still open.
  int read_close_code() {
    for (;;) {
      const beast::error_code ec = read_one(nullptr);
      if (ec == net::error::timed_out) return 0;
      if (ec == websocket::error::closed) return static_cast<int>(ws_.reason().code);
      if (ec) return -1;
    }
  }

 private:
  // One message into *out (if given), or the read's error; timed_out if nothing arrives within
  // 20 s (a guard against hanging, not a timing assertion).
  beast::error_code read_one(std::string* out) {
    beast::flat_buffer buf;
    beast::error_code ec = net::error::timed_out;
    ws_.async_read(buf, [&](beast::error_code e, size_t) {
      ec = e;
      if (!e && out) *out = beast::buffers_to_string(buf.data());
    });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(20));
    if (ec == net::error::timed_out) ws_.next_layer().cancel();
    return ec;
  }

  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
};

}  // namespace vigil::api
