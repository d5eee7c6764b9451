#include "engine/pipeline/spsc_ring.h"

#include <gtest/gtest.h>

#include <thread>

namespace vigil::pipeline {
namespace {

TEST(SpscRing, FullAndEmptyAreReported) {
  SpscRing<int> ring(4);
  EXPECT_EQ(ring.capacity(), 4u);
  EXPECT_EQ(ring.front(), nullptr);
  for (int i = 0; i < 4; ++i) {
    int* slot = ring.try_claim();
    ASSERT_NE(slot, nullptr);
    *slot = i;
    ring.publish();
  }
  EXPECT_EQ(ring.try_claim(), nullptr);
  for (int i = 0; i < 4; ++i) {
    int* v = ring.front();
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(*v, i);
    ring.pop();
  }
  EXPECT_EQ(ring.front(), nullptr);
}

TEST(SpscRing, TwoThreadsSeeEveryValueInOrder) {
  SpscRing<uint64_t> ring(1024);
  constexpr uint64_t kCount = 1'000'000;
  std::thread producer([&] {
    for (uint64_t i = 0; i < kCount; ++i) {
      uint64_t* slot;
      while ((slot = ring.try_claim()) == nullptr) std::this_thread::yield();
      *slot = i;
      ring.publish();
    }
  });
  uint64_t expected = 0;
  while (expected < kCount) {
    uint64_t* v = ring.front();
    if (v == nullptr) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(*v, expected);
    ++expected;
    ring.pop();
  }
  producer.join();
  EXPECT_EQ(expected, kCount);
}

}  // namespace
}  // namespace vigil::pipeline
