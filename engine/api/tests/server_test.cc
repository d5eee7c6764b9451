// The HTTP API and WebSocket push, through a real Beast client on a port-0 server.

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
namespace {

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
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
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

// --- access control ---------------------------------------------------------------------------

TEST_F(ApiServerTest, NoTokenIs401) {
  Reply r = get("/api/alarms", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_NE(r.error().find("missing token"), std::string::npos);
}

TEST_F(ApiServerTest, UnknownTokenIs401) {
  Reply r = get("/api/alarms", "guess");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error(), "unknown token");
}

TEST_F(ApiServerTest, QueryTokenSetsCookieThatLaterRequestsUse) {
  Reply r = get("/api/whoami?token=demo-agency-ag1", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("role"), "agency");
  EXPECT_EQ(r.json().at("agency_id"), "ag1");
  EXPECT_EQ(r.set_cookie.rfind("vigil_token=demo-agency-ag1;", 0), 0u);
  Reply again = request(http::verb::get, "/api/whoami", "", "", "vigil_token=demo-agency-ag1");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json().at("agency_id"), "ag1");
}

TEST_F(ApiServerTest, AgencyCannotSeeAnotherAgencysOrder) {
  EXPECT_EQ(get("/api/orders/o2", "demo-agency-ag1").status, 403);
  EXPECT_EQ(get("/api/agencies/ag2/orders", "demo-agency-ag1").status, 403);
  EXPECT_EQ(get("/api/agencies/ag2/offers", "demo-agency-ag1").status, 403);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/progress", R"({"status":"EN_ROUTE"})", "demo-agency-ag1").status, 403);
  // ... acting on its own agency path for an order it was never offered is refused too.
  EXPECT_EQ(post("/api/agencies/ag1/orders/o2/progress", R"({"status":"EN_ROUTE"})", "demo-agency-ag1").status, 403);
  // o1 goes on to ag2 after ag1 lets its offer lapse: ag1 still sees its part, not ag2's.
  tee_->emit(OutTopic::kDispatch, "ag2", offer("o1", "ag2", "e1", kT0, 2));
  tee_->emit(OutTopic::kTracking, "o1", order_event("o1", "e1", "ag2", vigil::v1::OFFERED, kT0));
  Reply own = get("/api/orders/o1", "demo-agency-ag1");
  ASSERT_EQ(own.status, 200);
  EXPECT_FALSE(own.json().as_object().contains("offered_to"));
  EXPECT_EQ(own.json().at("agency_id"), "");
  EXPECT_EQ(own.json().at("timeline").as_array().size(), 2u);  // CREATED, OFFERED to ag1
  EXPECT_EQ(own.json().at("offers").as_array().size(), 1u);
  Reply list = get("/api/orders", "demo-agency-ag1");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().at("orders").as_array().size(), 1u);
  EXPECT_EQ(list.json().at("orders").at(0).at("order_id"), "o1");
}

TEST_F(ApiServerTest, AgencyMayNotUseOperatorEndpoints) {
  for (const char* path : {"/api/alarms", "/api/alarms/a1", "/api/tasks", "/api/stats", "/api/elders/e1", "/api/rules"}) {
    EXPECT_EQ(get(path, "demo-agency-ag1").status, 403) << path;
  }
  EXPECT_EQ(post("/api/alarms/a1/ack", "{}", "demo-agency-ag1").status, 403);
  EXPECT_EQ(post("/api/orders", R"({"elder_id":"e1","service_request":{"category":"cleaning"}})", "demo-agency-ag1").status, 403);
  EXPECT_EQ(post("/api/orders/o1/cancel", "{}", "demo-agency-ag1").status, 403);
  EXPECT_TRUE(calls().empty());
}

TEST_F(ApiServerTest, UnknownEndpointIs404AndWrongMethodIs405) {
  EXPECT_EQ(get("/api/nothing").status, 404);
  EXPECT_EQ(get("/api/alarms/a1/ack").status, 405);
  EXPECT_EQ(request(http::verb::delete_, "/api/alarms", "demo-operator").status, 405);
  EXPECT_EQ(post("/healthz", "{}").status, 405);
}

// --- alarms -----------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsAlarmsInQueueOrderWithFilters) {
  Reply r = get("/api/alarms");
  ASSERT_EQ(r.status, 200);
  auto items = r.json().at("alarms").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("alarm_id"), "a1");
  EXPECT_EQ(items[0].at("severity"), "CRITICAL");
  EXPECT_EQ(get("/api/alarms?severity=minor").json().at("alarms").as_array().size(), 1u);
  EXPECT_EQ(get("/api/alarms?status=ACTIVE_UNACK").json().at("alarms").as_array().size(), 1u);
  EXPECT_EQ(get("/api/alarms?elder_id=e2").json().at("alarms").at(0).at("alarm_id"), "a2");
  EXPECT_EQ(get("/api/alarms?rule_id=fever").json().at("alarms").at(0).at("alarm_id"), "a2");
  EXPECT_EQ(get("/api/alarms?severity=LOUD").status, 400);
  EXPECT_EQ(get("/api/alarms?status=SLEEPING").status, 400);
}

TEST_F(ApiServerTest, OneAlarmWithHistory) {
  tee_->emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0 - 5000, kT0 - 1000));
  Reply r = get("/api/alarms/a1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("alarm_id"), "a1");
  EXPECT_EQ(r.json().at("history").as_array().size(), 2u);
  EXPECT_EQ(get("/api/alarms/nope").status, 404);
}

TEST_F(ApiServerTest, AlarmActionsBecomeCallEvents) {
  Reply ack = post("/api/alarms/a1/ack", R"({"note":"calling her"})");
  ASSERT_EQ(ack.status, 202) << ack.body;
  Reply assign = post("/api/alarms/a1/assign", R"({"assignee":"nurse-7"})");
  ASSERT_EQ(assign.status, 202) << assign.body;
  ASSERT_EQ(post("/api/alarms/a1/escalate", "").status, 202);
  ASSERT_EQ(post("/api/alarms/a1/clear", R"({"resolution":"false_alarm"})").status, 202);
  auto c = calls();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].elder_id(), "e1");
  EXPECT_EQ(c[0].operator_id(), "demo-operator");
  EXPECT_EQ(c[0].alarm_action().alarm_id(), "a1");
  EXPECT_EQ(c[0].alarm_action().rule_id(), "sos");
  EXPECT_EQ(c[0].alarm_action().action(), vigil::v1::AlarmAction::ACK);
  EXPECT_EQ(c[0].alarm_action().note(), "calling her");
  EXPECT_EQ(to_ms(c[0].ts()), kT0);
  EXPECT_EQ(c[1].alarm_action().action(), vigil::v1::AlarmAction::ASSIGN);
  EXPECT_EQ(c[1].alarm_action().assignee(), "nurse-7");
  EXPECT_EQ(c[2].alarm_action().action(), vigil::v1::AlarmAction::ESCALATE);
  EXPECT_EQ(c[3].alarm_action().action(), vigil::v1::AlarmAction::CLEAR);
  EXPECT_EQ(c[3].alarm_action().resolution(), "false_alarm");
  EXPECT_NE(c[0].call_id(), c[1].call_id());
  EXPECT_EQ(json::value_to<std::string>(ack.json().at("call").at("call_id")), c[0].call_id());
}

TEST_F(ApiServerTest, AlarmActionErrors) {
  EXPECT_EQ(post("/api/alarms/nope/ack", "{}").status, 404);
  EXPECT_EQ(post("/api/alarms/a1/ack", "{not json").status, 400);
  EXPECT_EQ(post("/api/alarms/a1/ack", R"({"colour":"red"})").status, 400);
  EXPECT_EQ(post("/api/alarms/a1/assign", "{}").status, 400);
  EXPECT_EQ(post("/api/alarms/a2/ack", "{}").status, 409);  // already acknowledged
  tee_->emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::CLOSED, kT0 - 5000, kT0));
  EXPECT_EQ(post("/api/alarms/a1/clear", "{}").status, 409);
  fail_submit_ = true;
  Reply down = post("/api/alarms/a2/escalate", "{}");
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.error().find("broker down"), std::string::npos);
  EXPECT_TRUE(calls().empty());
}

// --- orders -----------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsOrdersByStateAndShowsTimeline) {
  Reply all = get("/api/orders");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.json().at("orders").as_array().size(), 2u);
  EXPECT_EQ(all.json().at("orders").at(0).at("order_id"), "o2");  // newest first
  Reply accepted = get("/api/orders?state=accepted");
  ASSERT_EQ(accepted.json().at("orders").as_array().size(), 1u);
  EXPECT_EQ(accepted.json().at("orders").at(0).at("agency_id"), "ag2");
  EXPECT_EQ(get("/api/orders?state=LOST").status, 400);
  Reply one = get("/api/orders/o2");
  ASSERT_EQ(one.status, 200);
  auto timeline = one.json().at("timeline").as_array();
  ASSERT_EQ(timeline.size(), 3u);
  EXPECT_EQ(timeline[0].at("state"), "CREATED");
  EXPECT_EQ(timeline[1].at("state"), "OFFERED");
  EXPECT_EQ(timeline[2].at("state"), "ACCEPTED");
  EXPECT_EQ(one.json().at("category"), "meal_delivery");
  EXPECT_EQ(get("/api/orders/nope").status, 404);
}

TEST_F(ApiServerTest, OrderNoLongerInViewsComesFromTheStore) {
  Reply r = get("/api/orders/archived");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("state"), "RATED");
  EXPECT_EQ(r.json().at("timeline").as_array().size(), 2u);
  EXPECT_EQ(get("/api/orders/archived", "demo-agency-ag2").status, 403);
  EXPECT_EQ(post("/api/orders/archived/cancel", "{}").status, 409);
}

TEST_F(ApiServerTest, PlacesAnOrderForAnElderWhoPhonedIn) {
  Reply r = post("/api/orders", R"({"call_id":"c-100","elder_id":"e3","service_request":)"
                                R"({"category":"bathing","priority":"URGENT","notes":"after lunch"}})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json().at("order_id"), "c-100");
  Reply gen = post("/api/orders", R"({"elderId":"e4","serviceRequest":{"category":"cleaning"}})");
  ASSERT_EQ(gen.status, 202) << gen.body;
  auto c = calls();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].call_id(), "c-100");
  EXPECT_EQ(c[0].service_request().category(), "bathing");
  EXPECT_EQ(c[0].service_request().priority(), vigil::v1::URGENT);
  EXPECT_EQ(c[0].operator_id(), "demo-operator");
  EXPECT_FALSE(c[1].call_id().empty());
  EXPECT_EQ(json::value_to<std::string>(gen.json().at("order_id")), c[1].call_id());
}

TEST_F(ApiServerTest, PlaceOrderErrors) {
  EXPECT_EQ(post("/api/orders", "[1,2]").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"service_request":{"category":"bathing"}})").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"elder_id":"e3"})").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"call_id":"o1","elder_id":"e1","service_request":{"category":"bathing"}})").status, 409);
  EXPECT_TRUE(calls().empty());
}

TEST_F(ApiServerTest, CancelsAndRatesOrders) {
  Reply r = post("/api/orders/o1/cancel", R"({"note":"elder is in hospital"})");
  ASSERT_EQ(r.status, 202) << r.body;
  auto c = calls();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].elder_id(), "e1");
  EXPECT_EQ(c[0].order_action().order_id(), "o1");
  EXPECT_EQ(c[0].order_action().action(), vigil::v1::OrderAction::CANCEL);
  EXPECT_EQ(post("/api/orders/nope/cancel", "{}").status, 404);
  EXPECT_EQ(post("/api/orders/o1/cancel", "{oops").status, 400);
  EXPECT_EQ(post("/api/orders/o2/rate", R"({"rating":5})").status, 409);  // not completed
  tee_->emit(OutTopic::kTracking, "o2", order_event("o2", "e2", "ag2", vigil::v1::COMPLETED, kT0));
  EXPECT_EQ(post("/api/orders/o2/rate", R"({"rating":9})").status, 400);
  ASSERT_EQ(post("/api/orders/o2/rate", R"({"rating":5})").status, 202);
  EXPECT_EQ(calls().back().order_action().rating(), 5);
}

// --- elders, tasks, stats ---------------------------------------------------------------------

TEST_F(ApiServerTest, ElderPageHasProfileDevicesAlarmsAndOrders) {
  Reply r = get("/api/elders/e1");
  ASSERT_EQ(r.status, 200);
  SCOPED_TRACE(r.body);
  auto j = r.json();
  EXPECT_EQ(j.at("profile").at("name"), "Wang Fang");
  EXPECT_EQ(j.at("devices").as_array().size(), 1u);
  EXPECT_EQ(j.at("active_alarms").at(0).at("alarm_id"), "a1");
  EXPECT_EQ(j.at("orders").at(0).at("order_id"), "o1");
  EXPECT_EQ(j.at("tasks").at(0).at("task_id"), "t1");
  EXPECT_EQ(get("/api/elders/e9").status, 200);  // registered, nothing happened yet
  EXPECT_EQ(get("/api/elders/nobody").status, 404);
}

TEST_F(ApiServerTest, TasksAndBigScreenStats) {
  Reply t = get("/api/tasks");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.json().at("tasks").at(0).at("task_id"), "t1");
  Reply s = get("/api/stats");
  ASSERT_EQ(s.status, 200);
  auto j = s.json();
  EXPECT_EQ(j.at("alarms_today").to_number<uint64_t>(), 2u);
  EXPECT_EQ(j.at("orders_today").to_number<uint64_t>(), 2u);
  EXPECT_EQ(j.at("active_alarms_by_severity").at("CRITICAL").to_number<uint64_t>(), 1u);
  EXPECT_DOUBLE_EQ(j.at("acceptance_rate").as_double(), 0.5);
  auto agencies = j.at("agencies").as_array();
  ASSERT_EQ(agencies.size(), 2u);
  EXPECT_EQ(agencies[1].at("agency_id"), "ag2");
  EXPECT_DOUBLE_EQ(agencies[1].at("acceptance_rate").as_double(), 1.0);
}

// --- agencies ---------------------------------------------------------------------------------

TEST_F(ApiServerTest, AgencySeesItsOffersAndOrders) {
  Reply offers = get("/api/agencies/ag1/offers", "demo-agency-ag1");
  ASSERT_EQ(offers.status, 200);
  ASSERT_EQ(offers.json().at("offers").as_array().size(), 1u);
  EXPECT_EQ(offers.json().at("offers").at(0).at("order_id"), "o1");
  EXPECT_EQ(offers.json().at("offers").at(0).at("pending"), true);
  Reply orders = get("/api/agencies/ag2/orders", "demo-agency-ag2");
  ASSERT_EQ(orders.status, 200);
  ASSERT_EQ(orders.json().at("orders").as_array().size(), 1u);
  EXPECT_EQ(orders.json().at("orders").at(0).at("timeline").as_array().size(), 3u);
  EXPECT_EQ(get("/api/agencies/ag2/orders?state=NONSENSE", "demo-agency-ag2").status, 400);
  EXPECT_EQ(get("/api/agencies/ag2/orders").status, 200);  // operators see every agency
}

TEST_F(ApiServerTest, AgencyAcceptsDeclinesAndReportsProgress) {
  Reply accept = post("/api/agencies/ag1/orders/o1/accept", R"({"eta":"2026-11-19T08:30:00Z"})", "demo-agency-ag1");
  ASSERT_EQ(accept.status, 202) << accept.body;
  Reply decline = post("/api/agencies/ag1/orders/o1/decline", "", "demo-agency-ag1");
  ASSERT_EQ(decline.status, 202) << decline.body;
  Reply progress = post("/api/agencies/ag2/orders/o2/progress", R"({"status":"EN_ROUTE","lat":31.2,"lon":121.4})", "demo-agency-ag2");
  ASSERT_EQ(progress.status, 202) << progress.body;
  auto u = updates();
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].agency_id(), "ag1");
  EXPECT_EQ(u[0].order_id(), "o1");
  EXPECT_EQ(u[0].status(), vigil::v1::AgencyUpdate::ACCEPTED);
  EXPECT_TRUE(u[0].has_eta());
  EXPECT_EQ(u[1].status(), vigil::v1::AgencyUpdate::DECLINED);
  EXPECT_EQ(u[2].status(), vigil::v1::AgencyUpdate::EN_ROUTE);
  EXPECT_DOUBLE_EQ(u[2].lat(), 31.2);
}

TEST_F(ApiServerTest, AgencyActionErrors) {
  EXPECT_EQ(post("/api/agencies/ag1/orders/nope/accept", "{}", "demo-agency-ag1").status, 404);
  EXPECT_EQ(post("/api/agencies/ag1/orders/o1/accept", "{bad", "demo-agency-ag1").status, 400);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/accept", "{}", "demo-agency-ag2").status, 409);  // already accepted
  EXPECT_EQ(post("/api/agencies/ag1/orders/o1/progress", R"({"status":"ARRIVED"})", "demo-agency-ag1").status, 409);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/progress", "{}", "demo-agency-ag2").status, 400);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/progress", R"({"status":"ACCEPTED"})", "demo-agency-ag2").status, 400);
  EXPECT_EQ(get("/api/agencies/ag1/orders/o1/accept", "demo-agency-ag1").status, 405);
  EXPECT_TRUE(updates().empty());
}

// --- rules ------------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsRules) {
  Reply r = get("/api/rules");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("rules").at(0).at("id"), "pillow");
  EXPECT_EQ(r.json().at("rules").at(0).at("severity"), "MINOR");
}

TEST_F(ApiServerTest, ValidatesRuleText) {
  Reply good = post("/api/rules/validate", kValidRule);
  ASSERT_EQ(good.status, 200);
  EXPECT_EQ(good.json().at("ok"), true);
  EXPECT_EQ(good.json().at("rules").at(0), "pillow");
  Reply bad = post("/api/rules/validate", kInvalidRule);
  ASSERT_EQ(bad.status, 200);
  EXPECT_EQ(bad.json().at("ok"), false);
  auto diag = bad.json().at("diagnostics").at(0);
  EXPECT_EQ(diag.at("line").as_int64(), 5);
  EXPECT_NE(json::value_to<std::string>(diag.at("text")).find("request.yaml:5"), std::string::npos);
  EXPECT_EQ(post("/api/rules/validate", "").status, 400);
  EXPECT_EQ(post("/api/rules/validate", kValidRule, "demo-agency-ag1").status, 403);
}

TEST_F(ApiServerTest, RuleReloadIsForAdmins) {
  EXPECT_EQ(post("/api/rules/reload", "", "demo-operator").status, 403);
  Reply r = post("/api/rules/reload", "", "demo-admin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("rules").as_int64(), 1);
  reload_ok_ = false;
  Reply bad = post("/api/rules/reload", "", "demo-admin");
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.error().find("pack.yaml:5"), std::string::npos);
}

// --- health, metrics, static ------------------------------------------------------------------

TEST_F(ApiServerTest, HealthAndReadiness) {
  EXPECT_EQ(get("/healthz", "").status, 200);
  EXPECT_EQ(get("/readyz", "").status, 503);
  ready_ = true;
  Reply r = get("/readyz", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("ready"), true);
}

TEST_F(ApiServerTest, MetricsInPrometheusText) {
  Reply r = get("/metrics", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  for (const char* line : {"# TYPE vigil_events_in_total counter\n",
                           "vigil_alarms{severity=\"CRITICAL\",status=\"ACTIVE_UNACK\"} 1\n",
                           "vigil_alarms_active{severity=\"MINOR\"} 1\n",
                           "vigil_orders{state=\"ACCEPTED\"} 1\n",
                           "vigil_offer_acceptance_ratio 0.5\n",
                           "vigil_output_records_total{topic=\"alarms\"} 2\n",
                           "vigil_alarm_answer_share{target=\"60s\"} 0.5\n",
                           "vigil_agency_acceptance_ratio{agency_id=\"ag2\"} 1\n",
                           "vigil_consumer_lag{topic=\"telemetry\"} 42\n"}) {
    EXPECT_NE(r.body.find(line), std::string::npos) << line << "\n" << r.body;
  }
}

TEST_F(ApiServerTest, ServesTheConsoleFiles) {
  Reply r = get("/", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("vigil console"), std::string::npos);
  EXPECT_EQ(get("/index.html", "").status, 200);
  EXPECT_EQ(get("/missing.js", "").status, 404);
  EXPECT_EQ(get("/../CMakeLists.txt", "").status, 404);
  EXPECT_EQ(post("/index.html", "").status, 405);
  Reply with_token = get("/?token=demo-operator", "");
  EXPECT_EQ(with_token.set_cookie.rfind("vigil_token=demo-operator;", 0), 0u);
}

// --- WebSocket --------------------------------------------------------------------------------

class WsClient {
 public:
  explicit WsClient(uint16_t port, const std::string& target) : ws_(ioc_) {
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", target);
  }
  // The next message, or "" if none arrives in time (a guard, not a timing assertion).
  std::string read() {
    beast::flat_buffer buf;
    std::string out;
    bool done = false;
    ws_.async_read(buf, [&](beast::error_code ec, size_t) {
      done = true;
      if (!ec) out = beast::buffers_to_string(buf.data());
    });
    ioc_.restart();
    ioc_.run_for(std::chrono::seconds(20));
    if (!done) ws_.next_layer().cancel();
    return out;
  }

 private:
  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
};

TEST_F(ApiServerTest, WebSocketReceivesAlarmFromTheTeeSink) {
  WsClient client(port_, "/ws?token=demo-operator");
  ASSERT_TRUE(eventually([&] { return service_->stats().ws_clients == 1; }));
  tee_->emit(OutTopic::kAlarms, "e5", alarm("a5", "e5", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0));
  std::string msg = client.read();
  ASSERT_FALSE(msg.empty());
  auto j = json::parse(msg);
  EXPECT_EQ(j.at("topic"), "alarms");
  EXPECT_EQ(j.at("value").at("alarm_id"), "a5");
  EXPECT_EQ(j.at("value").at("status"), "ACTIVE_UNACK");
}

TEST_F(ApiServerTest, WebSocketAgencyGetsOnlyItsOwnUpdates) {
  WsClient client(port_, "/ws?token=demo-agency-ag1");
  ASSERT_TRUE(eventually([&] { return service_->stats().ws_clients == 1; }));
  tee_->emit(OutTopic::kAlarms, "e5", alarm("a5", "e5", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0));
  tee_->emit(OutTopic::kDispatch, "ag2", offer("o7", "ag2", "e5", kT0));
  tee_->emit(OutTopic::kDispatch, "ag1", offer("o8", "ag1", "e5", kT0));
  auto j = json::parse(client.read());
  EXPECT_EQ(j.at("topic"), "dispatch");
  EXPECT_EQ(j.at("value").at("order_id"), "o8");
}

TEST_F(ApiServerTest, WebSocketNeedsAToken) {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  beast::error_code ec;
  websocket::response_type res;
  ws.handshake(res, "127.0.0.1", "/ws", ec);
  EXPECT_TRUE(ec);
  EXPECT_EQ(res.result_int(), 401);
}

TEST_F(ApiServerTest, SlowWebSocketClientDropsOldestAndNeverBlocksEmit) {
  // A client that never reads: the kernel buffers fill, then its queue (8) drops the oldest.
  WsClient slow(port_, "/ws?token=demo-operator");
  ASSERT_TRUE(eventually([&] { return service_->stats().ws_clients == 1; }));
  const std::string big(8192, 'x');
  const size_t before = downstream_.records().size();
  constexpr int kEmits = 4000;  // ~32 MB of updates: far beyond any socket buffer
  for (int i = 0; i < kEmits; ++i) {
    auto a = alarm("flood", "e6", vigil::v1::MAJOR, vigil::v1::ACTIVE_UNACK, kT0);
    a.set_count(static_cast<uint32_t>(i + 1));
    a.set_message(big);
    tee_->emit(OutTopic::kAlarms, "e6", a);
  }
  // Every emit() returned and reached the downstream sink although nobody reads the socket.
  EXPECT_EQ(downstream_.records().size(), before + kEmits);
  ASSERT_TRUE(eventually([&] {
    ServerStats s = service_->stats();
    return s.ws_dropped + s.push_dropped > 0 && s.ws_sent + s.ws_dropped + s.push_dropped >= kEmits - 8;
  }));
  ServerStats s = service_->stats();
  EXPECT_GT(s.ws_dropped + s.push_dropped, 0u);
  EXPECT_LT(s.ws_sent, static_cast<uint64_t>(kEmits));
  // The server still answers while the slow client is connected.
  EXPECT_EQ(get("/healthz", "").status, 200);
}

}  // namespace
}  // namespace vigil::api
