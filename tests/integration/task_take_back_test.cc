// Task mode end to end in one process (docs/design.md "Fencing a zombie"): the engine, its
// changelog and its consumer-group member on the embedded broker, driven by the loop `vigil run`
// uses. A checkpoint is fenced while the member keeps its partitions and no rebalance comes,
// the state the two-instance outage flake ended in (tests/fault/README.md): the engine drops
// every task, and the source must take them back, rewound to their last checkpoint, so that
// every output is made once: none missing (skipped for good), none doubled (the withheld
// outputs delivered twice, or records applied twice).
//
// The fence is the source's own (a real OffsetCommit to the group coordinator), with one
// answer forced to kFenced: the coordinator answers ILLEGAL_GENERATION only to a member on an
// old generation, which this single member cannot be made to be on demand.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "engine/egress/kafka_changelog.h"
#include "engine/egress/kafka_sink.h"
#include "engine/ingest/kafka_source.h"
#include "engine/runtime/engine.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

using runtime::TaskFence;

constexpr int kElders = 8;  // over the 4 tasks (producers key by elder)
constexpr int kRounds = 6;  // water_leak events per elder: alarm counts 1..kRounds
constexpr int kWaitMs = 60'000;
const TimeMs kT0 = RealClock::instance().now_ms() / 1000 * 1000;

//! The source's fence, with the next answer forced to kFenced once armed; arming is also a
//! client trouble, so the next checkpoint asks.
class ForcedFence final : public TaskFence {
 public:
  explicit ForcedFence(TaskFence& real) : real_(real) {}
  void arm() {
    armed_.store(true);
    forced_.fetch_add(1);
  }
  int fenced() const { return fenced_.load(); }
  Answer confirm(const std::map<int32_t, int64_t>& next, int timeout_ms) override {
    if (armed_.exchange(false)) {
      fenced_.fetch_add(1);
      return {Verdict::kFenced, "forced by the test (as ILLEGAL_GENERATION)"};
    }
    return real_.confirm(next, timeout_ms);
  }
  int lease_ms() const override { return real_.lease_ms(); }
  uint64_t troubles() const override { return real_.troubles() + forced_.load(); }

 private:
  TaskFence& real_;
  std::atomic<bool> armed_{false};
  std::atomic<uint64_t> forced_{0};
  std::atomic<int> fenced_{0};
};

//! One `vigil run` instance in task mode on a thread.
class TaskEngine {
 public:
  TaskEngine(const std::string& brokers, const std::string& dir,
             std::shared_ptr<const rules::RuleSet> rules) {
    thread_ = std::thread([this, brokers, dir, rules] { run(brokers, dir, rules); });
    while (state_.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~TaskEngine() {
    stop_.store(true);
    thread_.join();
  }
  bool running() const { return state_.load() == 1; }
  void fence_next_checkpoint() { fence_.load()->arm(); }
  int fenced() const { return fence_.load()->fenced(); }
  uint64_t taken_back() const { return taken_back_.load(); }

 private:
  void run(const std::string& brokers, const std::string& dir,
           const std::shared_ptr<const rules::RuleSet>& rules) {
    const TopicNames topics("vigil.");
    auto sink = egress::KafkaSink::start(brokers, topics);
    auto log = egress::KafkaChangelog::start(brokers, topics);
    if (!sink || !log) {
      ADD_FAILURE() << (!sink ? sink.error().message : log.error().message);
      state_ = -1;
      return;
    }
    runtime::EngineOptions eo;
    eo.task_log = log.value().get();
    eo.shards = 2;
    eo.data_dir = dir;
    eo.commit_interval_ms = 100;
    eo.exactly_once = true;
    eo.dispatch.routing = dispatch::Routing::kKafka;
    eo.agency_region = [](const std::string&) { return std::optional<std::string>(); };
    runtime::Engine engine(eo, rules, *sink.value(), RealClock::instance());
    if (auto s = engine.start(); !s) {
      ADD_FAILURE() << s.error().message;
      state_ = -1;
      return;
    }
    ingest::TaskHooks hooks;
    hooks.assign = [&engine](const std::vector<int32_t>& t) { return engine.assign_tasks(t); };
    hooks.revoke = [&engine](const std::vector<int32_t>& t, bool lost) {
      return engine.revoke_tasks(t, lost);
    };
    hooks.owns = [&engine](int32_t t) { return engine.owns_task(t); };
    auto source = ingest::KafkaSource::start(
        brokers, "vigil-take-back", topics, {},
        [&engine](InTopic t, int32_t p) -> std::optional<int64_t> {
          auto it = engine.submitted_offsets().find({t, p});
          if (it == engine.submitted_offsets().end()) return std::nullopt;
          return it->second;
        },
        /*routed_orders=*/true, hooks);
    if (!source) {
      ADD_FAILURE() << source.error().message;
      state_ = -1;
      return;
    }
    ForcedFence fence(*source.value());
    engine.set_task_fence(&fence);
    fence_.store(&fence);
    state_ = 1;
    std::vector<InputRecord> batch;
    while (!stop_.load()) {
      const size_t n = source.value()->poll_batch(batch, 1024, 20);
      if (const Status& t = source.value()->task_error(); !t) {
        ADD_FAILURE() << "task error: " << t.error().message;
        break;
      }
      for (size_t i = 0; i < n; ++i) engine.submit(batch[i]);
      if (auto s = engine.maybe_checkpoint(); !s) {
        ADD_FAILURE() << "checkpoint: " << s.error().message;
        break;
      }
      taken_back_.store(source.value()->tasks_taken_back());
    }
    EXPECT_TRUE(engine.stop());
    EXPECT_TRUE(source.value()->close());
    EXPECT_TRUE(sink.value()->flush(10'000));
    while (!stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> state_{0};  // 0 starting, 1 running, -1 failed
  std::atomic<ForcedFence*> fence_{nullptr};
  std::atomic<uint64_t> taken_back_{0};
  std::thread thread_;
};

std::string elder(int i) { return "e" + std::to_string(i); }

TEST(TaskTakeBack, ATaskFencedWhileItsPartitionsStayIsTakenBackAndEveryOutputComesOnce) {
  auto b = broker::EmbeddedBroker::start(1, 4, TopicNames("vigil."));
  ASSERT_TRUE(b) << b.error().message;
  const std::string brokers = b.value()->bootstrap_servers();
  auto r = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  ASSERT_TRUE(r.ok());
  TestProducer producer(brokers);
  for (int i = 0; i < kElders; ++i) {
    vigil::v1::RegistryUpdate u;
    auto* e = u.mutable_elder();
    e->set_elder_id(elder(i));
    e->set_home_lat(31.2304);
    e->set_home_lon(121.4737);
    producer.send("registry", elder(i), u.SerializeAsString());
  }
  auto leaks = [&](int round) {
    for (int i = 0; i < kElders; ++i) {
      vigil::v1::DeviceEvent ev;
      ev.set_event_id(elder(i) + "-leak-" + std::to_string(round));
      ev.set_device_id(elder(i) + "-water");
      ev.set_elder_id(elder(i));
      ev.set_type("water_leak");
      ev.set_value(1);
      set_ts(ev.mutable_ts(), kT0 + round * 1000);
      producer.send("telemetry", elder(i), ev.SerializeAsString());
    }
    producer.flush();
  };
  TestConsumer out(brokers, {"alarms"});
  auto alarms_at_least = [&](size_t n) {
    return out.poll_until([n](const auto& rs) { return rs.size() >= n; }, kWaitMs).size() >= n;
  };

  TempDir dir;
  TaskEngine engine(brokers, dir.path(), r.rules);
  ASSERT_TRUE(engine.running());
  for (int round = 0; round < kRounds / 2; ++round) leaks(round);
  ASSERT_TRUE(alarms_at_least(kElders * kRounds / 2));

  // The next checkpoint is refused: every task dropped, the member keeps every partition. The
  // second half arrives while the engine owns nothing: read and skipped until taken back.
  engine.fence_next_checkpoint();
  for (int round = kRounds / 2; round < kRounds; ++round) leaks(round);
  ASSERT_TRUE(alarms_at_least(kElders * kRounds)) << "fenced " << engine.fenced()
                                                   << " times, tasks taken back "
                                                   << engine.taken_back();
  EXPECT_EQ(engine.fenced(), 1);
  EXPECT_GE(engine.taken_back(), 1u);

  // Every elder's water_leak alarm with counts 1..kRounds, each once; read on until the
  // outputs are quiet, so a late double shows.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const auto& got = out.poll_until([](const auto&) { return false; }, 2000);
  std::map<std::pair<std::string, uint32_t>, int> seen;
  for (const auto& rec : got) {
    vigil::v1::AlarmEvent a;
    ASSERT_TRUE(a.ParseFromString(rec.value));
    EXPECT_EQ(a.rule_id(), "water_leak");
    ++seen[{a.elder_id(), a.count()}];
  }
  size_t missing = 0, doubled = 0;
  for (int i = 0; i < kElders; ++i) {
    for (uint32_t c = 1; c <= kRounds; ++c) {
      const int n = seen[{elder(i), c}];
      if (n == 0) ++missing;
      if (n > 1) doubled += static_cast<size_t>(n - 1);
    }
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(doubled, 0u);
  EXPECT_EQ(got.size(), static_cast<size_t>(kElders * kRounds));
}

}  // namespace
}  // namespace vigil::testing
