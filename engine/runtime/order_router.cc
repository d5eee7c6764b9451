#include "engine/runtime/order_router.h"

namespace vigil::runtime {

void to_routed(const dispatch::OrderRequest& in, vigil::v1::RoutedRequest* out) {
  out->Clear();
  out->set_order_id(in.order_id);
  out->set_elder_id(in.elder_id);
  out->set_category(in.category);
  out->set_alarm_id(in.alarm_id);
  out->set_priority(in.priority);
  out->set_lat(in.lat);
  out->set_lon(in.lon);
  out->set_has_location(in.has_location);
  out->set_created_ms(in.created);
  out->set_window_start_ms(in.window_start);
  out->set_window_end_ms(in.window_end);
  out->set_region(in.region);
}

void to_routed(const dispatch::OrderActionRequest& in, vigil::v1::RoutedAction* out) {
  out->Clear();
  out->set_elder_id(in.elder_id);
  out->set_call_id(in.call_id);
  *out->mutable_action() = in.action;
  out->set_ts_ms(in.ts);
  to_routed(in.source, out->mutable_source());
  out->set_late_alarm(in.late_alarm);
  if (in.late_alarm) *out->mutable_alarm_action() = in.alarm_action;
  out->set_operator_id(in.operator_id);
}

void to_routed(const InputRecord& in, vigil::v1::RoutedInput* out) {
  out->Clear();
  out->set_topic(std::string(name(in.topic)));
  out->set_partition(in.partition);
  out->set_offset(in.offset);
  out->set_key(in.key);
  out->set_payload(in.payload);
  out->set_format(static_cast<int32_t>(in.format));
}

dispatch::OrderRequest from_routed(const vigil::v1::RoutedRequest& in) {
  dispatch::OrderRequest r;
  r.order_id = in.order_id();
  r.elder_id = in.elder_id();
  r.category = in.category();
  r.alarm_id = in.alarm_id();
  r.priority = in.priority();
  r.lat = in.lat();
  r.lon = in.lon();
  r.has_location = in.has_location();
  r.created = in.created_ms();
  r.window_start = in.window_start_ms();
  r.window_end = in.window_end_ms();
  r.region = in.region();
  return r;
}

Result<dispatch::OrderActionRequest> from_routed(const vigil::v1::RoutedAction& in) {
  auto source = from_routed(in.source());
  if (!source) return source.error();
  dispatch::OrderActionRequest r;
  r.elder_id = in.elder_id();
  r.call_id = in.call_id();
  r.action = in.action();
  r.ts = in.ts_ms();
  r.source = std::move(source).value();
  r.late_alarm = in.late_alarm();
  r.alarm_action = in.alarm_action();
  r.operator_id = in.operator_id();
  return r;
}

Result<InputRecord> from_routed(const vigil::v1::RoutedInput& in) {
  const auto topic = parse_in_topic(in.topic());
  if (!topic || *topic == InTopic::kClock || *topic == InTopic::kOrders) {
    return make_error(Errc::kInvalidInput,
                      "routed order record names no input topic: '" + in.topic() + "'");
  }
  if (in.format() != static_cast<int32_t>(codec::Format::kBinary) &&
      in.format() != static_cast<int32_t>(codec::Format::kJson)) {
    return make_error(Errc::kInvalidInput,
                      "routed order record has unknown format " + std::to_string(in.format()));
  }
  InputRecord r;
  r.topic = *topic;
  r.partition = in.partition();
  r.offset = in.offset();
  r.key = in.key();
  r.payload = in.payload();
  r.format = static_cast<codec::Format>(in.format());
  return r;
}

void RoutedPort::request_order(const dispatch::OrderRequest& request) {
  to_routed(request, msg_.mutable_request());
  sink_.emit(OutTopic::kOrders, region_key(elder_region_(request.elder_id)), msg_);
}

void RoutedPort::order_action(const dispatch::OrderActionRequest& request) {
  to_routed(request, msg_.mutable_action());
  sink_.emit(OutTopic::kOrders, region_key(elder_region_(request.elder_id)), msg_);
}

}  // namespace vigil::runtime
