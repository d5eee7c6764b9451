#pragma once
// Where a consumer thread sleeps when its rings are empty, and how a producer wakes it: a futex
// word and the Dekker handshake of an event count (folly's EventCount, Vyukov's).
//
// Why not spin or poll: on a machine with fewer cores than threads (the 2-core reference box runs
// feeder, two shards, dispatcher, commit and RocksDB's threads), a consumer that spins with
// sched_yield hands its core to whoever is runnable and takes it back a few microseconds later,
// tens of thousands of times a second (the bench's paced phase showed the dispatcher at 21% of a
// core doing nothing else), and a consumer that polls with a fixed sleep adds that sleep to the
// latency of the first record after a pause. Parked, it costs nothing, and a producer wakes it
// within one futex wake-up of the record.
//
// The protocol (no record is ever left in a ring with its consumer asleep):
//   consumer: state = parked; full fence; if (rings still empty) futex_wait(state == parked)
//   producer: publish the slot; full fence; if (state == parked) state = awake, futex_wake
// Either the consumer's re-check sees the record, or the producer sees `parked` and wakes it.
// The wait has a timeout, so a parked consumer still does its time-driven work (timers) on time.

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace vigil::pipeline {

class Parker {
 public:
  //! Producer, after publishing: wakes the consumer if it is parked or about to park. One fence
  //! and one load when it is awake; one futex wake (by whichever producer gets there first) when
  //! it is not.
  void notify() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (state_.load(std::memory_order_relaxed) == kParked &&
        state_.exchange(kAwake, std::memory_order_relaxed) == kParked) {
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr,
              nullptr, 0);
    }
  }

  //! Consumer: sleeps until a notify() or `timeout_ns`, unless `has_work()`, asked after the
  //! consumer announced itself parked, finds something to do.
  template <class HasWork>
  void park(HasWork&& has_work, int64_t timeout_ns) {
    state_.store(kParked, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!has_work()) {
      timespec t{static_cast<time_t>(timeout_ns / 1'000'000'000),
                 static_cast<long>(timeout_ns % 1'000'000'000)};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, kParked, &t,
              nullptr, 0);
    }
    state_.store(kAwake, std::memory_order_relaxed);
  }

 private:
  static constexpr uint32_t kAwake = 0;
  static constexpr uint32_t kParked = 1;
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

  // Its own cache line: producers read it on every publish, the consumer writes it only to park.
  alignas(64) std::atomic<uint32_t> state_{kAwake};
  char pad_[64 - sizeof(std::atomic<uint32_t>)];
};

}  // namespace vigil::pipeline
