#pragma once
// Internal to vigil::api: one request being answered (Handler) and the helpers the route files
// share. routes.cc dispatches by path; each resource has its own file: routes_alarms.cc,
// routes_orders.cc, routes_elders.cc (elders, tasks, big-screen stats), routes_agencies.cc,
// routes_rules.cc; /metrics is metrics_text.cc.

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/api/routes.h"
#include "engine/codec/codec.h"

namespace vigil::api::route {

namespace http = boost::beast::http;
namespace json = boost::json;
using vigil::v1::AgencyUpdate;
using vigil::v1::AlarmAction;
using vigil::v1::AlarmEvent;
using vigil::v1::CallEvent;
using vigil::v1::OrderAction;

inline constexpr size_t kDefaultLimit = 200;
inline constexpr size_t kMaxLimit = 2000;

json::value proto_json(const google::protobuf::Message& m);
//! A message's JSON as an object to add fields to; empty if it has no JSON form.
json::object proto_object(const google::protobuf::Message& m);
Response json_response(const Request& req, http::status status, const json::value& body);
Response method_not_allowed(const Request& req, std::string_view allow);
//! ?limit= clamped to 1..kMaxLimit; kDefaultLimit if absent or malformed.
size_t limit_of(const Target& t);
std::string query_or(const Target& t, const std::string& key, std::string fallback = {});
std::string upper(std::string s);
//! The order as JSON; an agency sees only its own offers and not who else was asked.
json::object order_json(const OrderView& o, const Principal& who);

// One request being answered: the caller, the parsed target and the shared context.
class Handler {
 public:
  Handler(ApiContext& ctx, const Request& req, const Target& t, const Principal& who)
      : ctx_(ctx), req_(req), t_(t), who_(who) {}

  Response api(const std::vector<std::string>& seg);

 private:
  bool get() const { return req_.method() == http::verb::get || req_.method() == http::verb::head; }
  bool post() const { return req_.method() == http::verb::post; }
  Response err(http::status s, std::string_view msg) const { return error_response(req_, s, msg); }
  Response ok(const json::value& v, http::status s = http::status::ok) const {
    return json_response(req_, s, v);
  }
  Response operators_only() const {
    return err(http::status::forbidden, std::string("role ") + role_name(who_.role) +
                                            " may not use " + t_.path);
  }
  // Decodes the body (empty means {}) into `msg`; false and *res set on a malformed body.
  bool body(google::protobuf::Message* msg, Response* res) const {
    std::string_view text = req_.body();
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "{}";
    Status st = codec::decode(text, codec::Format::kJson, msg);
    if (!st) {
      *res = err(http::status::bad_request, "malformed body: " + st.error().message);
      return false;
    }
    return true;
  }
  std::string next_call_id(std::string_view kind) {
    return "api-" + std::string(kind) + "-" + std::to_string(ctx_.clock.now_ms()) + "-" +
           std::to_string(ctx_.call_seq.fetch_add(1));
  }
  Response submit(CallEvent& call, json::object extra);
  std::optional<OrderView> find_order(const std::string& id, Response* res) const;

  Response alarms();
  Response alarm(const std::string& id);
  Response alarm_action(const std::string& id, const std::string& verb);
  Response orders();
  Response place_order();
  Response order(const std::string& id);
  Response order_action(const std::string& id, const std::string& verb);
  Response elder(const std::string& id);
  Response agency_offers(const std::string& agency);
  Response agency_orders(const std::string& agency);
  Response agency_action(const std::string& agency, const std::string& order_id,
                         const std::string& verb);
  Response rules_list();
  Response rules_validate();
  Response rules_reload();
  Response stats();
  Response tasks();

  ApiContext& ctx_;
  const Request& req_;
  const Target& t_;
  const Principal& who_;
};

}  // namespace vigil::api::route
