#pragma once
// Dispatch settings (SPEC section 4), all overridable from the config file.

#include <map>
#include <string>

#include "engine/core/clock.h"

namespace vigil::dispatch {

//! Where a shard's order work goes (docs/design.md, "Several instances").
enum class Routing : uint8_t {
  kLocal,  //!< this instance's dispatcher, directly (replay; one instance)
  kKafka,  //!< the region owner's dispatcher, through the internal `orders` topic
};

struct DispatchConfig {
  Routing routing = Routing::kLocal;  //!< `dispatch.routing: local|kafka`; replay ignores it
  double service_circle_min = 15;  //!< the service circle, in minutes of travel
  double walking_kmh = 4;          //!< default speed: 15 min at 4 km/h = 1 km
  std::map<std::string, double> category_kmh = {{"emergency_response", 40}};  //!< vehicles
  TimeMs offer_timeout_emergency = 45 * kSecond;
  TimeMs offer_timeout = 10 * kMinute;
  int offers_per_candidate = 2;  //!< then ESCALATED
  int max_candidates = 10;       //!< the best-scored agencies an order may go to
  double weight_distance = 0.5;  //!< score = wd*d/radius + wl*load/cap + wr*(5-rating)/5
  double weight_load = 0.3;
  double weight_rating = 0.2;
  //! Task partitions (docs/design.md, "State that moves with its partition"): when > 0 the
  //! dispatcher's state is owned per task, the task of a region being
  //! state::task_of(region_key(region), task_partitions) (its `orders` partition). 0: off.
  int32_t task_partitions = 0;
  //! An ended order (COMPLETED, RATED, CANCELLED, ESCALATED, FAILED) is closed this long after
  //! its last transition (engine/dispatch/README.md, "Closed orders"): a RATE or CANCEL is
  //! refused from then on, and the dispatcher keeps only its id. `dispatch.closed_after_days`.
  TimeMs closed_after = 7 * 24 * kHour;

  double radius_km(const std::string& category) const {
    auto it = category_kmh.find(category);
    double kmh = it == category_kmh.end() ? walking_kmh : it->second;
    return kmh * service_circle_min / 60.0;
  }
};

}  // namespace vigil::dispatch
