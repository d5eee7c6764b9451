// The engine's threads as the scheduler sees them: the shards at EngineOptions::shard_nice, the
// dispatcher at the default, the commit thread below both (docs/design.md "Threads and the
// scheduler"). Read from /proc, as `top -H` or `ps -L` would show them to an operator.

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/thread_sched.h"
#include "engine/egress/sink.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/tests/shard_test_input.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr TimeMs kInterval = 100;

//! Each of this process's threads by name: its nice value (field 19 of /proc/.../stat).
std::map<std::string, int> nice_by_thread() {
  std::map<std::string, int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    std::string stat;
    std::getline(std::ifstream(task.path() / "stat"), stat);
    // After the name's closing parenthesis: state (field 3) ... nice (field 19).
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 19 && rest >> field; ++i) {
    }
    int nice = 1000;
    rest >> nice;
    out[name] = nice;
  }
  return out;
}

bool have_cap_sys_nice() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_SYS_NICE / 32].effective & (1u << (CAP_SYS_NICE % 32))) != 0;
}

class EngineThreadsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  //! Starts an engine with `shard_nice` and waits for its first checkpoint: every shard and the
  //! dispatcher have handled its barrier, so each has set itself up.
  void start(int shard_nice) {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_engine_threads_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    EngineOptions o;
    o.shards = 2;
    o.data_dir = dir_.string();
    o.commit_interval_ms = kInterval;
    o.shard_nice = shard_nice;
    engine_ = std::make_unique<Engine>(o, test_input::shard_test_rules(), sink_, clock_);
    ASSERT_TRUE(engine_->start());
    engine_->submit(test_input::registration("elder-1", 0));
    clock_.advance(kInterval);
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (engine_->checkpoints() < 1) {
      ASSERT_TRUE(engine_->maybe_checkpoint());
      ASSERT_LT(std::chrono::steady_clock::now(), cap) << "no checkpoint in 10 s";
      std::this_thread::yield();
    }
  }

  SimClock clock_{kT0};
  egress::DiscardSink sink_;
  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineThreadsTest, ShardsRunAtTheirNiceValueTheDispatcherAtTheDefault) {
  // 5: a value any process may take, so the test holds with or without CAP_SYS_NICE.
  start(5);
  const auto nice = nice_by_thread();
  ASSERT_EQ(nice.count("vigil-shard0"), 1u);
  ASSERT_EQ(nice.count("vigil-shard1"), 1u);
  EXPECT_EQ(nice.at("vigil-shard0"), 5);
  EXPECT_EQ(nice.at("vigil-shard1"), 5);
  ASSERT_EQ(nice.count("vigil-dispatch"), 1u);
  EXPECT_EQ(nice.at("vigil-dispatch"), 0);
  ASSERT_EQ(nice.count("vigil-commit"), 1u);
  EXPECT_EQ(nice.at("vigil-commit"), 10);
}

TEST_F(EngineThreadsTest, ByDefaultShardsRunAtTheDefaultNiceValue) {
  start(EngineOptions{}.shard_nice);
  const auto nice = nice_by_thread();
  EXPECT_EQ(nice.at("vigil-shard0"), 0);
  EXPECT_EQ(nice.at("vigil-shard1"), 0);
}

TEST_F(EngineThreadsTest, ANegativeNiceValueIsTakenAsFarAsThisProcessMay) {
  start(-10);
  const auto nice = nice_by_thread();
  // With CAP_SYS_NICE (this machine's test runs as root), -10; without it, as far as
  // RLIMIT_NICE allows (0 with the usual limit), and the engine warns.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NICE, &limit), 0);
  const int expected = have_cap_sys_nice() ? -10 : unprivileged_nice(-10, limit.rlim_cur);
  EXPECT_EQ(nice.at("vigil-shard0"), expected);
  EXPECT_EQ(nice.at("vigil-shard1"), expected);
}

}  // namespace
}  // namespace vigil::runtime
