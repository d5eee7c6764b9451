#include "engine/runtime/dispatch_core.h"

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/runtime/shard_core.h"

namespace vigil::runtime {

void DispatchCore::process(const InputRecord& rec, TimeMs now) {
  now_ = std::max(now_, now);
  const bool tasks = dispatcher_.task_partitions() > 0;
  if (tasks) sink_.set_task(rec.partition);
  in_record_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{in_record_};
  if (rec.topic == InTopic::kOrders) {  // internal: its inputs were counted where they were read
    apply_routed(rec, now);
    return;
  }
  metrics().events_in.add();
  if (routed_) {
    forward(rec, now);
  } else {
    apply(rec, now);
  }
}

void DispatchCore::apply(const InputRecord& rec, TimeMs now) {
  if (rec.topic == InTopic::kRegistry) {
    if (decode_valid(rec, &registry_, sink_, now) && registry_.has_agency()) {
      dispatcher_.upsert_agency(registry_.agency());
    }
    return;
  }
  if (rec.topic != InTopic::kAgency) {
    emit_deadletter(sink_, rec, "dispatcher cannot take topic " + std::string(name(rec.topic)),
                    now);
    return;
  }
  if (!decode_valid(rec, &update_, sink_, now)) return;
  if (auto s = dispatcher_.on_agency_update(update_, to_ms(update_.ts())); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
  }
}

void DispatchCore::request_order(const dispatch::OrderRequest& request) {
  if (!in_record_ && dispatcher_.task_partitions() > 0) {
    sink_.set_task(dispatcher_.task_of_region(request.region));  // from a shard's ring
  }
  dispatcher_.create_order(request, std::max(now_, request.created));
}

void DispatchCore::order_action(const dispatch::OrderActionRequest& request) {
  if (!in_record_ && dispatcher_.task_partitions() > 0) {
    const std::string order_id = request.late_alarm ? std::string() : request.action.order_id();
    int32_t task = order_id.empty() ? -1 : dispatcher_.task_of_order(order_id);
    if (request.late_alarm) {  // <elder>:order_late:<order>
      const auto at = request.alarm_action.alarm_id().find(":order_late:");
      if (at != std::string::npos) {
        task = dispatcher_.task_of_order(request.alarm_action.alarm_id().substr(at + 12));
      }
    }
    sink_.set_task(task);
  }
  auto s = request.late_alarm ? dispatcher_.on_late_alarm_action(request, request.ts)
                              : dispatcher_.on_order_action(request, request.ts);
  if (!s) {
    emit_deadletter(sink_, request.source, s.error().message, now_);
  }
}

void DispatchCore::forward(const InputRecord& rec, TimeMs now) {
  std::string region;
  if (rec.topic == InTopic::kRegistry) {
    if (!decode_valid(rec, &registry_, sink_, now)) return;
    if (!registry_.has_agency()) {
      emit_deadletter(sink_, rec, "dispatcher cannot take a registry record without an agency",
                      now);
      return;
    }
    region = registry_.agency().region();
  } else if (rec.topic == InTopic::kAgency) {
    if (!decode_valid(rec, &update_, sink_, now)) return;
    std::optional<std::string> found;
    if (agency_region_) found = agency_region_(update_.agency_id());
    if (!found) {
      emit_deadletter(sink_, rec,
                      "agency '" + update_.agency_id() +
                          "' is not in the registry: its region's dispatcher cannot be found",
                      now);
      return;
    }
    region = *found;
  } else {
    emit_deadletter(sink_, rec, "dispatcher cannot take topic " + std::string(name(rec.topic)),
                    now);
    return;
  }
  to_routed(rec, routed_msg_.mutable_input());
  sink_.emit(OutTopic::kOrders, region_key(region), routed_msg_);
}

void DispatchCore::apply_routed(const InputRecord& rec, TimeMs now) {
  if (auto s = codec::decode(rec.payload, rec.format, &routed_msg_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  switch (routed_msg_.body_case()) {
    case vigil::v1::RoutedOrder::kRequest:
      advance_to(now);  // timers due before it first, as the ring path does
      if (dispatcher_.task_partitions() > 0) sink_.set_task(rec.partition);  // timers set theirs
      request_order(from_routed(routed_msg_.request()));
      return;
    case vigil::v1::RoutedOrder::kAction: {
      auto action = from_routed(routed_msg_.action());
      if (!action) {
        emit_deadletter(sink_, rec, action.error().message, now);
        return;
      }
      order_action(action.value());
      return;
    }
    case vigil::v1::RoutedOrder::kInput: {
      auto input = from_routed(routed_msg_.input());
      if (!input) {
        emit_deadletter(sink_, rec, input.error().message, now);
        return;
      }
      apply(input.value(), now);  // its deadletters cite the record as it was first read
      return;
    }
    case vigil::v1::RoutedOrder::BODY_NOT_SET:
      break;
  }
  emit_deadletter(sink_, rec, "routed order record without a request, action or input", now);
}

}  // namespace vigil::runtime
