#pragma once
// A hierarchical timer wheel for one shard: millions of timers, O(1) arm, amortised O(1) fire
// (a timer is cascaded at most once per level), fired in (due, arm order) order so that replay
// stays deterministic. Cancelling is lazy, as with TimerQueue: a timer carries the generation
// of the state slot that armed it and the owner ignores stale ones.
//
// Layout: 6 levels of 64 slots over 1 ms ticks (level k spans 64^(k+1) ms; the top level
// ~2.2 years), plus an overflow list beyond. A timer sits at the level of the highest 6-bit
// group in which its due time differs from the wheel's time, in the slot named by that group,
// so all timers of one due time share one FIFO list and cascading keeps their arm order. An
// occupancy bitmap per level finds the next non-empty slot in O(1), so advancing over empty
// time (hours in replay) costs nothing. Timers armed at or before the wheel's time go to a
// small (due, arm order) heap and fire first.
//
// Nodes are 32 bytes in one pool with a free list: no allocation per timer in steady state.
// Owned and used by one thread.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/core/clock.h"

namespace vigil::pipeline {

//! A timer as the owner sees it when it fires.
struct WheelTimer {
  TimeMs due = 0;
  uint64_t generation = 0;
  uint32_t key = 0;   //!< owner-defined (the shard's elder index)
  uint32_t slot = 0;  //!< owner-defined (rule index)
  uint32_t kind = 0;  //!< owner-defined (the shard's rule-set epoch)
};

class TimerWheel {
 public:
  static constexpr int kBits = 6;
  static constexpr int kSlots = 1 << kBits;
  static constexpr int kLevels = 6;

  //! Arms a timer. Due times at or before the wheel's time fire on the next pop_due().
  void arm(TimeMs due, uint32_t kind, uint32_t slot, uint64_t generation, uint32_t key) {
    const uint32_t n = alloc();
    Node& node = pool_[n];
    node = Node{due, generation, key, slot, kind, kNil};
    ++size_;
    if (wheel_count_ == 0 && ready_.empty() && due > now_ + 1) {
      now_ = due - 1;  // an empty wheel re-bases, so the first timer is not parked in overflow
    }
    if (due < now_) {
      overdue_.push_back({due, next_seq_++, n});
      std::push_heap(overdue_.begin(), overdue_.end(), Later{});
    } else if (due == now_) {
      ready_.push(pool_, n);
    } else {
      place(n);
      if (min_valid_) min_cache_ = std::min(min_cache_, due);
    }
  }

  //! Pops the earliest timer due at or before `now` into `out` (ties in arm order). Returns
  //! false if none is due.
  bool pop_due(TimeMs now, WheelTimer* out) {
    if (!overdue_.empty() && overdue_.front().due <= now) {
      std::pop_heap(overdue_.begin(), overdue_.end(), Later{});
      const uint32_t n = overdue_.back().node;
      overdue_.pop_back();
      return take(n, out);
    }
    if (ready_.empty() && now > now_) advance(now);
    if (!ready_.empty() && now_ <= now) return take(ready_.pop(pool_), out);
    return false;
  }

  //! Due time of the earliest timer, or INT64_MAX.
  TimeMs next_due() const {
    TimeMs best = std::numeric_limits<TimeMs>::max();
    if (!overdue_.empty()) best = overdue_.front().due;
    if (!ready_.empty()) return std::min(best, now_);
    return std::min(best, wheel_min());
  }

  size_t size() const { return size_; }
  //! The wheel's time: every timer due at or before it has been handed to pop_due's queue.
  TimeMs now() const { return now_; }
  //! Bytes held by the pool (for benchmarks and memory figures).
  size_t pool_bytes() const { return pool_.capacity() * sizeof(Node); }

 private:
  static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();

  struct Node {
    TimeMs due;
    uint64_t generation;
    uint32_t key;
    uint32_t slot;
    uint32_t kind;
    uint32_t next;
  };
  static_assert(sizeof(Node) == 32);

  //! A FIFO list threaded through the pool.
  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
    bool empty() const { return head == kNil; }
    void push(std::vector<Node>& pool, uint32_t n) {
      pool[n].next = kNil;
      if (tail == kNil) head = n;
      else pool[tail].next = n;
      tail = n;
    }
    uint32_t pop(std::vector<Node>& pool) {
      const uint32_t n = head;
      head = pool[n].next;
      if (head == kNil) tail = kNil;
      return n;
    }
  };

  struct Overdue {
    TimeMs due;
    uint64_t seq;
    uint32_t node;
  };
  struct Later {
    bool operator()(const Overdue& a, const Overdue& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };

  uint32_t alloc() {
    if (free_ != kNil) {
      const uint32_t n = free_;
      free_ = pool_[n].next;
      return n;
    }
    pool_.emplace_back();
    return static_cast<uint32_t>(pool_.size() - 1);
  }

  bool take(uint32_t n, WheelTimer* out) {
    const Node& node = pool_[n];
    *out = WheelTimer{node.due, node.generation, node.key, node.slot, node.kind};
    pool_[n].next = free_;
    free_ = n;
    --size_;
    return true;
  }

  //! Level of a due time relative to now_ (due > now_): its highest differing 6-bit group.
  int level_of(TimeMs due) const {
    const uint64_t diff = static_cast<uint64_t>(due) ^ static_cast<uint64_t>(now_);
    return (63 - std::countl_zero(diff)) / kBits;
  }

  //! Puts node n (due > now_) in its level's slot, or in overflow.
  void place(uint32_t n) {
    const TimeMs due = pool_[n].due;
    const int level = level_of(due);
    ++wheel_count_;
    if (level >= kLevels) {
      overflow_.push(pool_, n);
      return;
    }
    const int index = static_cast<int>((static_cast<uint64_t>(due) >> (kBits * level)) & (kSlots - 1));
    slots_[level][index].push(pool_, n);
    occupied_[level] |= uint64_t{1} << index;
  }

  //! Start of the earliest non-empty slot (exact due at level 0), its level (kLevels for
  //! overflow), or false when the wheel holds nothing.
  bool next_slot(TimeMs* start, int* level, int* index) const {
    for (int l = 0; l < kLevels; ++l) {
      if (occupied_[l] == 0) continue;
      const int i = std::countr_zero(occupied_[l]);
      const int up = kBits * (l + 1);
      const uint64_t base = (static_cast<uint64_t>(now_) >> up) << up;
      *start = static_cast<TimeMs>(base | (static_cast<uint64_t>(i) << (kBits * l)));
      *level = l;
      *index = i;
      return true;
    }
    if (!overflow_.empty()) {
      const int up = kBits * kLevels;
      *start = static_cast<TimeMs>(((static_cast<uint64_t>(now_) >> up) + 1) << up);
      *level = kLevels;
      *index = 0;
      return true;
    }
    return false;
  }

  //! Moves the wheel's time towards `target`, cascading slots, until a slot's timers are ready
  //! or target is reached.
  void advance(TimeMs target) {
    min_valid_ = false;
    TimeMs start;
    int level, index;
    while (ready_.empty()) {
      if (!next_slot(&start, &level, &index) || start > target) {
        now_ = std::max(now_, target);
        return;
      }
      List list;
      if (level < kLevels) {
        list = slots_[level][index];
        slots_[level][index] = List{};
        occupied_[level] &= ~(uint64_t{1} << index);
      } else {
        list = overflow_;
        overflow_ = List{};
      }
      now_ = start;
      while (!list.empty()) {
        const uint32_t n = list.pop(pool_);
        --wheel_count_;
        if (pool_[n].due == now_) ready_.push(pool_, n);
        else place(n);
      }
    }
  }

  //! Earliest due time among the slotted timers (scans one slot's list; cached until the
  //! wheel moves).
  TimeMs wheel_min() const {
    if (min_valid_) return min_cache_;
    TimeMs best = std::numeric_limits<TimeMs>::max();
    TimeMs start;
    int level, index;
    if (next_slot(&start, &level, &index)) {
      if (level == 0) {
        best = start;
      } else {
        const List& list = level < kLevels ? slots_[level][index] : overflow_;
        for (uint32_t n = list.head; n != kNil; n = pool_[n].next) best = std::min(best, pool_[n].due);
      }
    }
    min_cache_ = best;
    min_valid_ = true;
    return best;
  }

  std::vector<Node> pool_;
  uint32_t free_ = kNil;
  std::array<std::array<List, kSlots>, kLevels> slots_{};
  std::array<uint64_t, kLevels> occupied_{};
  List overflow_;
  List ready_;                    //!< due == now_, in arm order
  std::vector<Overdue> overdue_;  //!< armed with due < now_, a (due, seq) min-heap
  TimeMs now_ = 0;
  uint64_t next_seq_ = 0;
  size_t size_ = 0;
  size_t wheel_count_ = 0;  //!< timers in slots and overflow
  mutable TimeMs min_cache_ = 0;
  mutable bool min_valid_ = false;
};

}  // namespace vigil::pipeline
