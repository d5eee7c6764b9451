#pragma once
// The simulated world: elders in their homes, the devices installed there, and the service
// agencies of the district, drawn deterministically from SimOptions::seed.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/sim/sim_options.h"
#include "schemas/registry.pb.h"

namespace vigil::sim {

//! Agency service categories (SPEC: meal delivery ... emergency response).
inline constexpr std::string_view kEmergencyResponse = "emergency_response";
inline constexpr std::array<std::string_view, 7> kCategories = {
    "meal_delivery",  "bathing", "cleaning",        "nursing",
    "medical_escort", "repairs", kEmergencyResponse};

//! Device types installed in homes. Every elder's first device is a wearable.
inline constexpr std::array<std::string_view, 7> kDeviceTypes = {
    "wearable",      "sos_button",     "bed_sensor", "door_sensor",
    "motion_sensor", "smoke_detector", "water_meter"};

//! Every simulated elder lives in this time zone (UTC+8, no daylight saving time).
inline constexpr std::string_view kTimezone = "Asia/Shanghai";

//! Elders, devices and agencies as the registry describes them. Built once by
//! make_population(), then read-only: safe to share between threads.
struct Population {
  int devices_per_elder = 0;
  std::vector<vigil::v1::Elder> elders;     //!< ids "e0001", "e0002", ...
  std::vector<vigil::v1::Device> devices;   //!< grouped by elder, ids "<elder_id>-d1", ...
  std::vector<vigil::v1::Agency> agencies;  //!< ids "ag01", "ag02", ...

  //! The devices of elders[elder], the wearable first.
  std::span<const vigil::v1::Device> devices_of(size_t elder) const {
    return std::span(devices).subspan(elder * devices_per_elder, devices_per_elder);
  }

  //! Registry records for all of it, as (key, value): agencies keyed by agency_id first, then
  //! each elder followed by its devices, all keyed by elder_id.
  std::vector<std::pair<std::string, vigil::v1::RegistryUpdate>> registry_updates() const;
};

//! Draws the world of `options`: elders uniformly over the district disk, regions r1..r3 by
//! compass sector, agencies spread evenly over the disk (a Vogel spiral with jitter) so most
//! homes have one within 1 km, every third agency (ag01, ag04, ...) offering
//! emergency_response. The same options give the same population.
Population make_population(const SimOptions& options);

}  // namespace vigil::sim
