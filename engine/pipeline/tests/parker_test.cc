#include "engine/pipeline/parker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "engine/pipeline/spsc_ring.h"

namespace vigil::pipeline {
namespace {

// Long enough that a lost wake-up shows as a test that runs for minutes (and ctest's timeout),
// never as a flaky assertion: nothing here measures time.
constexpr int64_t kForeverNs = 600'000'000'000;

TEST(Parker, DoesNotSleepWhenTheRecheckFindsWork) {
  Parker parker;
  int asked = 0;
  parker.park([&] { return ++asked > 0; }, kForeverNs);  // returns at once: work was there
  EXPECT_EQ(asked, 1);
}

TEST(Parker, TimesOutWithNothingToDo) {
  Parker parker;
  int asked = 0;
  parker.park([&] { ++asked; return false; }, 1'000'000);  // 1 ms, then back to its loop
  EXPECT_EQ(asked, 1);
}

TEST(Parker, NotifyWakesAParkedConsumer) {
  Parker parker;
  std::atomic<bool> ready{false};
  std::atomic<bool> parked_once{false};
  std::thread consumer([&] {
    while (!ready.load()) {
      parker.park([&] { parked_once = true; return ready.load(); }, kForeverNs);
    }
  });
  while (!parked_once.load()) std::this_thread::yield();
  ready.store(true);
  parker.notify();  // without it the consumer would sleep for kForeverNs
  consumer.join();
  EXPECT_TRUE(ready.load());
}

// The engine's use: a consumer that parks whenever its ring is empty and a producer that
// publishes with pauses, so that the consumer is often asleep or about to be. Every value
// arrives, in order, with no wake-up lost (a lost one would hang the test for kForeverNs).
TEST(Parker, AParkingConsumerSeesEveryValueOfItsRing) {
  SpscRing<uint64_t> ring(64);
  Parker parker;
  ring.set_consumer(&parker);
  constexpr uint64_t kCount = 200'000;
  uint64_t parks = 0;
  std::thread consumer([&] {
    uint64_t expected = 0;
    while (expected < kCount) {
      uint64_t* v = ring.front();
      if (v == nullptr) {
        ++parks;
        parker.park([&] { return ring.front() != nullptr; }, kForeverNs);
        continue;
      }
      ASSERT_EQ(*v, expected);
      ++expected;
      ring.pop();
    }
  });
  for (uint64_t i = 0; i < kCount; ++i) {
    uint64_t* slot;
    while ((slot = ring.try_claim()) == nullptr) std::this_thread::yield();
    *slot = i;
    ring.publish();
    if (i % 1000 == 0) std::this_thread::yield();  // let the consumer drain and park
  }
  consumer.join();
  EXPECT_EQ(ring.front(), nullptr);
  EXPECT_GT(parks, 0u);  // the consumer did park, so the wake-ups were exercised
}

// Two producers (the dispatcher's rings: ingest and a shard) wake one consumer.
TEST(Parker, OneConsumerParksOnTwoRings) {
  SpscRing<uint64_t> a(16), b(16);
  Parker parker;
  a.set_consumer(&parker);
  b.set_consumer(&parker);
  constexpr uint64_t kEach = 50'000;
  auto produce = [&](SpscRing<uint64_t>& ring) {
    for (uint64_t i = 0; i < kEach; ++i) {
      uint64_t* slot;
      while ((slot = ring.try_claim()) == nullptr) std::this_thread::yield();
      *slot = i;
      ring.publish();
    }
  };
  std::thread pa(produce, std::ref(a)), pb(produce, std::ref(b));
  uint64_t next_a = 0, next_b = 0;
  while (next_a < kEach || next_b < kEach) {
    bool took = false;
    if (uint64_t* v = a.front()) {
      EXPECT_EQ(*v, next_a++);
      a.pop();
      took = true;
    }
    if (uint64_t* v = b.front()) {
      EXPECT_EQ(*v, next_b++);
      b.pop();
      took = true;
    }
    if (!took) parker.park([&] { return a.front() != nullptr || b.front() != nullptr; }, kForeverNs);
  }
  pa.join();
  pb.join();
  EXPECT_EQ(next_a, kEach);
  EXPECT_EQ(next_b, kEach);
}

}  // namespace
}  // namespace vigil::pipeline
