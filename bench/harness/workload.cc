#include "bench/harness/workload.h"

#include "engine/core/time_util.h"
#include "engine/sim/population.h"
#include "engine/sim/telemetry_gen.h"

namespace vigil::bench {

std::string probe_elder(uint32_t i) { return "bench-probe-" + std::to_string(i); }

namespace {
void add(std::vector<InputRecord>& out, InTopic topic, const std::string& key,
         const google::protobuf::Message& msg, uint64_t* bytes) {
  InputRecord& r = out.emplace_back();
  r.topic = topic;
  r.key = key;
  msg.SerializeToString(&r.payload);
  r.format = codec::Format::kBinary;
  r.offset = static_cast<int64_t>(out.size() - 1);
  *bytes += r.payload.size();
}
}  // namespace

Workload make_workload(const WorkloadOptions& o) {
  Workload w;
  sim::SimOptions so;
  so.elders = o.elders;
  so.devices_per_elder = o.devices_per_elder;
  so.seed = o.seed;
  so.events_per_s = o.elders * o.event_rate_per_elder_hz;
  so.agencies = o.agencies > 0 ? o.agencies : std::max(12, o.elders / 500);
  so.district_radius_km = std::max(3.0, std::sqrt(o.elders / 200.0) * 0.6);
  const sim::Population pop = sim::make_population(so);
  for (const auto& [key, update] : pop.registry_updates()) {
    add(w.registry, InTopic::kRegistry, key, update, &w.payload_bytes);
  }
  for (uint32_t i = 0; i < o.probe_elders; ++i) {
    vigil::v1::RegistryUpdate u;
    u.mutable_elder()->set_elder_id(probe_elder(i));
    add(w.registry, InTopic::kRegistry, probe_elder(i), u, &w.payload_bytes);
  }

  sim::TelemetryGenerator gen(pop, so);
  const TimeMs start = o.start_ms;
  std::vector<sim::SimRecord> batch;
  TimeMs t = start;
  vigil::v1::DeviceEvent probe;
  probe.set_type("sos");
  uint64_t since_probe = 0;
  w.events.reserve(o.events);
  w.probe_id.reserve(o.events);
  w.event_ms.reserve(o.events);
  while (w.events.size() < o.events) {
    batch.clear();
    gen.generate(t, t + kSecond, batch);
    t += kSecond;
    for (const auto& r : batch) {
      if (w.events.size() >= o.events) break;
      if (++since_probe >= o.probe_every) {
        since_probe = 0;
        const uint32_t p = static_cast<uint32_t>(w.probes % o.probe_elders);
        probe.set_elder_id(probe_elder(p));
        probe.set_device_id(probe_elder(p) + "-button");
        set_ts(probe.mutable_ts(), r.ts);
        add(w.events, InTopic::kTelemetry, probe.elder_id(), probe, &w.payload_bytes);
        w.probe_id.push_back(static_cast<int64_t>(w.probes++));
        w.event_ms.push_back(r.ts);
        continue;
      }
      add(w.events, r.topic, r.key, r.proto(), &w.payload_bytes);
      w.probe_id.push_back(-1);
      w.event_ms.push_back(r.ts);
    }
  }
  return w;
}

}  // namespace vigil::bench
