#pragma once
// Answer waits counted per whole second, sparse: one (second, count) entry per distinct second
// seen, so memory follows the number of distinct waits, not the 3,601 seconds of an hour. Waits
// of an hour or more count as one hour (3,600 s). A value type, used by one thread at a time.

#include <cstdint>
#include <utility>
#include <vector>

#include "engine/core/clock.h"

namespace vigil::alarm {

class WaitHistogram {
 public:
  static constexpr TimeMs kMaxSecond = 3600;  //!< longer waits count as this

  //! Counts `wait` (ms) in its whole second; negative waits count as 0 s.
  void add(TimeMs wait);
  void merge(const WaitHistogram& o);
  //! Nearest rank: the smallest second with at least q of the waits at or below it; 0 if empty.
  double quantile(double q) const;
  bool empty() const { return counts_.empty(); }
  //! Heap bytes held by the entries (for the memory figures in tests and benches).
  size_t heap_bytes() const { return counts_.capacity() * sizeof(Entry); }

 private:
  using Entry = std::pair<uint16_t, uint32_t>;  // (second, answers); ascending seconds
  std::vector<Entry> counts_;
};

}  // namespace vigil::alarm
