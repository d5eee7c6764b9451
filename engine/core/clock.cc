#include "engine/core/clock.h"

#include <chrono>

namespace vigil {

TimeMs RealClock::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t RealClock::steady_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const RealClock& RealClock::instance() {
  static const RealClock clock;
  return clock;
}

}  // namespace vigil
