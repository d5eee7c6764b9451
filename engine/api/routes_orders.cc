// GET /api/orders, /api/orders/{id}; POST /api/orders, /api/orders/{id}/cancel|rate.

#include "engine/api/route_handler.h"

#include "engine/core/time_util.h"

namespace vigil::api::route {

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

namespace {

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

}  // namespace

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

}  // namespace vigil::api::route
