#pragma once
// A bounded lock-free single-producer single-consumer ring (after rigtorp/SPSCQueue): each index
// on its own cache line, padding around the slots, and each side caches the other's index so it
// touches the shared line only when the ring looks full (producer) or empty (consumer).
// Slots are reused: the producer assigns into an existing T, so a T that keeps its buffers
// (std::string capacity) makes the hand-off allocation-free in steady state.

#include <atomic>
#include <cstddef>
#include <new>
#include <vector>

#include "engine/pipeline/parker.h"

namespace vigil::pipeline {

inline constexpr size_t kCacheLine = 64;

//! One producer thread calls try_claim/publish; one consumer thread calls front/pop.
template <class T>
class SpscRing {
 public:
  //! capacity is rounded up to a power of two.
  explicit SpscRing(size_t capacity) {
    size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    mask_ = cap - 1;
    // kPad slots either side keep neighbouring allocations off the slots' cache lines.
    slots_.resize(cap + 2 * kPad);
  }
  //! The same, with `init(slot)` run on every slot first (e.g. to reserve their buffers).
  template <class Init>
  SpscRing(size_t capacity, Init&& init) : SpscRing(capacity) {
    for (T& slot : slots_) init(slot);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  //! Producer: the next free slot to fill, or nullptr when the ring is full.
  T* try_claim() {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_cached_ > mask_) {
      tail_cached_ = tail_.load(std::memory_order_acquire);
      if (head - tail_cached_ > mask_) return nullptr;
    }
    return &slots_[kPad + (head & mask_)];
  }
  //! Producer: makes the slot returned by try_claim visible to the consumer, and wakes the
  //! consumer if it parked (set_consumer).
  void publish() {
    head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    if (consumer_ != nullptr) consumer_->notify();
  }
  //! Before either side runs: where the consumer parks when this ring (and any other it reads)
  //! is empty; null (the default) for a consumer that polls.
  void set_consumer(Parker* parker) { consumer_ = parker; }

  //! Consumer: the oldest published slot, or nullptr when the ring is empty.
  T* front() {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_cached_) {
      head_cached_ = head_.load(std::memory_order_acquire);
      if (tail == head_cached_) return nullptr;
    }
    return &slots_[kPad + (tail & mask_)];
  }
  //! Consumer: the slot `ahead` places behind front(), or nullptr if not yet published (a look
  //! ahead, e.g. to prefetch what the next records will touch). Read-only for the consumer.
  const T* peek(size_t ahead) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (head_cached_ - tail <= ahead) {
      head_cached_ = head_.load(std::memory_order_acquire);
      if (head_cached_ - tail <= ahead) return nullptr;
    }
    return &slots_[kPad + ((tail + ahead) & mask_)];
  }
  //! Consumer: releases the slot returned by front back to the producer.
  void pop() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  //! Approximate fill, from any thread (progress display only).
  size_t size_approx() const {
    return head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_relaxed);
  }
  size_t capacity() const { return mask_ + 1; }

 private:
  static constexpr size_t kPad = (kCacheLine + sizeof(T) - 1) / sizeof(T);

  std::vector<T> slots_;
  size_t mask_ = 0;
  Parker* consumer_ = nullptr;
  alignas(kCacheLine) std::atomic<size_t> head_{0};
  alignas(kCacheLine) size_t tail_cached_ = 0;  // producer's copy of tail_
  alignas(kCacheLine) std::atomic<size_t> tail_{0};
  alignas(kCacheLine) size_t head_cached_ = 0;  // consumer's copy of head_
};

}  // namespace vigil::pipeline
