#pragma once
// The restart bench's clock: the system clock moved by a fixed offset, so that the run's wall
// time is a chosen hour of a chosen day (the elders' time of day decides which rules fire: the
// night rules, the medication and meal times) while time still goes on as it does in
// production: timers fall due, the restarted engine sees the time that passed since the crash.
// steady_ns() is the system's monotonic clock, untouched.

#include "engine/core/clock.h"

namespace vigil::bench {

class ShiftedClock final : public Clock {
 public:
  //! A clock that reads `now` at the moment it is made, and runs on from there.
  explicit ShiftedClock(TimeMs now) : offset_(now - RealClock::instance().now_ms()) {}
  TimeMs now_ms() const override { return RealClock::instance().now_ms() + offset_; }
  int64_t steady_ns() const override { return RealClock::instance().steady_ns(); }

 private:
  const TimeMs offset_;
};

}  // namespace vigil::bench
