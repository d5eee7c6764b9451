// Several instances in one consumer group, state moving with its partition (issue #8
// acceptance 1 and 2; docs/design.md "State that moves with its partition").
//
// Each test runs the same input twice: on one embedded broker through one `vigil run` without
// interruption (the reference), on another through a group of instances (write_group_config:
// `changelog: true`, one group_id, `dispatch.routing: kafka`, a data dir each) while the
// partitions move between them. Every output record of both runs is then compared as the other
// fault tests do (tests/fault/fault_util.h): nothing missing, nothing extra, nothing doubled.
// tests/fault/README.md says what each test proves.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

constexpr int kWaitS = 60;  // bound of every wait for the engine
//! Input partitions of all tasks: telemetry, calls, agency, registry and orders of each.
constexpr int kTaskPartitions = kFaultPartitions * 5;

class MultiInstanceTest : public ::testing::Test {
 protected:
  void SetUp() override { config_ = write_group_config(dir_.path()); }
  //! The reference (all of the input at once, one uninterrupted instance) on `setup`'s own
  //! broker, beside the faulted run: the wall clock of a test is mostly waiting on the engines.
  std::future<std::map<std::string, int>> reference_beside(const std::vector<Input>& input,
                                                           const FaultSetup& setup) {
    return std::async(std::launch::async, [this, &input, &setup] {
      return reference_run(input, setup.ref->bootstrap_servers(), dir_.path() + "/ref", config_,
                           dir_.path() + "/ref.log");
    });
  }
  TempDir dir_;
  std::string config_;
};

int64_t steady_ms() { return RealClock::instance().steady_ns() / 1'000'000; }

//! Waits (at most kWaitS) until the output topics hold `more` records beyond what they held when
//! called; false if they did not.
bool wait_outputs_grow(rd_kafka_t* rk, int64_t more) {
  const int64_t deadline = steady_ms() + kWaitS * 1000;
  int64_t before = -1;
  while ((before = output_end(rk)) < 0 && steady_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  while (output_end(rk) < before + more && steady_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return steady_ms() < deadline;
}

void print_comparison(const char* what, const std::map<std::string, int>& faulted,
                      const Comparison& c) {
  std::cout << what << ": " << total(faulted) << " output records; missing " << c.missing
            << ", extra " << c.extra << ", doubled " << c.doubled << std::endl;
}

// Before fencing (session 4) it failed now and then with outputs doubled by an instance the
// group evicted in the outage without its knowing (a zombie); the engine now asks the group
// in doubt (docs/design.md "State that moves with its partition", point 8).
TEST_F(MultiInstanceTest, TwoInstancesSigkillThenBrokerDownAndUp) {
  // Event time ten minutes ago: every escalation is due when its alarm is raised, in both runs.
  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0, 300, 50);
  std::cout << "input: " << input.size() << " records" << std::endl;
  FaultSetup setup;
  ASSERT_TRUE(start_fault_brokers(&setup));
  const std::string& brokers = setup.flt_brokers;
  auto reference = reference_beside(input, setup);

  Group group(brokers, dir_.path(), config_);
  ASSERT_TRUE(group.start({"a", "b"}, kWaitS))
      << "the group never split its partitions: " << group.describe();
  std::cout << "group split: " << group.describe() << std::endl;

  // Two thirds of the input arrive paced (bursts of 500, 700 ms apart, ~15 s) across the
  // SIGKILL and the restart; the rest is produced while the broker is down (queued in the
  // producer, as in broker_down_test.cc: a request in flight when the mock broker goes down
  // would wait for the 60 s socket timeout).
  ASSERT_TRUE(register_first(brokers, input, kWaitS)) << "the registry was never checkpointed";
  const size_t part = input.size() * 2 / 3;
  std::atomic<bool> first{false};
  std::jthread producer([&] { produce_input(brokers, input, 0, part, 700, first); });
  auto conf = broker::make_conf({{"bootstrap.servers", brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  rd_kafka_t* rk = watcher.value().get();

  // SIGKILL A while both deliver, restart it on the same data dir.
  EXPECT_TRUE(wait_outputs_grow(rk, 50)) << "no outputs from the group";
  const int64_t at_kill = output_end(rk);
  group["a"].kill_now();
  const int rebalances = group.log_lines("a", "input partitions assigned");
  std::cout << "SIGKILL a with " << at_kill << " output records on the topics" << std::endl;
  ASSERT_TRUE(group["a"].start());
  bool rejoined = false;
  for (int i = 0; i < kWaitS * 10 && !rejoined; ++i) {
    rejoined = group.log_lines("a", "input partitions assigned") > rebalances &&
               group.assigned("a") > 0;
    if (!rejoined) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(rejoined) << "a restarted but got no partitions back: " << group.describe();
  std::cout << "a restarted (input " << (first ? "two thirds produced" : "still arriving")
            << "): " << group.describe() << std::endl;
  producer.join();
  ASSERT_TRUE(first.load());

  // Then the broker down and up; the last third of the input waits for it. Shorter than the
  // session timeout (10 s), as in broker_down_test.cc.
  const int64_t at_down = output_end(rk);
  ASSERT_TRUE(setup.flt->broker_down(1));
  std::cout << "broker down with " << at_down << " output records on the topics" << std::endl;
  std::atomic<bool> produced{false};
  std::jthread rest([&] { produce_input(brokers, input, part, input.size(), 0, produced); });
  std::this_thread::sleep_for(std::chrono::seconds(6));
  EXPECT_TRUE(group["a"].alive() && group["b"].alive()) << "an instance gave up in the outage";
  ASSERT_TRUE(setup.flt->broker_up(1));
  std::cout << "broker up" << std::endl;
  rest.join();
  ASSERT_TRUE(produced.load());
  EXPECT_TRUE(group.wait_all_owned(kTaskPartitions, kWaitS * 2))
      << "tasks left unowned after the outage: " << group.describe();

  const auto ref = reference.get();
  const auto faulted = outputs_reaching(brokers, total(ref), 150);
  std::cout << "after the faults: " << group.describe() << std::endl;
  EXPECT_TRUE(group.stop_all());
  ASSERT_GT(total(ref), 200u);
  const Comparison c = compare_outputs(ref, faulted);
  print_comparison("two instances, SIGKILL, broker down and up", faulted, c);
  EXPECT_EQ(c.faults(), 0u);
}

//! Drops the escalation tasks of the fall elders' alarms ("esc1-f3:fall_no_recovery:1"): their
//! alarms are raised during the test, so those tasks fall due 60 s later, at a moment that
//! depends on how long each run is watched, not on what the engine did.
std::map<std::string, int> without_fall_escalations(std::map<std::string, int> outputs) {
  std::erase_if(outputs, [](const auto& kv) {
    return kv.first.rfind("operator|", 0) == 0 &&
           kv.first.find(":fall_no_recovery:") != std::string::npos &&
           kv.first.find("escalation") != std::string::npos;
  });
  return outputs;
}

TEST_F(MultiInstanceTest, ThirdInstanceJoiningMovesTasksWithoutLosingTimers) {
  constexpr int kFallElders = 16;
  constexpr int64_t kDueInMs = 45'000;  // the falls' timers: due this long after the input is made
  FaultSetup setup;
  ASSERT_TRUE(start_fault_brokers(&setup));
  const std::string ref_brokers = setup.ref->bootstrap_servers();
  const std::string& brokers = setup.flt_brokers;
  // The reference runs beside the faulted run (the timers are due on the real clock, the same
  // moment for both) and gets all of the input at once, one instance.
  Vigil ref(ref_brokers, dir_.path() + "/ref", config_, dir_.path() + "/ref.log");
  ASSERT_TRUE(ref.start());
  Group group(brokers, dir_.path(), config_);
  ASSERT_TRUE(group.start({"a", "b"}, kWaitS))
      << "the group never split its partitions: " << group.describe();
  std::cout << "group split: " << group.describe() << std::endl;

  // Base load first half, then the falls (and their markers), then the second half.
  const TimeMs now = RealClock::instance().now_ms();
  const TimeMs t0 = now - 600'000;
  const TimeMs due = now + kDueInMs;  // fall_no_recovery: 60 s (rules/eldercare/emergency.yaml)
  const std::vector<Input> base = make_input(t0, 300, 40);
  const std::vector<Input> falls = make_fall_input(kFallElders, due - 60'000, t0 - 1000);
  const size_t half = base.size() / 2;
  std::vector<Input> input(base.begin(), base.begin() + static_cast<long>(half));
  input.insert(input.end(), falls.begin(), falls.end());
  const size_t second = input.size();
  input.insert(input.end(), base.begin() + static_cast<long>(half), base.end());
  std::cout << "input: " << input.size() << " records, " << kFallElders
            << " falls with no recovery" << std::endl;
  std::atomic<bool> ref_produced{false}, first{false};
  ASSERT_TRUE(register_first(ref_brokers, input, kWaitS)) << "the registry was never checkpointed";
  ASSERT_TRUE(register_first(brokers, input, kWaitS)) << "the registry was never checkpointed";
  produce_input(ref_brokers, input, 0, input.size(), 0, ref_produced);
  produce_input(brokers, input, 0, second, 0, first);
  const auto fall_partitions =
      partitions_of_keys(brokers, TopicNames().of(InTopic::kTelemetry), "f");
  ASSERT_EQ(fall_partitions.size(), static_cast<size_t>(kFaultPartitions))
      << "the fall elders do not cover every partition";

  // Every fall was processed (its marker alarm came after it) and its timer is pending.
  auto all_marked = [&] {
    const auto r = raises_of(brokers, "water_leak");
    for (int e = 0; e < kFallElders; ++e) {
      if (r.count("f" + std::to_string(e)) == 0) return false;
    }
    return true;
  };
  bool marked = false;
  for (int i = 0; i < kWaitS * 2 && !(marked = all_marked()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(marked) << "the falls were not processed: " << group.describe();
  std::cout << "falls processed, timers due in " << (due - RealClock::instance().now_ms()) / 1000
            << " s; third instance starts" << std::endl;

  // The third instance joins while the rest of the input arrives.
  std::atomic<bool> produced{false};
  std::jthread producer([&] { produce_input(brokers, input, second, input.size(), 700, produced); });
  ASSERT_TRUE(group["c"].start());
  EXPECT_TRUE(group.wait_assigned({"c"}, kWaitS)) << "c got no partitions: " << group.describe();
  const TimeMs joined = RealClock::instance().now_ms();
  std::cout << "c joined " << (due - joined) / 1000 << " s before the falls' due time"
            << (joined < due ? "" : " (AFTER it: the timers may have fired before the move)")
            << "; " << group.describe() << std::endl;
  producer.join();
  ASSERT_TRUE(produced.load());

  // Past the due time plus the out-of-orderness allowance (2 s), then until nothing changes.
  while (RealClock::instance().now_ms() < due + 4000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(group.wait_all_owned(kTaskPartitions, kWaitS)) << group.describe();
  auto settled_ref = std::async(std::launch::async, [&] { return settled_outputs(ref_brokers, 120); });
  const auto faulted = without_fall_escalations(settled_outputs(brokers, 120));
  const auto reference = without_fall_escalations(settled_ref.get());
  const TimeMs read = RealClock::instance().now_ms();
  std::cout << "reference run: " << total(reference) << " output records; outputs read "
            << (read - due) / 1000 << " s after the falls' due time" << std::endl;
  std::cout << "after the join: " << group.describe() << std::endl;
  const auto ref_raises = raises_of(ref_brokers, "fall_no_recovery");
  const auto raises = raises_of(brokers, "fall_no_recovery");
  const auto offers = offers_of(brokers);
  EXPECT_EQ(ref.stop(), 0);
  EXPECT_TRUE(group.stop_all());

  // Every pending fall_no_recovery raised exactly once.
  int missing_raises = 0, doubled_raises = 0;
  for (int e = 0; e < kFallElders; ++e) {
    const std::string elder = "f" + std::to_string(e);
    ASSERT_EQ(ref_raises.count(elder) ? ref_raises.at(elder) : 0, 1) << elder << " in the reference";
    const int n = raises.count(elder) ? raises.at(elder) : 0;
    missing_raises += n == 0;
    doubled_raises += n > 1 ? n - 1 : 0;
    EXPECT_EQ(n, 1) << "fall_no_recovery raises of " << elder;
  }
  // No order offered twice for the same attempt.
  int doubled_offers = 0;
  for (const auto& [order_attempt, n] : offers) {
    if (n > 1) {
      doubled_offers += n - 1;
      if (doubled_offers <= 5) {
        ADD_FAILURE() << "offered " << n << " times: order " << order_attempt.first << " attempt "
                      << order_attempt.second;
      }
    }
  }
  std::cout << "fall_no_recovery: " << kFallElders << " pending over " << fall_partitions.size()
            << " partitions, raised " << raises.size() << " elders, missing " << missing_raises
            << ", doubled " << doubled_raises << "; offers: " << offers.size()
            << " (order, attempt), doubled " << doubled_offers << std::endl;
  const Comparison c = compare_outputs(reference, faulted);
  print_comparison("third instance joining", faulted, c);
  EXPECT_EQ(doubled_offers, 0);
  EXPECT_EQ(c.faults(), 0u);
}

TEST_F(MultiInstanceTest, AllInstancesKilledAndRestartedResumeFromTheChangelog) {
  // A restart of all (issue #8, faults): both instances SIGKILLed at once mid-stream, both
  // started again on their data directories. Nothing is loaded from those at start: each task
  // comes back from its changelog, wherever the group puts it.
  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0, 300, 40);
  FaultSetup setup;
  ASSERT_TRUE(start_fault_brokers(&setup));
  const std::string& brokers = setup.flt_brokers;
  auto reference = reference_beside(input, setup);
  Group group(brokers, dir_.path(), config_);
  ASSERT_TRUE(group.start({"a", "b"}, kWaitS))
      << "the group never split its partitions: " << group.describe();
  ASSERT_TRUE(register_first(brokers, input, kWaitS)) << "the registry was never checkpointed";
  const size_t half = input.size() / 2;
  std::atomic<bool> first{false};
  produce_input(brokers, input, 0, half, 0, first);
  auto conf = broker::make_conf({{"bootstrap.servers", brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  EXPECT_TRUE(wait_outputs_grow(watcher.value().get(), 50)) << "no outputs from the group";
  const int64_t at_kill = output_end(watcher.value().get());
  group["a"].kill_now();
  group["b"].kill_now();
  std::cout << "SIGKILL a and b with " << at_kill << " output records on the topics" << std::endl;
  auto restored = [&] {
    return group.log_lines("a", "task [0-9]+: restored") + group.log_lines("b", "task [0-9]+: restored");
  };
  const int before = restored();
  ASSERT_TRUE(group["a"].start());
  ASSERT_TRUE(group["b"].start());
  // Every task restored again from the changelog (the dead members' sessions expire first).
  bool back = false;
  for (int i = 0; i < kWaitS * 10 && !(back = restored() >= before + kFaultPartitions); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(back) << "not every task was restored: " << group.describe();
  std::cout << "both restarted, every task restored: " << group.describe() << std::endl;
  std::atomic<bool> rest{false};
  produce_input(brokers, input, half, input.size(), 0, rest);
  EXPECT_TRUE(group.wait_all_owned(kTaskPartitions, kWaitS)) << group.describe();
  const auto ref = reference.get();
  const auto faulted = outputs_reaching(brokers, total(ref), 150);
  EXPECT_TRUE(group.stop_all());
  ASSERT_GT(total(ref), 200u);
  const Comparison c = compare_outputs(ref, faulted);
  print_comparison("all instances killed and restarted", faulted, c);
  EXPECT_EQ(c.faults(), 0u);
}

}  // namespace
}  // namespace vigil::testing
