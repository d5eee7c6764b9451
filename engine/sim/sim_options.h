#pragma once
// What the simulator simulates: how many elders and devices, how busy they are, where they
// live, and how often something goes wrong. Plain data; copied into each simulator part.

#include <cstdint>

namespace vigil::sim {

//! Knobs of the simulated world. The defaults are the `vigil demo` world: 200 elders in a 3 km
//! district of central Shanghai, 200 events/s, and rare events frequent enough that a 60 s demo
//! shows about 3 sos alarms, 2 falls and 3 service requests.
struct SimOptions {
  int elders = 200;
  int devices_per_elder = 4;  //!< at least 1: the first device of every elder is a wearable
  double events_per_s = 200;  //!< all records together (routine and rare), in event time
  uint64_t seed = 42;

  double center_lat = 31.2304;  //!< Shanghai, People's Square
  double center_lon = 121.4737;
  double district_radius_km = 3;
  int agencies = 12;

  // Rare events, per elder per hour of event time. Far above real life so that demos show them:
  // 200 elders * 0.9 / h = 3 per minute.
  double sos_per_elder_per_hour = 0.9;
  double fall_per_elder_per_hour = 0.6;
  double service_request_per_elder_per_hour = 0.9;
  //! smoke, gas, co and water_leak together: extremely rare (200 elders: 2 per hour).
  double hazard_per_elder_per_hour = 0.01;

  //! Agency simulator: multiplies every answer, travel and service delay (< 1 speeds up demos).
  double time_scale = 1;
  //! The elder's side of an everyday order: the share cancelled by phone before the agency sets
  //! out, and the share of finished visits the elder rates afterwards (by the phone survey).
  double elder_cancel_p = 0.02;
  double elder_rate_p = 0.6;
};

}  // namespace vigil::sim
