#pragma once
// The rule for buffers reused from one round to the next (a checkpoint's puts, an epoch's
// outputs): keep the capacity recent rounds needed, so that steady work allocates nothing, and
// give back what one burst took (a reload that dirtied every elder, reminders due for every
// elder at the same minute) once kRounds rounds in a row did not need it. Without it a buffer
// stays at the largest burst it ever held: the reload bench saw an epoch's outputs vectors
// double to ~0.3 MiB each at the first time of day that raised reminders for most elders, and
// keep it for good (bench/README.md, "Reload", session 18). One owner thread per instance.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace vigil {

class RecentUse {
 public:
  static constexpr uint32_t kRounds = 64;

  //! Ends a round that used `used` (elements, blocks, ...). Every kRounds rounds: the most any
  //! of them used, which is what the buffer should keep; nullopt in between.
  std::optional<size_t> end_round(size_t used) {
    most_ = std::max(most_, used);
    if (++rounds_ < kRounds) return std::nullopt;
    const size_t most = most_;
    most_ = 0;
    rounds_ = 0;
    return most;
  }
  //! Starts counting again (the buffer was given back).
  void reset() {
    most_ = 0;
    rounds_ = 0;
  }

 private:
  size_t most_ = 0;
  uint32_t rounds_ = 0;
};

//! Clears `v` at the end of a round (its size is the round's use), keeping its capacity unless
//! `use` says the last kRounds rounds needed less than half of it; then its capacity becomes
//! what they needed. Small vectors (kSlack elements) are never trimmed.
template <class T>
void clear_keeping_recent(std::vector<T>& v, RecentUse& use) {
  constexpr size_t kSlack = 64;
  const std::optional<size_t> keep = use.end_round(v.size());
  v.clear();
  if (keep && v.capacity() > 2 * *keep + kSlack) {
    std::vector<T> kept;
    kept.reserve(*keep);
    v.swap(kept);
  }
}

//! Clears `v` and gives its memory back.
template <class T>
void release_vector(std::vector<T>& v, RecentUse& use) {
  std::vector<T>().swap(v);
  use.reset();
}

}  // namespace vigil
