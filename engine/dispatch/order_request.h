#pragma once
// What the elders' shards ask of the dispatcher: a new order (from a service request or an
// alarm) or an action on an existing order. The port is a direct call in replay and a ring in
// live mode; either way the dispatcher's state is touched by its one thread only.

#include <string>

#include "engine/codec/record.h"
#include "engine/core/clock.h"
#include "schemas/calls.pb.h"
#include "schemas/common.pb.h"

namespace vigil::dispatch {

struct OrderRequest {
  std::string order_id;  //!< call_id of the service request, or derived from the alarm_id
  std::string elder_id;
  std::string category;
  std::string alarm_id;  //!< set for automatic orders
  vigil::v1::Priority priority = vigil::v1::NORMAL;
  double lat = 0;
  double lon = 0;
  bool has_location = false;  //!< false when the elder has no registered home
  TimeMs created = 0;
  TimeMs window_start = 0;
  TimeMs window_end = 0;
  std::string region;  //!< the elder's region ("" if unknown): the `orders` key and the task
};

//! An elder's or operator's action on an order, with the elder it came from; or an operator's
//! action on an `order_late` alarm (`late_alarm` set, `alarm_action` instead of `action`),
//! which the shard forwards because the dispatcher owns those alarms.
struct OrderActionRequest {
  std::string elder_id;
  std::string call_id;
  vigil::v1::OrderAction action;
  TimeMs ts = 0;
  InputRecord source;  //!< the calls record it came from, for a deadletter if it is refused
  bool late_alarm = false;
  vigil::v1::AlarmAction alarm_action;
  std::string operator_id;
};

//! Whether an operator's alarm action is about an `order_late` alarm (rule_id `order_late`, or
//! an alarm_id `<elder_id>:order_late:<order_id>`): those go to the dispatcher.
inline bool is_order_late_action(const vigil::v1::AlarmAction& a) {
  return a.alarm_id().empty() ? a.rule_id() == "order_late"
                              : a.alarm_id().find(":order_late:") != std::string::npos;
}

class DispatchPort {
 public:
  virtual ~DispatchPort() = default;
  virtual void request_order(const OrderRequest& request) = 0;
  virtual void order_action(const OrderActionRequest& request) = 0;
};

//! The `orders` key of a region (engine/runtime/order_router.h). An empty region (an elder or
//! agency without one) gets a fixed key of its own, never a null key, which Kafka would spread
//! over random partitions. With tasks, a region's task is state::task_of(region_key(region)).
inline std::string region_key(const std::string& region) {
  return region.empty() ? std::string("(no region)") : region;
}

//! The order id of an alarm's automatic order.
inline std::string order_id_for_alarm(const std::string& alarm_id) { return "ord-" + alarm_id; }

}  // namespace vigil::dispatch
