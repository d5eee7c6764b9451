#include "engine/pipeline/timer_queue.h"

#include <gtest/gtest.h>

#include "engine/pipeline/shard_router.h"

namespace vigil::pipeline {
namespace {

TEST(TimerQueue, FiresInDueThenArmOrder) {
  TimerQueue q;
  q.arm(200, 0, 0, 0, "b");
  q.arm(100, 0, 0, 0, "a");
  q.arm(200, 0, 0, 0, "c");
  Timer t;
  EXPECT_FALSE(q.pop_due(99, &t));
  ASSERT_TRUE(q.pop_due(100, &t));
  EXPECT_EQ(t.key, "a");
  EXPECT_FALSE(q.pop_due(199, &t));
  ASSERT_TRUE(q.pop_due(500, &t));
  EXPECT_EQ(t.key, "b");
  ASSERT_TRUE(q.pop_due(500, &t));
  EXPECT_EQ(t.key, "c");
  EXPECT_EQ(q.next_due(), INT64_MAX);
}

TEST(TimerQueue, RemoveIfKeepsTheOthersInTheirOrder) {
  TimerQueue q;
  q.arm(200, 0, 0, 0, "b");
  q.arm(100, 0, 0, 0, "drop");
  q.arm(200, 0, 0, 0, "c");
  q.arm(50, 0, 0, 0, "drop");
  q.remove_if([](const Timer& t) { return t.key == "drop"; });
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.next_due(), 200);
  Timer t;
  ASSERT_TRUE(q.pop_due(500, &t));
  EXPECT_EQ(t.key, "b");
  ASSERT_TRUE(q.pop_due(500, &t));
  EXPECT_EQ(t.key, "c");
  EXPECT_FALSE(q.pop_due(500, &t));
}

TEST(ShardRouter, StableAcrossRuns) {
  // FNV-1a of "e0001": fixed, so ownership never depends on the standard library.
  EXPECT_EQ(stable_hash(""), 1469598103934665603ull);
  EXPECT_EQ(shard_of("e0001", 1), 0u);
  EXPECT_EQ(shard_of("e0001", 4), shard_of("e0001", 4));
}

}  // namespace
}  // namespace vigil::pipeline
