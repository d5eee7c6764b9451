// Exactly-once outputs under SIGKILL (issue #6, engine/state/README.md "Exactly-once outputs").
//
// The same input goes to two embedded brokers. `vigil run` processes one of them without
// interruption (the reference); on the other it is killed with SIGKILL at random moments while
// the input is still being produced, and restarted on the same data directory each time. Then
// every output record of both runs is compared (tests/fault/fault_util.h): nothing missing,
// nothing extra, nothing doubled.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

// The checkpoints as the defaults write them (WAL batches at this input's size), and every one
// as an ingested table file (checkpoint_file_min_mb: 0; engine/state/README.md), the path a
// busy engine's large checkpoints take.
class FaultTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { config_ = write_fault_config(dir_.path(), GetParam()); }
  TempDir dir_;
  std::string config_;
};

INSTANTIATE_TEST_SUITE_P(Checkpoints, FaultTest,
                         ::testing::Values("", "checkpoint_file_min_mb: 0\n"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.index == 0 ? "WalBatches" : "TableFiles");
                         });

TEST_P(FaultTest, SigkillAtRandomPointsLosesAndDoublesNoOutput) {
  // Event time ten minutes ago: every escalation (60 s, 180 s) is due when its alarm is raised,
  // in both runs alike.
  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0);
  std::cout << "input: " << input.size() << " records" << std::endl;

  // Reference: all input, one uninterrupted run, clean stop.
  FaultSetup setup;
  ASSERT_TRUE(start_fault_setup(input, dir_.path(), config_, &setup));
  const auto& reference = setup.reference;
  const std::string& flt_brokers = setup.flt_brokers;
  ASSERT_GT(total(reference), 200u);

  // Faulted: the input arrives over several seconds while the engine is killed and restarted.
  const uint32_t seed = static_cast<uint32_t>(std::random_device{}());
  std::cout << "fault seed " << seed << std::endl;
  std::mt19937 rng(seed);
  Vigil flt(flt_brokers, dir_.path() + "/flt", config_, dir_.path() + "/flt.log");
  ASSERT_TRUE(flt.start());
  std::atomic<bool> produced{false};
  // ~35 s of input: the engine is busy across every kill.
  std::thread producer(
      [&] { produce_input(flt_brokers, input, 0, input.size(), 700, produced); });
  // Each kill lands while the engine is delivering again (its outputs grow after the restart's
  // group rebalance), at a random moment shortly after that.
  auto conf = broker::make_conf({{"bootstrap.servers", flt_brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  int kills = 0;
  for (int k = 0; k < 3; ++k) {
    const int64_t deadline = RealClock::instance().steady_ns() + 60'000'000'000;
    int64_t before = -1;
    while ((before = output_end(watcher.value().get())) < 0 &&
           RealClock::instance().steady_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    while (output_end(watcher.value().get()) < before + 20 &&
           RealClock::instance().steady_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Soon after outputs appear: in the middle of a checkpoint's delivery, or (with outputs sent
    // at once) before the checkpoint that covers them, the moments a crash is most likely to
    // lose or double something.
    const int wait_ms = static_cast<int>(rng() % 150);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    flt.kill_now();
    ++kills;
    std::cout << "SIGKILL " << kills << ", " << wait_ms << " ms after outputs resumed (" << before
              << " output records before)" << std::endl;
    ASSERT_TRUE(flt.start());
  }
  producer.join();
  ASSERT_TRUE(produced.load());
  const auto faulted = settled_outputs(flt_brokers, 150);
  EXPECT_EQ(flt.stop(), 0);

  const Comparison c = compare_outputs(reference, faulted);
  std::cout << "faulted run (" << kills << " SIGKILLs): " << total(faulted)
            << " output records; missing " << c.missing << ", extra " << c.extra << ", doubled "
            << c.doubled << std::endl;
  {
    std::ifstream log(dir_.path() + "/flt.log");
    for (std::string line; std::getline(log, line);) {
      if (line.find("delivered again") != std::string::npos || (line.rfind("engine: ", 0) == 0 && line.find(", outputs ") != std::string::npos)) {
        std::cout << "  log: " << line << "\n";
      }
    }
  }
  if (const char* keep = std::getenv("VIGIL_FAULT_KEEP_LOG")) {  // for investigating a failure
    std::ifstream from(dir_.path() + "/flt.log");
    std::ofstream(keep) << from.rdbuf();
  }
  EXPECT_EQ(c.faults(), 0u);
  EXPECT_EQ(kills, 3);
  // Which path the checkpoints took (the state store logs its first table file per start).
  const bool files = file_contains(dir_.path() + "/flt.log", "checkpoint written as a table file");
  std::cout << "checkpoints as table files: " << (files ? "yes" : "no") << std::endl;
  EXPECT_EQ(files, !std::string(GetParam()).empty());
}

}  // namespace
}  // namespace vigil::testing
