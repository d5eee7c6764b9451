#include "engine/runtime/dispatch_core.h"

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/runtime/shard_core.h"

namespace vigil::runtime {

void DispatchCore::process(const InputRecord& rec, TimeMs now) {
  metrics().events_in.add();
  now_ = std::max(now_, now);
  if (rec.topic == InTopic::kRegistry) {
    if (auto s = codec::decode(rec.payload, rec.format, &registry_); !s) {
      emit_deadletter(sink_, rec, s.error().message, now);
    } else if (auto v = codec::validate(registry_); !v) {
      emit_deadletter(sink_, rec, v.error().message, now);
    } else if (registry_.has_agency()) {
      dispatcher_.upsert_agency(registry_.agency());
    }
    return;
  }
  if (rec.topic != InTopic::kAgency) {
    emit_deadletter(sink_, rec, "dispatcher cannot take topic " + std::string(name(rec.topic)), now);
    return;
  }
  if (auto s = codec::decode(rec.payload, rec.format, &update_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (auto s = codec::validate(update_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (auto s = dispatcher_.on_agency_update(update_, to_ms(update_.ts())); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
  }
}

void DispatchCore::request_order(const dispatch::OrderRequest& request) {
  dispatcher_.create_order(request, std::max(now_, request.created));
}

void DispatchCore::order_action(const dispatch::OrderActionRequest& request) {
  auto s = request.late_alarm ? dispatcher_.on_late_alarm_action(request, request.ts)
                              : dispatcher_.on_order_action(request, request.ts);
  if (!s) {
    emit_deadletter(sink_, request.source, s.error().message, now_);
  }
}

}  // namespace vigil::runtime
