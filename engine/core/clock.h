#pragma once
// The one way to read the time. RealClock is the only place in vigil that reads the system
// clock; replay and tests run on SimClock, which moves only when told to.

#include <atomic>
#include <cstdint>

namespace vigil {

//! Milliseconds since the Unix epoch, UTC. Engine time everywhere (event time and timers).
using TimeMs = int64_t;

inline constexpr TimeMs kSecond = 1000;
inline constexpr TimeMs kMinute = 60 * kSecond;
inline constexpr TimeMs kHour = 60 * kMinute;

//! A source of wall time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  //! Wall time now, in ms since the epoch.
  virtual TimeMs now_ms() const = 0;
  //! A monotonic reading in ns for measuring latency; unrelated to the epoch.
  virtual int64_t steady_ns() const = 0;
};

//! The system clock.
class RealClock final : public Clock {
 public:
  TimeMs now_ms() const override;
  int64_t steady_ns() const override;
  //! A process-wide instance.
  static const RealClock& instance();
};

//! A clock that tests and replay move by hand.
class SimClock final : public Clock {
 public:
  explicit SimClock(TimeMs start = 0) : now_(start) {}
  TimeMs now_ms() const override { return now_.load(std::memory_order_acquire); }
  int64_t steady_ns() const override { return now_ms() * 1'000'000; }
  void set(TimeMs t) { now_.store(t, std::memory_order_release); }
  void advance(TimeMs d) { now_.fetch_add(d, std::memory_order_acq_rel); }

 private:
  std::atomic<TimeMs> now_;
};

}  // namespace vigil
