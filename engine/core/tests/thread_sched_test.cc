// Which CPU each shard thread is bound to (shard_cpus, EngineOptions::pin_shards).

#include "engine/core/thread_sched.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace vigil {
namespace {

using Cpus = std::vector<int>;

TEST(ShardCpus, AutoBindsOnlyWhenTheProcessHasAsManyCpusAsShards) {
  EXPECT_EQ(shard_cpus(PinShards::kAuto, 2, {0, 1}), (Cpus{0, 1}));
  // A cpuset made for it: its CPUs, not 0 and 1.
  EXPECT_EQ(shard_cpus(PinShards::kAuto, 2, {6, 9}), (Cpus{6, 9}));
  // More CPUs than shards: other work may share them, and a bound shard could not move away.
  EXPECT_EQ(shard_cpus(PinShards::kAuto, 2, {0, 1, 2, 3}), (Cpus{-1, -1}));
  // Fewer: two shards would share a CPU the balancer could otherwise split.
  EXPECT_EQ(shard_cpus(PinShards::kAuto, 4, {0, 1}), (Cpus{-1, -1, -1, -1}));
}

TEST(ShardCpus, OnBindsTheCpusInTurnAndOffNever) {
  EXPECT_EQ(shard_cpus(PinShards::kOn, 3, {0, 1}), (Cpus{0, 1, 0}));
  EXPECT_EQ(shard_cpus(PinShards::kOn, 2, {0, 1, 2, 3}), (Cpus{0, 1}));
  EXPECT_EQ(shard_cpus(PinShards::kOff, 2, {0, 1}), (Cpus{-1, -1}));
}

TEST(ShardCpus, OneCpuOrNoneKnownBindsNothing) {
  EXPECT_EQ(shard_cpus(PinShards::kOn, 2, {3}), (Cpus{-1, -1}));
  EXPECT_EQ(shard_cpus(PinShards::kAuto, 1, {3}), (Cpus{-1}));
  EXPECT_EQ(shard_cpus(PinShards::kOn, 2, {}), (Cpus{-1, -1}));
}

TEST(ShardCpus, TheAllowedCpusAreThisProcesssAndBindingToOneOfThemWorks) {
  const Cpus allowed = allowed_cpus();
  ASSERT_FALSE(allowed.empty());
  for (size_t i = 1; i < allowed.size(); ++i) EXPECT_LT(allowed[i - 1], allowed[i]);
  // On a thread of its own, so the test runner's thread keeps its CPUs.
  bool bound = false;
  Cpus after;
  std::thread t([&] {
    bound = pin_thread_to_cpu(allowed.back());
    after = allowed_cpus();
  });
  t.join();
  EXPECT_TRUE(bound);
  EXPECT_EQ(after, (Cpus{allowed.back()}));
  EXPECT_FALSE(pin_thread_to_cpu(-1));
}

}  // namespace
}  // namespace vigil
