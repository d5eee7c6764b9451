#include "engine/runtime/shard_core.h"

#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/pipeline/shard_router.h"

namespace vigil::runtime {

void emit_deadletter(egress::Sink& sink, const InputRecord& rec, const std::string& reason,
                     TimeMs now) {
  vigil::v1::DeadLetter dl;
  dl.set_topic(std::string(name(rec.topic)));
  dl.set_partition(rec.partition);
  dl.set_offset(rec.offset);
  dl.set_payload(rec.payload);
  dl.set_reason(reason);
  set_ts(dl.mutable_ts(), now);
  metrics().deadletters.add();
  sink.emit(OutTopic::kDeadletter, rec.key, dl);
}

ShardCore::ShardCore(uint32_t index, uint32_t shards, std::shared_ptr<const rules::RuleSet> rules,
                     egress::Sink& sink, dispatch::DispatchPort& dispatch)
    : index_(index),
      shards_(shards),
      engine_(std::move(rules)),
      sink_(sink),
      dispatch_(dispatch),
      alarms_(sink, dispatch) {}

registry::ElderState& ShardCore::elder_for(const std::string& elder_id) {
  auto [it, inserted] = elders_.try_emplace(elder_id);
  if (inserted) {
    it->second.profile.set_elder_id(elder_id);
    it->second.slots.resize(engine_.rules().rules().size());
  }
  return it->second;
}

const registry::ElderState* ShardCore::elder(const std::string& id) const {
  auto it = elders_.find(id);
  return it == elders_.end() ? nullptr : &it->second;
}

void ShardCore::process(const InputRecord& rec, TimeMs now) {
  metrics().events_in.add();
  switch (rec.topic) {
    case InTopic::kTelemetry: on_telemetry(rec, now); break;
    case InTopic::kCalls: on_call(rec, now); break;
    case InTopic::kRegistry: on_registry(rec, now); break;
    default:
      emit_deadletter(sink_, rec, std::string("shard cannot take topic ") + std::string(name(rec.topic)), now);
  }
}

bool ShardCore::key_matches(const InputRecord& rec, const std::string& elder_id, TimeMs now) {
  // Inputs are keyed by elder_id (SPEC section 3); a record under another key may sit on another
  // shard than its elder's state, so it is refused rather than applied out of order.
  if (rec.key == elder_id) return true;
  emit_deadletter(sink_, rec, "record key '" + rec.key + "' is not its elder_id '" + elder_id + "'", now);
  return false;
}

void ShardCore::on_telemetry(const InputRecord& rec, TimeMs now) {
  if (auto s = codec::decode(rec.payload, rec.format, &event_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (auto s = codec::validate(event_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (!key_matches(rec, event_.elder_id(), now)) return;
  registry::ElderState& e = elder_for(event_.elder_id());
  const bool was_dirty = e.dirty;
  engine_.on_event(e, event_, to_ms(event_.ts()), *this);
  if (e.dirty && !was_dirty) dirty_.push_back(event_.elder_id());
}

void ShardCore::on_call(const InputRecord& rec, TimeMs now) {
  if (auto s = codec::decode(rec.payload, rec.format, &call_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (auto s = codec::validate(call_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (!key_matches(rec, call_.elder_id(), now)) return;
  const TimeMs ts = to_ms(call_.ts());
  registry::ElderState& e = elder_for(call_.elder_id());
  const bool was_dirty = e.dirty;
  switch (call_.action_case()) {
    case vigil::v1::CallEvent::kServiceRequest: {
      const auto& sr = call_.service_request();
      if (sr.category().empty()) {
        emit_deadletter(sink_, rec, "ServiceRequest lacks category", now);
        break;
      }
      dispatch::OrderRequest req;
      req.order_id = call_.call_id();
      req.elder_id = call_.elder_id();
      req.category = sr.category();
      req.priority = sr.priority();
      req.has_location = e.registered;
      req.lat = e.profile.home_lat();
      req.lon = e.profile.home_lon();
      req.created = ts;
      req.window_start = sr.has_window_start() ? to_ms(sr.window_start()) : ts;
      req.window_end = sr.has_window_end() ? to_ms(sr.window_end()) : 0;
      dispatch_.request_order(req);
      break;
    }
    case vigil::v1::CallEvent::kAlarmAction:
      if (auto s = alarms_.operator_action(e, call_.alarm_action(), call_.operator_id(), ts); !s) {
        emit_deadletter(sink_, rec, s.error().message, now);
      }
      break;
    case vigil::v1::CallEvent::kOrderAction:
      dispatch_.order_action({call_.elder_id(), call_.call_id(), call_.order_action(), ts, rec});
      break;
    case vigil::v1::CallEvent::ACTION_NOT_SET:
      break;  // validate() rejected it
  }
  if (e.dirty && !was_dirty) dirty_.push_back(call_.elder_id());
}

void ShardCore::on_registry(const InputRecord& rec, TimeMs now) {
  if (auto s = codec::decode(rec.payload, rec.format, &registry_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  if (auto s = codec::validate(registry_); !s) {
    emit_deadletter(sink_, rec, s.error().message, now);
    return;
  }
  const std::string& id = registry_.has_elder() ? registry_.elder().elder_id()
                                                : registry_.device().elder_id();
  if (!key_matches(rec, id, now)) return;
  registry::ElderState& e = elder_for(id);
  const bool was_dirty = e.dirty;
  if (registry_.has_elder()) {
    registry::apply_profile(e, registry_.elder());
    engine_.on_profile(e, now, *this);  // care-plan timers follow the profile's times
  } else if (registry_.has_device()) registry::apply_device(e, registry_.device());
  if (!was_dirty) dirty_.push_back(id);
}

void ShardCore::advance_to(TimeMs now) {
  pipeline::Timer t;
  while (timers_.pop_due(now, &t)) {
    auto it = elders_.find(t.key);
    if (it == elders_.end()) continue;
    registry::ElderState& e = it->second;
    const bool was_dirty = e.dirty;
    metrics().timers_fired.add();
    engine_.on_timer(e, t.slot, t.generation, now, *this);
    if (e.dirty && !was_dirty) dirty_.push_back(t.key);
  }
}

void ShardCore::raise(registry::ElderState& e, uint32_t rule, std::string_view device_id, TimeMs ts,
                      const std::string& message) {
  alarms_.raise(e, engine_.rules().rules()[rule], device_id, ts, message);
}

void ShardCore::raise_with(registry::ElderState& e, uint32_t rule, vigil::v1::Severity severity,
                           std::string_view device_id, TimeMs ts, const std::string& message) {
  alarms_.raise(e, engine_.rules().with_severity(rule, severity), device_id, ts, message);
}

void ShardCore::remind(const registry::ElderState& e, uint32_t /*rule*/, std::string_view kind,
                       TimeMs ts, const std::string& message) {
  vigil::v1::Reminder r;
  r.set_elder_id(e.profile.elder_id());
  r.set_kind(std::string(kind));
  set_ts(r.mutable_ts(), ts);
  r.set_message(message);
  sink_.emit(OutTopic::kReminders, e.profile.elder_id(), r);
}

void ShardCore::clear(registry::ElderState& e, uint32_t rule, TimeMs ts, std::string_view reason) {
  alarms_.auto_clear(e, engine_.rules().rules()[rule].id, ts, reason);
}

bool ShardCore::active(const registry::ElderState& e, uint32_t rule) const {
  return alarm::AlarmBook::active(e, engine_.rules().rules()[rule].id) != nullptr;
}

void ShardCore::arm(const registry::ElderState& e, uint32_t rule, TimeMs due, uint64_t generation) {
  timers_.arm(due, 0, rule, generation, e.profile.elder_id());
}

void ShardCore::collect_dirty(state::StateOps& ops) {
  const auto& ids = engine_.rules().ids();
  for (const auto& id : dirty_) {
    auto it = elders_.find(id);
    if (it == elders_.end() || !it->second.dirty) continue;
    ops.put("e/" + id, registry::to_record(it->second, ids).SerializeAsString());
    it->second.dirty = false;
  }
  dirty_.clear();
}

Status ShardCore::load(const state::StateStore& store) {
  const auto& ids = engine_.rules().ids();
  size_t corrupt = 0;
  auto s = store.scan("e/", [&](std::string_view key, std::string_view value) {
    if (pipeline::shard_of(key, shards_) != index_) return;
    vigil::state::ElderRecord r;
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      ++corrupt;
      return;
    }
    auto& e = elders_[std::string(key)] = registry::from_record(r, ids);
    e.profile.set_elder_id(std::string(key));
    engine_.rearm(e, *this);
  });
  if (corrupt) log::error("shard", "skipped ", corrupt, " unreadable elder records");
  return s;
}

}  // namespace vigil::runtime
