// GET /api/alarms, /api/alarms/{id}; POST /api/alarms/{id}/ack|assign|escalate|clear.

#include "engine/api/route_handler.h"

#include "engine/core/time_util.h"

namespace vigil::api::route {

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

}  // namespace vigil::api::route
