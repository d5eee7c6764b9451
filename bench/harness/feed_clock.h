#pragma once
// The engine's clock in the bench's live phases: wall time that follows the event time of the
// records fed so far, as it does in production, where devices stamp events with the time they
// happen and the engine keeps up. The workload is generated ahead of the run at one event per
// elder per 15 s of event time and fed much faster than that, so the real clock would be wrong
// either way: far behind the events (every timer a rule arms would look due at once, a
// catch-up storm after a months-long outage) or far ahead of them. Timers therefore fire when
// the feed has reached their due time, exactly as a live engine's do. Elapsed time (latency
// probes, the checkpoint interval) stays real: steady_ns() is the system's monotonic clock.

#include <atomic>

#include "engine/core/clock.h"

namespace vigil::bench {

class FeedClock final : public Clock {
 public:
  explicit FeedClock(TimeMs start) : now_(start) {}
  TimeMs now_ms() const override { return now_.load(std::memory_order_relaxed); }
  int64_t steady_ns() const override { return RealClock::instance().steady_ns(); }
  //! The feeder: the event time of the record it is about to hand over. Never moves back.
  void follow(TimeMs event_time) {
    if (event_time > now_.load(std::memory_order_relaxed)) {
      now_.store(event_time, std::memory_order_relaxed);
    }
  }

 private:
  std::atomic<TimeMs> now_;
};

}  // namespace vigil::bench
