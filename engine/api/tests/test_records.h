#pragma once
// Output records for the api tests.

#include <string>

#include "engine/core/time_util.h"
#include "schemas/outputs.pb.h"

namespace vigil::api::testing {

inline constexpr TimeMs kT0 = 1'795'000'000'000;  // 2026-11-19 (a fixed test time)

inline vigil::v1::AlarmEvent alarm(const std::string& id, const std::string& elder,
                                   vigil::v1::Severity sev, vigil::v1::AlarmStatus status,
                                   TimeMs raised, TimeMs updated = 0,
                                   const std::string& rule = "sos") {
  vigil::v1::AlarmEvent a;
  a.set_alarm_id(id);
  a.set_elder_id(elder);
  a.set_rule_id(rule);
  a.set_severity(sev);
  a.set_status(status);
  set_ts(a.mutable_raised_at(), raised);
  set_ts(a.mutable_updated_at(), updated ? updated : raised);
  a.set_count(1);
  return a;
}

inline vigil::v1::DispatchOffer offer(const std::string& order, const std::string& agency,
                                      const std::string& elder, TimeMs at, uint32_t attempt = 1,
                                      TimeMs window_end = 0) {
  vigil::v1::DispatchOffer o;
  o.set_order_id(order);
  o.set_agency_id(agency);
  o.set_elder_id(elder);
  o.set_category("meal_delivery");
  o.set_attempt(attempt);
  set_ts(o.mutable_offered_at(), at);
  if (window_end) set_ts(o.mutable_window_end(), window_end);
  return o;
}

inline vigil::v1::OrderEvent order_event(const std::string& order, const std::string& elder,
                                         const std::string& agency, vigil::v1::OrderState state,
                                         TimeMs ts) {
  vigil::v1::OrderEvent e;
  e.set_order_id(order);
  e.set_elder_id(elder);
  e.set_agency_id(agency);
  e.set_state(state);
  set_ts(e.mutable_ts(), ts);
  return e;
}

inline vigil::v1::OperatorTask task(const std::string& id, const std::string& elder, TimeMs at) {
  vigil::v1::OperatorTask t;
  t.set_task_id(id);
  t.set_kind("alarm");
  t.set_elder_id(elder);
  set_ts(t.mutable_created_at(), at);
  return t;
}

}  // namespace vigil::api::testing
