// The owners' checkpoint buffers (Engine::release_checkpoint_buffers): kept from one checkpoint
// to the next, given back on request. A real Engine on a simulated clock.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "engine/core/clock.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/tests/shard_test_input.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr TimeMs kInterval = 100;

class EngineBuffersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_engine_buffers_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    EngineOptions o;
    o.shards = 2;
    o.data_dir = dir_.string();
    o.commit_interval_ms = kInterval;
    engine_ = std::make_unique<Engine>(o, test_input::shard_test_rules(), sink_, clock_);
    ASSERT_TRUE(engine_->start());
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  //! Registers `n` elders (each a profile put in the next checkpoint) and commits it.
  bool checkpoint_after_registering(int n, int round) {
    for (int i = 0; i < n; ++i) {
      engine_->submit(test_input::registration("elder-" + std::to_string(round) + "-" +
                                                   std::to_string(i), i % 2));
    }
    clock_.advance(kInterval);
    const uint64_t target = engine_->checkpoints() + 1;
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (engine_->checkpoints() < target) {
      if (!engine_->maybe_checkpoint() || std::chrono::steady_clock::now() > cap) return false;
      std::this_thread::yield();
    }
    return true;
  }

  SimClock clock_{kT0};
  egress::DiscardSink sink_;
  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineBuffersTest, ACheckpointKeepsItsBuffersUntilAskedToGiveThemBack) {
  // 80,000 profiles: several buffer blocks (PutList::kBlockBytes) in each of the two shards,
  // more than a checkpoint of a few profiles takes (a block per shard at most).
  ASSERT_TRUE(checkpoint_after_registering(80000, 1));
  const uint64_t kept = engine_->checkpoint_buffer_bytes();
  ASSERT_GE(kept, 5 * state::PutList::kBlockBytes) << "the first checkpoint's blocks are kept";

  // A small checkpoint keeps them all (the next large one needs them again).
  ASSERT_TRUE(checkpoint_after_registering(10, 2));
  EXPECT_EQ(engine_->checkpoint_buffer_bytes(), kept);

  // Asked, the next checkpoint gives every byte back, though it wrote puts of its own.
  engine_->release_checkpoint_buffers();
  ASSERT_TRUE(checkpoint_after_registering(10, 3));
  EXPECT_EQ(engine_->checkpoint_buffer_bytes(), 0u);

  // Only that one: the checkpoint after it keeps its blocks again, a block per owner that
  // wrote (each of the shards, the coordinator's epoch keys), fewer than the first kept.
  ASSERT_TRUE(checkpoint_after_registering(10, 4));
  EXPECT_GT(engine_->checkpoint_buffer_bytes(), 0u);
  EXPECT_LE(engine_->checkpoint_buffer_bytes(), 4 * state::PutList::kBlockBytes);
}

}  // namespace
}  // namespace vigil::runtime
