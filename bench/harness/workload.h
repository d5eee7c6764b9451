#pragma once
// The standard bench workload (bench/README.md): the simulator's population (100,000 elders with
// 4 devices each by default), its event mix (dominated by vitals, motion and heartbeats, with
// rare sos, falls and service requests), pre-encoded as Protobuf input records so that encoding
// is not measured. Probe records (sos of a few dedicated elders) are mixed in at a fixed
// interval: each one makes the engine emit an alarm repeat, which times ingest-to-output.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/codec/record.h"
#include "engine/core/clock.h"

namespace vigil::bench {

struct WorkloadOptions {
  int elders = 100'000;
  int devices_per_elder = 4;
  uint64_t events = 4'000'000;       //!< records to pre-generate (probes included)
  double event_rate_per_elder_hz = 1.0 / 15;  //!< event time: one event per elder per 15 s
  uint64_t seed = 42;
  uint32_t probe_every = 997;        //!< one probe per this many records (prime: no aliasing)
  uint32_t probe_elders = 64;
  //! Agencies; 0 = one per 500 elders (at least 12). The simulator's set-up is O(elders x
  //! agencies), so the restart bench caps it (dispatch is not what it measures).
  int agencies = 0;
  int64_t start_ms = 1'767'225'600'000;  //!< event time of the first record (2026-01-01T00:00:00Z)
};

struct Workload {
  std::vector<InputRecord> registry;  //!< elders, devices, agencies
  std::vector<InputRecord> events;    //!< telemetry and calls, in event-time order
  //! For each record of `events`: the probe's (elder index, sequence) or -1 for ordinary records.
  std::vector<int64_t> probe_id;
  //! For each record of `events`: its event time (the engine's clock follows it, feed_clock.h).
  std::vector<int64_t> event_ms;
  uint64_t probes = 0;
  uint64_t payload_bytes = 0;
};

//! The standard workload's day, 2026-01-01, at `hour` (0-23) in Asia/Shanghai, where the
//! simulator's elders live: every workload's event time starts there (`--start-hour`).
//! start_ms's default, 2026-01-01T00:00:00Z, is 08:00 there.
inline TimeMs start_at_hour(int hour) { return WorkloadOptions{}.start_ms + (hour - 8) * kHour; }

//! Builds the workload (deterministic for a seed). Takes a few seconds for millions of records.
Workload make_workload(const WorkloadOptions& options);

//! The probe elders' ids ("bench-probe-0", ...).
std::string probe_elder(uint32_t i);

}  // namespace vigil::bench
