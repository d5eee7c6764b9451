// GET /api/agencies/{id}/offers|orders; POST /api/agencies/{id}/orders/{order_id}/accept|decline|progress.

#include "engine/api/route_handler.h"

#include "engine/core/time_util.h"

namespace vigil::api::route {

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

}  // namespace vigil::api::route
