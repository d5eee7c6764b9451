#pragma once
// A hierarchical timer wheel for one shard: millions of timers, O(1) arm, amortised O(1) fire
// (a timer is cascaded at most once per level), fired in (due, arm order) order so that replay
// stays deterministic. A timer can be cancelled in O(1) by the handle arm() returned, so an
// owner that moves a deadline on every event (absence rules) holds one timer per deadline, not
// one per event. A timer also carries the generation of the state slot that armed it, so an
// owner may instead cancel lazily and ignore stale ones.
//
// Layout: 6 levels of 64 slots over 1 ms ticks (level k spans 64^(k+1) ms; the top level
// ~2.2 years), plus an overflow list beyond. A timer sits at the level of the highest 6-bit
// group in which its due time differs from the wheel's time, in the slot named by that group,
// so all timers of one due time share one FIFO list and cascading keeps their arm order. An
// occupancy bitmap per level finds the next non-empty slot in O(1), so advancing over empty
// time (hours in replay) costs nothing. Timers armed at or before the wheel's time go to a
// small (due, arm order) heap and fire first.
//
// Nodes are 32 bytes in one pool with a free list (a doubly linked list per slot, for cancel):
// no allocation per timer in steady state. The pool grows in chunks of kChunkNodes that never
// move: as one std::vector it doubled, and each doubling of a shard's few hundred thousand
// nodes copied megabytes into freshly faulted pages inside a single arm(), stalling every
// record behind it for milliseconds (bench/README.md, "Session 13").
// Owned and used by one thread.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/core/clock.h"
#include "engine/pipeline/stable_vector.h"

namespace vigil::pipeline {

//! A timer as the owner sees it when it fires.
struct WheelTimer {
  TimeMs due = 0;
  uint64_t generation = 0;
  uint32_t key = 0;     //!< owner-defined (the shard's elder index)
  uint16_t slot = 0;    //!< owner-defined (rule index)
  uint16_t kind = 0;    //!< owner-defined (the shard's rule-set epoch, wrapping)
  uint32_t handle = 0;  //!< what arm() returned; no longer valid once fired
};

class TimerWheel {
 public:
  static constexpr int kBits = 6;
  static constexpr int kSlots = 1 << kBits;
  static constexpr int kLevels = 6;

  static constexpr uint32_t kNil = std::numeric_limits<uint32_t>::max();
  //! Nodes per pool chunk (64 KiB): what the pool grows by at once.
  static constexpr size_t kChunkNodes = 2048;

  //! Arms a timer and returns its handle, valid until it fires or is cancelled. Due times at
  //! or before the wheel's time fire on the next pop_due().
  uint32_t arm(TimeMs due, uint16_t kind, uint16_t slot, uint64_t generation, uint32_t key) {
    const uint32_t n = alloc();
    Node& node = pool_[n];
    node = Node{due, generation, key, slot, kind, kNil, kNil};
    ++size_;
    if (!based_) {
      // A wheel never told its time starts at the first timer's, so that the timer is not
      // parked in overflow (time 0 is 56 years before it). Only then: an empty wheel that
      // re-based on every arm would jump to a far timer's due (a 12-hour absence) and park
      // every nearer timer armed after it in the overdue heap, O(log n) and growing by copies,
      // until that due.
      based_ = true;
      if (due > now_ + 1) now_ = due - 1;
    }
    if (due < now_) {
      node.prev = kInHeap;
      overdue_.push_back({due, next_seq_++, n});
      std::push_heap(overdue_.begin(), overdue_.end(), Later{});
    } else if (due == now_) {
      ready_.push(pool_, n);
    } else {
      place(n);
      if (min_valid_) min_cache_ = std::min(min_cache_, due);
    }
    return n;
  }

  //! Sets the time of a wheel that has neither armed nor popped yet (the owner's clock before
  //! it re-arms stored timers); later calls do nothing. Without it, the first pop_due() or
  //! arm() sets it. Timers due before it are overdue and fire on the next pop_due().
  void start_at(TimeMs now) {
    if (based_) return;
    based_ = true;
    now_ = now;
  }

  //! Cancels a timer by the handle arm() returned. The handle must be live (not yet fired or
  //! cancelled); the owner keeps track of that.
  void cancel(uint32_t handle) {
    Node& node = pool_[handle];
    --size_;
    if (node.prev == kInHeap) {  // the heap cannot unlink: dropped when it reaches the top
      node.prev = kDead;
      // ... or, once most of the heap is dead, all at once: an owner re-arming a past-due
      // timer on every event must not hold a node per event until the due times pass.
      if (++dead_ > kPurgeMin && 2 * dead_ > overdue_.size()) purge_dead();
      return;
    }
    if (node.due == now_ && !ready_.empty()) {
      ready_.unlink(pool_, handle);
    } else {
      const int level = level_of(node.due);
      const int index = level < kLevels ? index_of(node.due, level) : 0;
      List& list = level < kLevels ? slots_[level][index] : overflow_;
      list.unlink(pool_, handle);
      if (level < kLevels && list.empty()) occupied_[level] &= ~(uint64_t{1} << index);
      --wheel_count_;
      min_valid_ = false;
    }
    release(handle);
  }

  //! Pops the earliest timer due at or before `now` into `out` (ties in arm order). Returns
  //! false if none is due.
  bool pop_due(TimeMs now, WheelTimer* out) {
    based_ = true;
    drop_dead();
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
  TimeMs next_due() {
    drop_dead();
    TimeMs best = std::numeric_limits<TimeMs>::max();
    if (!overdue_.empty()) best = overdue_.front().due;
    if (!ready_.empty()) return std::min(best, now_);
    return std::min(best, wheel_min());
  }

  //! Armed timers (cancelled ones not counted).
  size_t size() const { return size_; }
  //! The wheel's time: every timer due at or before it has been handed to pop_due's queue.
  TimeMs now() const { return now_; }
  //! Bytes held by the pool (for benchmarks and memory figures).
  size_t pool_bytes() const { return pool_.capacity() * sizeof(Node); }
  //! Nodes in use (armed timers plus cancelled ones the overdue heap still holds).
  size_t nodes_in_use() const { return size_ + dead_; }
  //! Entries of the overdue heap (timers armed before the wheel's time, and cancelled ones it
  //! still holds): the timers not in the O(1) wheel.
  size_t overdue_size() const { return overdue_.size(); }

 private:
  static constexpr uint32_t kInHeap = kNil - 1;  //!< prev of a node in the overdue heap
  static constexpr uint32_t kDead = kNil - 2;    //!< ... cancelled there
  static constexpr size_t kPurgeMin = 64;        //!< dead heap nodes tolerated before a purge

  struct Node {
    TimeMs due;
    uint64_t generation;
    uint32_t key;
    uint16_t slot;
    uint16_t kind;
    uint32_t next;
    uint32_t prev;
  };
  static_assert(sizeof(Node) == 32);
  using Pool = StableVector<Node, kChunkNodes>;

  //! A FIFO list threaded through the pool.
  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
    bool empty() const { return head == kNil; }
    void push(Pool& pool, uint32_t n) {
      pool[n].next = kNil;
      pool[n].prev = tail;
      if (tail == kNil) head = n;
      else pool[tail].next = n;
      tail = n;
    }
    uint32_t pop(Pool& pool) {
      const uint32_t n = head;
      head = pool[n].next;
      if (head == kNil) tail = kNil;
      else pool[head].prev = kNil;
      return n;
    }
    void unlink(Pool& pool, uint32_t n) {
      const uint32_t p = pool[n].prev, x = pool[n].next;
      if (p == kNil) head = x;
      else pool[p].next = x;
      if (x == kNil) tail = p;
      else pool[x].prev = p;
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
    *out = WheelTimer{node.due, node.generation, node.key, node.slot, node.kind, n};
    release(n);
    --size_;
    return true;
  }

  void release(uint32_t n) {
    pool_[n].next = free_;
    free_ = n;
  }

  //! Frees cancelled timers at the top of the overdue heap.
  void drop_dead() {
    while (!overdue_.empty() && pool_[overdue_.front().node].prev == kDead) {
      std::pop_heap(overdue_.begin(), overdue_.end(), Later{});
      release(overdue_.back().node);
      overdue_.pop_back();
      --dead_;
    }
  }

  //! Frees every cancelled timer of the overdue heap and rebuilds it; (due, seq) keys are
  //! unique, so the fire order is unchanged. Amortised O(1) per cancel (run when half is dead).
  void purge_dead() {
    size_t w = 0;
    for (const Overdue& o : overdue_) {
      if (pool_[o.node].prev == kDead) release(o.node);
      else overdue_[w++] = o;
    }
    overdue_.resize(w);
    std::make_heap(overdue_.begin(), overdue_.end(), Later{});
    dead_ = 0;
  }

  static int index_of(TimeMs due, int level) {
    return static_cast<int>((static_cast<uint64_t>(due) >> (kBits * level)) & (kSlots - 1));
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
    const int index = index_of(due, level);
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

  Pool pool_;
  uint32_t free_ = kNil;
  std::array<std::array<List, kSlots>, kLevels> slots_{};
  std::array<uint64_t, kLevels> occupied_{};
  List overflow_;
  List ready_;                    //!< due == now_, in arm order
  std::vector<Overdue> overdue_;  //!< armed with due < now_, a (due, seq) min-heap
  TimeMs now_ = 0;
  bool based_ = false;  //!< now_ was set: by start_at, the first arm or the first pop_due
  uint64_t next_seq_ = 0;
  size_t size_ = 0;
  size_t dead_ = 0;         //!< cancelled nodes still in the overdue heap
  size_t wheel_count_ = 0;  //!< timers in slots and overflow
  mutable TimeMs min_cache_ = 0;
  mutable bool min_valid_ = false;
};

}  // namespace vigil::pipeline
