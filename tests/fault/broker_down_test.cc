// The broker down and back under load (issue #8, docs/operations.md), single instance.
//
// `vigil run` processes the input while it arrives from a one-broker embedded cluster; once
// outputs flow, the broker goes down (librdkafka mock: connections dropped and refused), stays
// down for a few seconds while the engine has outputs to deliver, and comes back. The engine
// waits (a checkpoint's outputs must be acknowledged before the next checkpoint is written;
// the rings back-pressure the input) and afterwards every output is present exactly once
// compared with an uninterrupted run of the same input.
//
// The outage is kept shorter than the consumer's session timeout (10 s): a longer one makes the
// group coordinator drop the member, and the rebalance that follows is a separate fault
// (docs/operations.md, "Broker down").

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

class BrokerFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { config_ = write_fault_config(dir_.path()); }
  TempDir dir_;
  std::string config_;
};

TEST_F(BrokerFaultTest, BrokerDownAndUpMidRunLosesAndDoublesNoOutput) {
  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0, 300, 40);
  std::cout << "input: " << input.size() << " records" << std::endl;
  FaultSetup setup;
  ASSERT_TRUE(start_fault_setup(input, dir_.path(), config_, &setup));
  const auto& reference = setup.reference;
  const std::string& flt_brokers = setup.flt_brokers;
  ASSERT_GT(total(reference), 100u);

  const std::string log = dir_.path() + "/flt.log";
  Vigil flt(flt_brokers, dir_.path() + "/flt", config_, log);
  ASSERT_TRUE(flt.start());
  // The first half of the input before the outage, the rest while it lasts (buffered by the
  // producer, sent when the broker is back).
  const size_t half = input.size() / 2;
  std::atomic<bool> first_half{false};
  produce_input(flt_brokers, input, 0, half, 0, first_half);
  auto conf = broker::make_conf({{"bootstrap.servers", flt_brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  rd_kafka_t* rk = watcher.value().get();
  bool flowing = false;
  for (int i = 0; i < 600 && !flowing; ++i) {
    flowing = output_end(rk) >= 30;
    if (!flowing) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(flowing) << "no outputs from the engine";

  const int64_t before = output_end(rk);
  ASSERT_TRUE(setup.flt->broker_down(1));
  std::cout << "broker down with " << before << " output records on the topics" << std::endl;
  std::atomic<bool> produced{false};
  // The rest of the input, queued in the producer during the outage.
  std::thread producer([&] { produce_input(flt_brokers, input, half, input.size(), 0, produced); });
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_TRUE(flt.alive()) << "the engine gave up during a short outage";
  ASSERT_TRUE(setup.flt->broker_up(1));
  std::cout << "broker up" << std::endl;
  producer.join();
  ASSERT_TRUE(produced.load());

  const auto faulted = settled_outputs(flt_brokers, 120);
  EXPECT_EQ(flt.stop(), 0);
  const Comparison c = compare_outputs(reference, faulted);
  std::cout << "broker-down run: " << total(faulted) << " output records; missing " << c.missing
            << ", extra " << c.extra << ", doubled " << c.doubled << std::endl;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("waiting for the outputs") != std::string::npos ||
          line.find("rebalance") != std::string::npos) {
        std::cout << "  log: " << line << "\n";
      }
    }
  }
  EXPECT_EQ(c.faults(), 0u);
}

}  // namespace
}  // namespace vigil::testing
