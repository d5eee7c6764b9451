#pragma once
// Shared pieces of the micro benchmarks: a sink and a dispatch port that only count, and
// pre-encoded telemetry, so a benchmark measures the engine and not its neighbours.

#include <string>
#include <vector>

#include "engine/codec/record.h"
#include "engine/core/time_util.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::bench {

inline constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z (16:00 in Shanghai)

class CountingSink final : public egress::Sink {
 public:
  void emit(OutTopic, std::string_view, const google::protobuf::Message&) override { ++records; }
  Status flush(int) override { return ok(); }
  uint64_t records = 0;
};

class NullPort final : public dispatch::DispatchPort {
 public:
  void request_order(const dispatch::OrderRequest&) override { ++orders; }
  void order_action(const dispatch::OrderActionRequest&) override {}
  uint64_t orders = 0;
};

inline std::string elder_id(uint32_t i) { return "e" + std::to_string(i); }

inline InputRecord registry_record(uint32_t i) {
  vigil::v1::RegistryUpdate u;
  auto* e = u.mutable_elder();
  e->set_elder_id(elder_id(i));
  e->set_home_lat(31.23);
  e->set_home_lon(121.47);
  e->add_medication_times("08:00");
  e->add_medication_times("20:00");
  e->set_meal_service(true);
  InputRecord r;
  r.topic = InTopic::kRegistry;
  r.key = elder_id(i);
  r.payload = u.SerializeAsString();
  return r;
}

//! A telemetry record of `type` for elder i at ts, with a value that exercises the rule.
inline InputRecord event_record(uint32_t i, const std::string& type, double value, double value2,
                                TimeMs ts) {
  vigil::v1::DeviceEvent ev;
  ev.set_event_id(elder_id(i) + "-" + std::to_string(ts));
  ev.set_device_id(elder_id(i) + "-" + type);
  ev.set_elder_id(elder_id(i));
  ev.set_type(type);
  ev.set_value(value);
  ev.set_value2(value2);
  ev.set_lat(31.23);
  ev.set_lon(121.47);
  set_ts(ev.mutable_ts(), ts);
  InputRecord r;
  r.topic = InTopic::kTelemetry;
  r.key = elder_id(i);
  r.payload = ev.SerializeAsString();
  return r;
}

}  // namespace vigil::bench
