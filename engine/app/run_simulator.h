#pragma once
// The load generator against brokers (`vigil simulate`, and the simulated world of `vigil demo`):
// registers the population, produces telemetry and calls in real time at --rate, and plays the
// agencies: reads offers from `dispatch` and answers on `agency` as the sim's agencies decide.

#include <atomic>
#include <iosfwd>

#include "engine/app/options.h"

namespace vigil::app {

int run_simulator(const Settings& settings, std::atomic<bool>& stop, std::ostream& out);

}  // namespace vigil::app
