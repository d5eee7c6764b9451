// Which CPU each shard thread is bound to (shard_cpus, EngineOptions::pin_shards), and the nice
// value and slice a latency-critical thread asks for (request_latency_sched).

#include "engine/core/thread_sched.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
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

//! The calling thread's nice value.
int nice_now() {
  errno = 0;
  const int n = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  return errno == 0 ? n : 1000;
}

//! Drops CAP_SYS_NICE from this process (a forked child): what a container without it sees.
bool drop_cap_sys_nice() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned bit = 1u << (CAP_SYS_NICE % 32);
  data[CAP_SYS_NICE / 32].effective &= ~bit;
  data[CAP_SYS_NICE / 32].permitted &= ~bit;
  return syscall(SYS_capset, &header, data) == 0;
}

//! In a forked child without CAP_SYS_NICE and with RLIMIT_NICE at `limit`: exits 0 if
//! request_latency_sched(-10, ...) on a new thread reports and leaves nice `expected`.
[[noreturn]] void expect_unprivileged_grant(rlim_t limit, int expected) {
  const rlimit r{limit, limit};
  if (!drop_cap_sys_nice() || setrlimit(RLIMIT_NICE, &r) != 0) std::_Exit(2);
  SchedGrant got;
  int after = 1000;
  std::thread t([&] {
    got = request_latency_sched(-10, 100'000);
    after = nice_now();
  });
  t.join();
  std::_Exit(got.ok && got.nice == expected && after == expected ? 0 : 1);
}

TEST(LatencySched, TheThreadGetsTheNiceValueAskedFor) {
  // On threads of their own: the nice value is per thread, and the runner's must not change.
  SchedGrant got;
  int after = 1000;
  std::thread t([&] {
    got = request_latency_sched(5, 100'000);
    after = nice_now();
  });
  t.join();
  EXPECT_TRUE(got.ok);
  EXPECT_EQ(got.nice, 5);
  EXPECT_EQ(after, 5);
  EXPECT_EQ(nice_now(), 0);
}

TEST(LatencySchedDeathTest, WithoutCapSysNiceTheThreadKeepsTheDefaultAndTheSlice) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // RLIMIT_NICE 0 (the usual default): asked for -10, it gets nice 0 and the slice, and says so.
  EXPECT_EXIT(expect_unprivileged_grant(0, 0), ::testing::ExitedWithCode(0), "");
}

TEST(LatencySched, WithoutCapSysNiceRlimitNiceSetsTheFloor) {
  EXPECT_EQ(unprivileged_nice(-10, 0), 0);    // the default limit: no lower than 0
  EXPECT_EQ(unprivileged_nice(-10, 25), -5);  // 20 - 25
  EXPECT_EQ(unprivileged_nice(-10, 30), -10);
  EXPECT_EQ(unprivileged_nice(-10, 40), -10);
  EXPECT_EQ(unprivileged_nice(-10, RLIM_INFINITY), -10);
  EXPECT_EQ(unprivileged_nice(5, 0), 5);  // raising the value needs no right
}

}  // namespace
}  // namespace vigil
