#pragma once
// Event-time timers of one owner (a shard or the dispatcher), fired in (due, arm order) order so
// that replay is deterministic. Cancelling is lazy: a timer carries the generation of the state
// slot that armed it, and the owner ignores a timer whose generation is stale.
// Timers are not persisted themselves: each owner's persisted state records its due times and
// re-arms them on load, so a timer survives restarts with the state that needs it.

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "engine/core/clock.h"

namespace vigil::pipeline {

//! What to do when a timer fires is the owner's business; the queue only orders them.
struct Timer {
  TimeMs due = 0;
  uint64_t seq = 0;       //!< arm order, breaks ties deterministically
  uint32_t kind = 0;      //!< owner-defined (e.g. rule timer, offer expiry)
  uint32_t slot = 0;      //!< owner-defined (e.g. rule index)
  uint64_t generation = 0;
  std::string key;        //!< owner-defined (e.g. elder_id, order_id)
};

//! A min-heap of timers. Owned and used by one thread.
class TimerQueue {
 public:
  void arm(TimeMs due, uint32_t kind, uint32_t slot, uint64_t generation, std::string key) {
    heap_.push(Timer{due, next_seq_++, kind, slot, generation, std::move(key)});
  }
  //! Pops the earliest timer due at or before `now` into `out`. Returns false if none is due.
  bool pop_due(TimeMs now, Timer* out) {
    if (heap_.empty() || heap_.top().due > now) return false;
    *out = heap_.top();
    heap_.pop();
    return true;
  }
  //! Due time of the earliest timer, or INT64_MAX.
  TimeMs next_due() const { return heap_.empty() ? INT64_MAX : heap_.top().due; }
  size_t size() const { return heap_.size(); }
  //! Removes the timers for which `drop(timer)` is true (an owner dropping state). O(n).
  template <class Drop>
  void remove_if(Drop&& drop) {
    std::vector<Timer> kept;
    kept.reserve(heap_.size());
    while (!heap_.empty()) {
      if (!drop(heap_.top())) kept.push_back(heap_.top());
      heap_.pop();
    }
    for (auto& t : kept) heap_.push(std::move(t));  // seq kept: the same firing order
  }

 private:
  struct Later {
    bool operator()(const Timer& a, const Timer& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };
  std::priority_queue<Timer, std::vector<Timer>, Later> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace vigil::pipeline
