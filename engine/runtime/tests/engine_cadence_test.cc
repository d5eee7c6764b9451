// The checkpoint cadence under load (EngineOptions::commit_max_busy; docs/design.md "Checkpoint
// cadence under load"): after a checkpoint that took T, the next begins no sooner than
// T / commit_max_busy after it began. A real Engine on a simulated clock; the sink's flush (the
// commit thread waiting for delivery) moves the clock, so a checkpoint takes a known time.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/metrics.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/engine.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr TimeMs kInterval = 100;

//! Takes every output; the next flush moves the simulated clock by `next_flush_ms` (once), as a
//! slow write or a slow broker would make a checkpoint last.
class SlowFlushSink final : public egress::Sink {
 public:
  explicit SlowFlushSink(SimClock& clock) : clock_(clock) {}
  void emit(OutTopic, std::string_view, const google::protobuf::Message&) override {}
  Status flush(int) override {
    clock_.advance(next_flush_ms.exchange(0));
    return ok();
  }
  std::atomic<TimeMs> next_flush_ms{0};

 private:
  SimClock& clock_;
};

class EngineCadenceTest : public ::testing::TestWithParam<double> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_engine_cadence_" + std::to_string(::getpid()) + "_" +
            std::to_string(static_cast<int>(GetParam() * 100)));
    std::filesystem::remove_all(dir_);
    auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
    ASSERT_TRUE(rules.ok());
    EngineOptions o;
    o.shards = 1;
    o.data_dir = dir_.string();
    o.commit_interval_ms = kInterval;
    o.commit_max_busy = GetParam();
    engine_ = std::make_unique<Engine>(o, rules.rules, sink_, clock_);
    ASSERT_TRUE(engine_->start());
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  //! Drives maybe_checkpoint() (bounded, 10 s of real time) until `n` checkpoints committed
  //! and the last one's result is taken.
  bool drive_until(uint64_t n) {
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (engine_->checkpoints() < n) {
      if (!engine_->maybe_checkpoint() || std::chrono::steady_clock::now() > cap) return false;
      std::this_thread::yield();
    }
    // The commit's result (and its duration) is taken by the next call, as the ingest loop does.
    for (int i = 0; i < 1000 && engine_->maybe_checkpoint(); ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return true;
  }

  SimClock clock_{kT0};
  SlowFlushSink sink_{clock_};
  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(EngineCadenceTest, ALongCheckpointStretchesTheIntervalToItsShare) {
  const double busy = GetParam();
  // One checkpoint that lasts a second on the clock (its delivery waits).
  sink_.next_flush_ms = 1000;
  clock_.advance(kInterval);
  const TimeMs began = clock_.now_ms();
  ASSERT_TRUE(drive_until(1));
  ASSERT_EQ(sink_.next_flush_ms.load(), 0) << "the checkpoint's delivery waited";
  ASSERT_GE(clock_.now_ms(), began + 1000);
  if (busy == 0) {  // the interval alone: it has passed, so the next begins at once
    EXPECT_TRUE(drive_until(2)) << "no checkpoint without moving the clock";
    return;
  }
  // Up to just before the stretched interval no checkpoint begins; at it, the next one does.
  const TimeMs next = began + static_cast<TimeMs>(1000.0 / busy);
  clock_.set(next - 1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(engine_->maybe_checkpoint());
  EXPECT_EQ(engine_->checkpoints(), 1u) << "began before " << (next - began) << " ms";
  clock_.set(next);
  EXPECT_TRUE(drive_until(2)) << "no checkpoint " << (next - began) << " ms after the last began";
}

TEST_P(EngineCadenceTest, AnIntervalStretchedByAWaitIsCappedAtTheMaximum) {
  const double busy = GetParam();
  if (busy == 0) GTEST_SKIP() << "nothing stretches with commit_max_busy 0";
  // A checkpoint that waited ten minutes (the broker down, or the clock stepped while it ran).
  sink_.next_flush_ms = 10 * 60'000;
  clock_.advance(kInterval);
  const TimeMs began = clock_.now_ms();
  ASSERT_TRUE(drive_until(1));
  ASSERT_EQ(sink_.next_flush_ms.load(), 0) << "the checkpoint's delivery waited";
  // Uncapped the next would wait 40 (or 20) minutes after it began; capped, the clock already
  // stands past commit_max_interval_ms since then, so the next begins at once.
  ASSERT_GE(clock_.now_ms(), began + EngineOptions{}.commit_max_interval_ms);
  EXPECT_TRUE(drive_until(2)) << "the interval stretched past commit_max_interval_ms";
}

TEST_P(EngineCadenceTest, TheTimingsShowWhereACheckpointsTimeWent) {
  // The checkpoint's commit waits a second for the previous outputs' acknowledgement (the
  // sink's flush moves the clock): that second lies between the snapshot and the write, none
  // of it in the snapshot or in RocksDB's write, and the whole span ends at the durable point.
  const Metrics& m = metrics();
  const uint64_t snapshot_us0 = m.checkpoint_snapshot_us.get();
  const uint64_t durable_us0 = m.checkpoint_durable_us.get();
  sink_.next_flush_ms = 1000;
  clock_.advance(kInterval);
  const int64_t barrier_ns = clock_.steady_ns();
  ASSERT_TRUE(drive_until(1));
  // (With commit_max_busy 0 the next checkpoint may already have begun and committed: the
  // interval had passed.)
  const auto timings = engine_->checkpoint_timings();
  ASSERT_GE(timings.size(), 1u);
  const auto& t = timings[0];
  EXPECT_EQ(t.epoch, 1u);
  EXPECT_EQ(t.barrier_ns, barrier_ns);
  EXPECT_EQ(t.snapshot_ns, barrier_ns) << "the clock stood still while the owners snapshotted";
  EXPECT_EQ(t.write_begin_ns, barrier_ns + 1'000'000'000) << "after the delivery wait";
  EXPECT_EQ(t.write_end_ns, t.write_begin_ns);
  EXPECT_EQ(t.durable_ns, t.write_end_ns);
  EXPECT_EQ(m.checkpoint_snapshot_us.get() - snapshot_us0, 0u);
  EXPECT_EQ(m.checkpoint_durable_us.get() - durable_us0, 1'000'000u);

  // The next checkpoint is a row of its own, after the first.
  clock_.advance(static_cast<TimeMs>(kInterval + (GetParam() > 0 ? 1000.0 / GetParam() : 0)));
  ASSERT_TRUE(drive_until(2));
  const auto both = engine_->checkpoint_timings();
  ASSERT_GE(both.size(), 2u);
  EXPECT_EQ(both[1].epoch, 2u);
  EXPECT_GE(both[1].barrier_ns, both[0].durable_ns);
  EXPECT_EQ(both[1].durable_ns, both[1].barrier_ns) << "nothing waited this time";
}

// 0.25: the default (a second's checkpoint -> the next 4 s after it began); 0: the interval
// alone, the next as soon as the last committed.
INSTANTIATE_TEST_SUITE_P(Shares, EngineCadenceTest, ::testing::Values(0.25, 0.5, 0.0));

}  // namespace
}  // namespace vigil::runtime
