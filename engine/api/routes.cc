#include "engine/api/routes.h"

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"

namespace vigil::api {

namespace http = boost::beast::http;
namespace json = boost::json;
using vigil::v1::AgencyUpdate;
using vigil::v1::AlarmAction;
using vigil::v1::AlarmEvent;
using vigil::v1::CallEvent;
using vigil::v1::OrderAction;

namespace {

constexpr size_t kDefaultLimit = 200;
constexpr size_t kMaxLimit = 2000;

json::value proto_json(const google::protobuf::Message& m) { return json::parse(codec::to_json(m)); }

// A message's JSON as an object to add fields to; empty if it has no JSON form (to_json's null).
json::object proto_object(const google::protobuf::Message& m) {
  json::value v = proto_json(m);
  return v.is_object() ? std::move(v.as_object()) : json::object();
}

Response json_response(const Request& req, http::status status, const json::value& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

Response method_not_allowed(const Request& req, std::string_view allow) {
  Response res = error_response(req, http::status::method_not_allowed,
                                "method " + std::string(req.method_string()) + " not allowed; use " +
                                    std::string(allow));
  res.set(http::field::allow, allow);
  return res;
}

size_t limit_of(const Target& t) {
  auto it = t.query.find("limit");
  if (it == t.query.end()) return kDefaultLimit;
  try {
    long v = std::stol(it->second);
    return v <= 0 ? kDefaultLimit : std::min<size_t>(static_cast<size_t>(v), kMaxLimit);
  } catch (...) {
    return kDefaultLimit;
  }
}

std::string query_or(const Target& t, const std::string& key, std::string fallback = {}) {
  auto it = t.query.find(key);
  return it == t.query.end() ? fallback : it->second;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}


//! The order as JSON; an agency sees only its own offers and not who else was asked.
json::object order_json(const OrderView& o, const Principal& who) {
  json::object j;
  j["order_id"] = o.order_id;
  j["elder_id"] = o.elder_id;
  // An agency sees neither which other agency holds the order nor that agency's steps.
  const bool other_agency = who.role == Role::kAgency && o.agency_id != who.agency_id;
  j["agency_id"] = other_agency ? std::string() : o.agency_id;
  j["state"] = vigil::v1::OrderState_Name(o.state);
  j["category"] = o.category;
  j["priority"] = vigil::v1::Priority_Name(o.priority);
  if (o.window_end_ms) j["window_end"] = format_rfc3339(o.window_end_ms);
  if (o.created_ms) j["created_at"] = format_rfc3339(o.created_ms);
  if (o.updated_ms) j["updated_at"] = format_rfc3339(o.updated_ms);
  if (who.role != Role::kAgency) {
    json::array to;
    for (const auto& a : o.offered_to) to.emplace_back(a);
    j["offered_to"] = std::move(to);
  }
  json::array timeline;
  for (const auto& e : o.timeline) {
    if (who.role == Role::kAgency && !e.agency_id().empty() && e.agency_id() != who.agency_id) continue;
    timeline.push_back(proto_json(e));
  }
  j["timeline"] = std::move(timeline);
  json::array offers;
  for (const auto& off : o.offers) {
    if (who.role == Role::kAgency && off.agency_id() != who.agency_id) continue;
    offers.push_back(proto_json(off));
  }
  j["offers"] = std::move(offers);
  return j;
}

OrderView from_record(const vigil::state::OrderRecord& r) {
  OrderView o;
  o.order_id = r.order_id();
  o.elder_id = r.elder_id();
  o.agency_id = r.agency_id();
  o.state = r.state();
  o.category = r.category();
  o.priority = r.priority();
  if (r.has_window_end()) o.window_end_ms = to_ms(r.window_end());
  for (int i = 0; i < r.candidates_size(); ++i) {
    if (i < r.offered_size() && r.offered(i) > 0) o.offered_to.push_back(r.candidates(i));
  }
  for (const auto& e : r.history()) o.timeline.push_back(e);
  if (!o.timeline.empty()) {
    o.created_ms = to_ms(o.timeline.front().ts());
    o.updated_ms = to_ms(o.timeline.back().ts());
  }
  return o;
}

json::array diagnostics_json(const std::vector<rules::Diagnostic>& diags) {
  json::array out;
  for (const auto& d : diags) {
    out.push_back(json::object{{"file", d.file}, {"line", d.line}, {"col", d.col},
                               {"message", d.message}, {"warning", d.warning},
                               {"text", d.str()}});
  }
  return out;
}

std::string content_type_of(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

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

Response Handler::api(const std::vector<std::string>& s) {
  const size_t n = s.size();
  const bool ops = who_.role != Role::kAgency;
  if (n == 1 && s[0] == "whoami") {
    if (!get()) return method_not_allowed(req_, "GET");
    return ok(json::object{{"role", role_name(who_.role)}, {"agency_id", who_.agency_id},
                           {"name", who_.name}});
  }
  if (s[0] == "alarms") {
    if (n == 1) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? alarms() : operators_only();
    }
    if (n == 2) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? alarm(s[1]) : operators_only();
    }
    if (n == 3 && (s[2] == "ack" || s[2] == "assign" || s[2] == "escalate" || s[2] == "clear")) {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? alarm_action(s[1], s[2]) : operators_only();
    }
  }
  if (s[0] == "tasks" && n == 1) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? tasks() : operators_only();
  }
  if (s[0] == "stats" && n == 1) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? stats() : operators_only();
  }
  if (s[0] == "orders") {
    if (n == 1) {
      if (get()) return orders();
      if (post()) return ops ? place_order() : operators_only();
      return method_not_allowed(req_, "GET, POST");
    }
    if (n == 2) {
      if (!get()) return method_not_allowed(req_, "GET");
      return order(s[1]);
    }
    if (n == 3 && (s[2] == "cancel" || s[2] == "rate")) {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? order_action(s[1], s[2]) : operators_only();
    }
  }
  if (s[0] == "elders" && n == 2) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? elder(s[1]) : operators_only();
  }
  if (s[0] == "agencies" && n >= 3) {
    const std::string& agency = s[1];
    bool known = (n == 3 && (s[2] == "offers" || s[2] == "orders")) ||
                 (n == 5 && s[2] == "orders" &&
                  (s[4] == "accept" || s[4] == "decline" || s[4] == "progress"));
    if (known) {
      if (n == 3 && !get()) return method_not_allowed(req_, "GET");
      if (n == 5 && !post()) return method_not_allowed(req_, "POST");
      if (!who_.may_see_agency(agency)) {
        return err(http::status::forbidden,
                   "agency " + who_.agency_id + " may not see agency " + agency);
      }
      if (n == 3) return s[2] == "offers" ? agency_offers(agency) : agency_orders(agency);
      return agency_action(agency, s[3], s[4]);
    }
  }
  if (s[0] == "rules") {
    if (n == 1) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? rules_list() : operators_only();
    }
    if (n == 2 && s[1] == "validate") {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? rules_validate() : operators_only();
    }
    if (n == 2 && s[1] == "reload") {
      if (!post()) return method_not_allowed(req_, "POST");
      return who_.role == Role::kAdmin ? rules_reload()
                                       : err(http::status::forbidden,
                                             "rule reload needs the admin role");
    }
  }
  return err(http::status::not_found, "no such endpoint: " + t_.path);
}

Response Handler::alarms() {
  AlarmFilter f;
  f.status = query_or(t_, "status", "open");
  if (f.status != "open" && f.status != "all") {
    f.status = upper(f.status);
    vigil::v1::AlarmStatus st;
    if (!vigil::v1::AlarmStatus_Parse(f.status, &st) || st == vigil::v1::ALARM_STATUS_UNSPECIFIED) {
      return err(http::status::bad_request, "unknown status " + f.status +
                                                "; use open, all, ACTIVE_UNACK, ACTIVE_ACK, "
                                                "CLEARED_UNACK, CLEARED_ACK or CLOSED");
    }
  }
  std::string sev = upper(query_or(t_, "severity"));
  if (!sev.empty()) {
    vigil::v1::Severity v;
    if (!vigil::v1::Severity_Parse(sev, &v) || v == vigil::v1::SEVERITY_UNSPECIFIED) {
      return err(http::status::bad_request,
                 "unknown severity " + sev + "; use CRITICAL, MAJOR, MINOR or WARNING");
    }
    f.severity = v;
  }
  f.elder_id = query_or(t_, "elder_id");
  f.rule_id = query_or(t_, "rule_id");
  f.limit = limit_of(t_);
  json::array items;
  for (const auto& a : ctx_.views.alarms(f)) items.push_back(proto_json(a));
  return ok(json::object{{"alarms", std::move(items)}});
}

Response Handler::alarm(const std::string& id) {
  auto v = ctx_.views.alarm(id);
  if (!v) return err(http::status::not_found, "no alarm " + id);
  json::object j = proto_object(v->latest);
  json::array history;
  for (const auto& h : v->history) history.push_back(proto_json(h));
  j["history"] = std::move(history);
  return ok(j);
}

Response Handler::submit(CallEvent& call, json::object extra) {
  if (call.operator_id().empty()) call.set_operator_id(who_.name);
  set_ts(call.mutable_ts(), ctx_.clock.now_ms());
  if (Status st = codec::validate(call); !st) {
    return err(http::status::bad_request, st.error().message);
  }
  if (!ctx_.hooks.submit_call) return err(http::status::service_unavailable, "calls are not wired");
  if (Status st = ctx_.hooks.submit_call(call); !st) {
    return err(http::status::service_unavailable, "could not submit the call: " + st.error().message);
  }
  extra["call"] = proto_json(call);
  return ok(extra, http::status::accepted);
}

Response Handler::alarm_action(const std::string& id, const std::string& verb) {
  AlarmAction act;
  Response res;
  if (!body(&act, &res)) return res;
  auto v = ctx_.views.alarm(id);
  if (!v) return err(http::status::not_found, "no alarm " + id);
  const AlarmEvent& a = v->latest;
  if (a.status() == vigil::v1::CLOSED) return err(http::status::conflict, "alarm " + id + " is closed");
  if (verb == "ack") {
    if (a.status() != vigil::v1::ACTIVE_UNACK && a.status() != vigil::v1::CLEARED_UNACK) {
      return err(http::status::conflict, "alarm " + id + " is already acknowledged");
    }
    act.set_action(AlarmAction::ACK);
  } else if (verb == "assign") {
    if (act.assignee().empty()) return err(http::status::bad_request, "assign needs an assignee");
    act.set_action(AlarmAction::ASSIGN);
  } else if (verb == "clear") {
    if (a.status() == vigil::v1::CLEARED_ACK) {
      return err(http::status::conflict, "alarm " + id + " is already cleared");
    }
    act.set_action(AlarmAction::CLEAR);
  } else {
    act.set_action(AlarmAction::ESCALATE);
  }
  act.set_alarm_id(a.alarm_id());
  act.set_rule_id(a.rule_id());
  CallEvent call;
  call.set_call_id(next_call_id(verb));
  call.set_elder_id(a.elder_id());
  *call.mutable_alarm_action() = act;
  return submit(call, json::object{{"alarm_id", a.alarm_id()}});
}

Response Handler::orders() {
  auto state = vigil::v1::ORDER_STATE_UNSPECIFIED;
  std::string st = upper(query_or(t_, "state"));
  if (!st.empty() && (!vigil::v1::OrderState_Parse(st, &state) ||
                      state == vigil::v1::ORDER_STATE_UNSPECIFIED)) {
    return err(http::status::bad_request, "unknown order state " + st);
  }
  std::string agency = who_.role == Role::kAgency ? who_.agency_id : query_or(t_, "agency_id");
  json::array items;
  for (const auto& o : ctx_.views.orders(state, agency, limit_of(t_))) {
    items.push_back(order_json(o, who_));
  }
  return ok(json::object{{"orders", std::move(items)}});
}

Response Handler::place_order() {
  CallEvent call;
  Response res;
  if (!body(&call, &res)) return res;
  if (call.elder_id().empty()) return err(http::status::bad_request, "elder_id is required");
  if (!call.has_service_request() || call.service_request().category().empty()) {
    return err(http::status::bad_request, "service_request with a category is required");
  }
  if (call.call_id().empty()) call.set_call_id(next_call_id("order"));
  if (ctx_.views.order(call.call_id())) {
    return err(http::status::conflict, "order " + call.call_id() + " already exists");
  }
  std::string id = call.call_id();
  return submit(call, json::object{{"order_id", id}});
}

std::optional<OrderView> Handler::find_order(const std::string& id, Response* res) const {
  if (auto o = ctx_.views.order(id)) return o;
  if (ctx_.hooks.find_order) {
    auto r = ctx_.hooks.find_order(id);
    if (!r) {
      *res = err(http::status::service_unavailable, "order lookup failed: " + r.error().message);
      return std::nullopt;
    }
    if (r.value()) return from_record(*r.value());
  }
  *res = err(http::status::not_found, "no order " + id);
  return std::nullopt;
}

Response Handler::order(const std::string& id) {
  Response res;
  auto o = find_order(id, &res);
  if (!o) return res;
  if (who_.role == Role::kAgency && !o->visible_to_agency(who_.agency_id)) {
    return err(http::status::forbidden, "order " + id + " is not agency " + who_.agency_id + "'s");
  }
  return ok(order_json(*o, who_));
}

Response Handler::order_action(const std::string& id, const std::string& verb) {
  OrderAction act;
  Response res;
  if (!body(&act, &res)) return res;
  auto o = find_order(id, &res);
  if (!o) return res;
  if (verb == "cancel") {
    if (o->state == vigil::v1::COMPLETED || o->state == vigil::v1::RATED ||
        o->state == vigil::v1::CANCELLED || o->state == vigil::v1::FAILED) {
      return err(http::status::conflict,
                 "order " + id + " is " + vigil::v1::OrderState_Name(o->state) + "; cannot cancel");
    }
    act.set_action(OrderAction::CANCEL);
  } else {
    if (act.rating() < 1 || act.rating() > 5) return err(http::status::bad_request, "rating must be 1..5");
    if (o->state != vigil::v1::COMPLETED) {
      return err(http::status::conflict, "order " + id + " is not COMPLETED; cannot rate");
    }
    act.set_action(OrderAction::RATE);
  }
  act.set_order_id(id);
  CallEvent call;
  call.set_call_id(next_call_id(verb));
  call.set_elder_id(o->elder_id);
  *call.mutable_order_action() = act;
  return submit(call, json::object{{"order_id", id}});
}

Response Handler::elder(const std::string& id) {
  auto v = ctx_.views.elder(id, limit_of(t_));
  std::optional<vigil::state::ElderRecord> rec;
  if (ctx_.hooks.find_elder) rec = ctx_.hooks.find_elder(id);
  if (!v && !rec) return err(http::status::not_found, "no elder " + id);
  json::object j;
  j["elder_id"] = id;
  json::array devices, alarms, orders, tasks;
  if (rec) {
    if (rec->registered()) j["profile"] = proto_json(rec->elder());
    for (const auto& d : rec->devices()) devices.push_back(proto_json(d));
  }
  if (v) {
    for (const auto& a : v->active_alarms) alarms.push_back(proto_json(a));
    for (const auto& o : v->orders) orders.push_back(order_json(o, who_));
    for (const auto& t : v->tasks) tasks.push_back(proto_json(t));
  } else if (rec) {
    for (const auto& a : rec->alarms()) alarms.push_back(proto_json(a));
  }
  j["devices"] = std::move(devices);
  j["active_alarms"] = std::move(alarms);
  j["orders"] = std::move(orders);
  j["tasks"] = std::move(tasks);
  return ok(j);
}

Response Handler::agency_offers(const std::string& agency) {
  json::array items;
  for (const auto& o : ctx_.views.offers_of(agency, limit_of(t_))) {
    json::object j = proto_object(o.offer);
    j["pending"] = o.pending;
    items.push_back(std::move(j));
  }
  return ok(json::object{{"agency_id", agency}, {"offers", std::move(items)}});
}

Response Handler::agency_orders(const std::string& agency) {
  auto state = vigil::v1::ORDER_STATE_UNSPECIFIED;
  std::string st = upper(query_or(t_, "state"));
  if (!st.empty() && (!vigil::v1::OrderState_Parse(st, &state) ||
                      state == vigil::v1::ORDER_STATE_UNSPECIFIED)) {
    return err(http::status::bad_request, "unknown order state " + st);
  }
  json::array items;
  Principal as_agency{Role::kAgency, agency, who_.name};
  for (const auto& o : ctx_.views.orders(state, agency, limit_of(t_), true)) {
    items.push_back(order_json(o, as_agency));
  }
  return ok(json::object{{"agency_id", agency}, {"orders", std::move(items)}});
}

Response Handler::agency_action(const std::string& agency, const std::string& order_id,
                                const std::string& verb) {
  AgencyUpdate up;
  Response res;
  if (!body(&up, &res)) return res;
  auto o = find_order(order_id, &res);
  if (!o) return res;
  if (!o->visible_to_agency(agency)) {
    return err(http::status::forbidden, "order " + order_id + " is not agency " + agency + "'s");
  }
  if (verb == "accept" || verb == "decline") {
    bool pending = o->state == vigil::v1::OFFERED && !o->offers.empty() &&
                   o->offers.back().agency_id() == agency;
    if (!pending) {
      return err(http::status::conflict, "order " + order_id + " has no open offer to agency " + agency);
    }
    up.set_status(verb == "accept" ? AgencyUpdate::ACCEPTED : AgencyUpdate::DECLINED);
  } else {
    auto s = up.status();
    if (s != AgencyUpdate::EN_ROUTE && s != AgencyUpdate::ARRIVED && s != AgencyUpdate::IN_SERVICE &&
        s != AgencyUpdate::COMPLETED && s != AgencyUpdate::FAILED) {
      return err(http::status::bad_request,
                 "progress needs status EN_ROUTE, ARRIVED, IN_SERVICE, COMPLETED or FAILED");
    }
    bool held = o->agency_id == agency &&
                (o->state == vigil::v1::ACCEPTED || o->state == vigil::v1::EN_ROUTE ||
                 o->state == vigil::v1::ARRIVED || o->state == vigil::v1::IN_SERVICE);
    if (!held) {
      return err(http::status::conflict, "order " + order_id + " is " +
                                             vigil::v1::OrderState_Name(o->state) +
                                             ", not in progress with agency " + agency);
    }
  }
  up.set_agency_id(agency);
  up.set_order_id(order_id);
  set_ts(up.mutable_ts(), ctx_.clock.now_ms());
  if (Status st = codec::validate(up); !st) return err(http::status::bad_request, st.error().message);
  if (!ctx_.hooks.submit_agency) {
    return err(http::status::service_unavailable, "agency updates are not wired");
  }
  if (Status st = ctx_.hooks.submit_agency(up); !st) {
    return err(http::status::service_unavailable, "could not submit the update: " + st.error().message);
  }
  return ok(json::object{{"order_id", order_id}, {"update", proto_json(up)}}, http::status::accepted);
}

Response Handler::rules_list() {
  if (!ctx_.hooks.rules) return err(http::status::service_unavailable, "rules are not wired");
  auto set = ctx_.hooks.rules();
  json::array items;
  if (set) {
    for (const auto& r : set->rules()) {
      json::object j;
      j["id"] = r.id;
      j["description"] = r.description;
      j["kind"] = rules::kind_name(r.kind);
      j["severity"] = vigil::v1::Severity_Name(r.severity);
      json::array reads;
      for (const auto& t : r.reads) reads.emplace_back(t);
      j["reads"] = std::move(reads);
      json::object params;
      for (const auto& p : r.params) params[p.name] = p.value;
      j["params"] = std::move(params);
      json::object actions;
      if (!r.actions.dispatch.empty()) actions["dispatch"] = r.actions.dispatch;
      if (!r.actions.operator_task.empty()) actions["operator_task"] = r.actions.operator_task;
      if (!r.actions.reminder.empty()) actions["reminder"] = r.actions.reminder;
      j["actions"] = std::move(actions);
      j["file"] = r.file;
      j["line"] = r.line;
      items.push_back(std::move(j));
    }
  }
  return ok(json::object{{"rules", std::move(items)}});
}

Response Handler::rules_validate() {
  if (req_.body().find_first_not_of(" \t\r\n") == std::string::npos) {
    return err(http::status::bad_request, "empty body: expected a rule file's YAML text");
  }
  rules::LoadResult r;
  try {
    r = rules::load_rule_text(req_.body(), query_or(t_, "name", "request.yaml"));
  } catch (const std::exception& e) {
    return err(http::status::bad_request, std::string("malformed body: ") + e.what());
  }
  json::array ids;
  if (r.rules) {
    for (const auto& id : r.rules->ids()) ids.emplace_back(id);
  }
  return ok(json::object{{"ok", r.ok()}, {"rules", std::move(ids)},
                         {"diagnostics", diagnostics_json(r.diagnostics)}});
}

Response Handler::rules_reload() {
  if (!ctx_.hooks.reload_rules) return err(http::status::service_unavailable, "rule reload is not wired");
  rules::LoadResult r = ctx_.hooks.reload_rules();
  if (!r.ok()) {
    std::string first = r.diagnostics.empty() ? "unknown error" : r.diagnostics.front().str();
    return ok(json::object{{"error", "rule reload failed: " + first},
                           {"diagnostics", diagnostics_json(r.diagnostics)}},
              http::status::unprocessable_entity);
  }
  return ok(json::object{{"ok", true}, {"rules", r.rules->rules().size()},
                         {"diagnostics", diagnostics_json(r.diagnostics)}});
}

Response Handler::tasks() {
  json::array items;
  for (const auto& t : ctx_.views.tasks(limit_of(t_))) items.push_back(proto_json(t));
  return ok(json::object{{"tasks", std::move(items)}});
}

Response Handler::stats() {
  ViewCounters c = ctx_.views.counters();
  json::object active, by_state;
  for (int s = vigil::v1::CRITICAL; s <= vigil::v1::WARNING; ++s) {
    active[vigil::v1::Severity_Name(static_cast<vigil::v1::Severity>(s))] = c.active_by_severity[s];
  }
  for (int s = vigil::v1::CREATED; s <= vigil::v1::FAILED; ++s) {
    by_state[vigil::v1::OrderState_Name(static_cast<vigil::v1::OrderState>(s))] = c.orders_by_state[s];
  }
  json::array agencies;
  for (const auto& [id, a] : c.agencies) {
    agencies.push_back(json::object{{"agency_id", id},
                                    {"offers", a.offers},
                                    {"accepted", a.accepted},
                                    {"acceptance_rate", a.acceptance_rate()},
                                    {"arrived", a.arrived},
                                    {"on_time_rate", a.on_time_rate()}});
  }
  ServerStats srv = ctx_.stats();
  return ok(json::object{
      {"events_in", metrics().events_in.get()},
      {"agencies", std::move(agencies)},
      {"now", format_rfc3339(ctx_.clock.now_ms())},
      {"alarms_today", c.alarms_today},
      {"orders_today", c.orders_today},
      {"alarms_total", c.alarms_total},
      {"orders_total", c.orders_total},
      {"active_alarms_by_severity", std::move(active)},
      {"orders_by_state", std::move(by_state)},
      {"offers", c.offers},
      {"acceptance_rate", c.acceptance_rate()},
      {"on_time_rate", c.on_time_rate()},
      {"answer_share_60s", c.answer_share_60s()},
      {"answer_share_180s", c.answer_share_180s()},
      {"tasks_total", c.tasks_total},
      {"ws_clients", srv.ws_clients},
  });
}

Response serve_static(const ApiConfig& config, const Request& req, const Target& t) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return method_not_allowed(req, "GET, HEAD");
  }
  if (config.static_dir.empty() || t.path.find("..") != std::string::npos) {
    return error_response(req, http::status::not_found, "no such file: " + t.path);
  }
  std::filesystem::path p = std::filesystem::path(config.static_dir) /
                            (t.path == "/" ? std::string("index.html") : t.path.substr(1));
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "index.html";
  std::ifstream in(p, std::ios::binary);
  if (!in) return error_response(req, http::status::not_found, "no such file: " + t.path);
  std::ostringstream data;
  data << in.rdbuf();
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_of(p));
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(req.keep_alive());
  res.body() = data.str();
  res.prepare_payload();
  return res;
}

}  // namespace

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Target parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  t.path = url_decode(target.substr(0, q));
  if (t.path.empty()) t.path = "/";
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    t.query[url_decode(part.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
  }
  return t;
}

Response error_response(const Request& req, http::status status, std::string_view message) {
  return json_response(req, status, json::object{{"error", message}});
}

const Principal* authenticate(const ApiContext& ctx, const Request& req, const Target& target,
                              FoundToken* found) {
  auto q = target.query.find("token");
  *found = find_token(req[http::field::authorization],
                      q == target.query.end() ? std::string_view{} : std::string_view(q->second),
                      req[http::field::cookie]);
  if (found->source == TokenSource::kNone) return nullptr;
  auto it = ctx.config.tokens.find(found->token);
  return it == ctx.config.tokens.end() ? nullptr : &it->second;
}

Response handle_request(ApiContext& ctx, const Request& req) {
  Target t = parse_target(req.target());
  if (t.path == "/healthz") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    return json_response(req, http::status::ok, json::object{{"status", "ok"}});
  }
  if (t.path == "/readyz") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    bool ready = !ctx.hooks.ready || ctx.hooks.ready();
    return json_response(req, ready ? http::status::ok : http::status::service_unavailable,
                         json::object{{"ready", ready}});
  }
  FoundToken found;
  const Principal* who = authenticate(ctx, req, t, &found);
  const bool api = t.path == "/api" || t.path.rfind("/api/", 0) == 0;
  if (t.path == "/metrics" || api) {
    if (!who && (api || !ctx.config.metrics_public)) {
      return error_response(req, http::status::unauthorized,
                            found.source == TokenSource::kNone
                                ? "missing token: send Authorization: Bearer <token>"
                                : "unknown token");
    }
  }
  Response res;
  if (t.path == "/metrics") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    res = Response{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = render_metrics(ctx);
    res.prepare_payload();
  } else if (api) {
    std::vector<std::string> seg;
    std::string_view rest = std::string_view(t.path).substr(std::min<size_t>(t.path.size(), 5));
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      if (slash != 0) seg.emplace_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (seg.empty()) return error_response(req, http::status::not_found, "no such endpoint: " + t.path);
    res = Handler(ctx, req, t, *who).api(seg);
  } else {
    res = serve_static(ctx.config, req, t);
  }
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  if (who && found.source == TokenSource::kQuery) {
    res.set(http::field::set_cookie, std::string(kTokenCookie) + "=" + found.token +
                                         "; Path=/; HttpOnly; SameSite=Strict");
  }
  return res;
}

}  // namespace vigil::api
