// GET /api/elders/{id}, /api/tasks and /api/stats (the big screen).

#include "engine/api/route_handler.h"

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"

namespace vigil::api::route {

Response Handler::elder(const std::string& id) {
  auto v = ctx_.views.elder(id, limit_of(t_));
  std::optional<vigil::state::ElderRecord> rec;
  if (ctx_.hooks.find_elder) rec = ctx_.hooks.find_elder(id);
  std::map<std::string, vigil::v1::DeviceEvent> vitals;
  if (ctx_.vitals) vitals = ctx_.vitals->latest(id);
  if (!v && !rec && vitals.empty()) return err(http::status::not_found, "no elder " + id);
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
  // The newest reading of each vital type, as the device sent it (value2: diastolic pressure).
  json::object vit;
  for (const auto& [type, e] : vitals) vit[type] = proto_json(e);
  j["vitals"] = std::move(vit);
  j["devices"] = std::move(devices);
  j["active_alarms"] = std::move(alarms);
  j["orders"] = std::move(orders);
  j["tasks"] = std::move(tasks);
  return ok(j);
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

}  // namespace vigil::api::route
