// Timers and hot reload in the live engine, over TCP with real librdkafka clients against the
// embedded broker, RocksDB on disk, and a simulated clock (the engine's only time source for
// timers) so that no test waits for real minutes.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/broker/embedded_broker.h"
#include "engine/core/time_util.h"
#include "engine/egress/kafka_sink.h"
#include "engine/ingest/kafka_source.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/rules_watcher.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr int kWaitMs = 60'000;

//! The loop of `vigil run` (source -> engine -> sink, rules directory watched on every poll)
//! on its own thread, on a clock the test moves.
class ClockedEngine {
 public:
  ClockedEngine(const std::string& brokers, const std::string& data_dir, const std::string& rules_dir,
                const Clock& clock) {
    std::atomic<int> state{0};  // 0 starting, 1 running, -1 failed
    thread_ = std::thread([&, brokers, data_dir, rules_dir] {
      auto loaded = rules::load_rule_dir(rules_dir);
      if (!loaded.ok()) {
        ADD_FAILURE() << "rules in " << rules_dir << " do not load";
        state = -1;
        return;
      }
      const TopicNames topics("vigil.");
      auto sink = egress::KafkaSink::start(brokers, topics);
      if (!sink) {
        ADD_FAILURE() << sink.error().message;
        state = -1;
        return;
      }
      runtime::EngineOptions eo;
      eo.shards = 2;
      eo.data_dir = data_dir;
      // The commit interval runs on the engine's clock, which this test holds still for long
      // stretches; outputs reach Kafka at checkpoints (exactly-once), so checkpoint on every
      // loop instead of every 200 ms of simulated time.
      eo.commit_interval_ms = 0;
      runtime::Engine engine(eo, loaded.rules, *sink.value(), clock);
      if (auto s = engine.start(); !s) {
        ADD_FAILURE() << s.error().message;
        state = -1;
        return;
      }
      const auto stored = engine.stored_offsets();
      auto source = ingest::KafkaSource::start(
          brokers, "vigil-engine", topics, {}, [stored](InTopic t, int32_t p) -> std::optional<int64_t> {
            auto it = stored.find({t, p});
            if (it == stored.end()) return std::nullopt;
            return it->second;
          });
      if (!source) {
        ADD_FAILURE() << source.error().message;
        state = -1;
        return;
      }
      runtime::RulesWatcher watcher(rules_dir);
      state = 1;
      std::vector<InputRecord> batch;
      while (!stop_.load()) {
        const size_t n = source.value()->poll_batch(batch, 1024, 20);
        for (size_t i = 0; i < n; ++i) engine.submit(batch[i]);
        submitted_ += n;
        if (auto next = watcher.poll()) engine.reload(next);
        reloads_ = engine.reloads_applied();
        EXPECT_TRUE(engine.maybe_checkpoint());
      }
      EXPECT_TRUE(engine.stop());
      (void)source.value()->close();
      EXPECT_TRUE(sink.value()->flush(10'000));
    });
    while (state.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    started_ = state.load() == 1;
  }
  ~ClockedEngine() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool started() const { return started_; }
  //! Waits until `pred` holds (polling), up to kWaitMs.
  static bool wait_for(const std::function<bool()>& pred) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  uint64_t submitted() const { return submitted_.load(); }
  uint64_t reloads() const { return reloads_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> reloads_{0};
  bool started_ = false;
  std::thread thread_;
};

class RulesLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = broker::EmbeddedBroker::start(1, 4, TopicNames("vigil."));
    ASSERT_TRUE(b) << b.error().message;
    broker_ = std::move(b.value());
    producer_ = std::make_unique<TestProducer>(broker_->bootstrap_servers());
    for (const auto& f : std::filesystem::directory_iterator(VIGIL_SOURCE_DIR "/rules/eldercare")) {
      std::filesystem::copy_file(f.path(), rules_.path() + "/" + f.path().filename().string());
    }
  }

  void register_elder(const std::string& id) {
    vigil::v1::RegistryUpdate u;
    auto* e = u.mutable_elder();
    e->set_elder_id(id);
    e->set_home_lat(31.2304);
    e->set_home_lon(121.4737);
    producer_->send("registry", id, u.SerializeAsString());
    producer_->flush();
  }

  void send_event(const std::string& elder, const std::string& type, double value, TimeMs ts) {
    vigil::v1::DeviceEvent ev;
    ev.set_event_id(elder + "-" + type + "-" + std::to_string(ts));
    ev.set_device_id(elder + "-watch");
    ev.set_elder_id(elder);
    ev.set_type(type);
    ev.set_value(value);
    set_ts(ev.mutable_ts(), ts);
    producer_->send("telemetry", elder, ev.SerializeAsString());
    producer_->flush();
  }

  //! Rewrites hr_high's threshold in the copied pack (the rest of the file untouched).
  void set_hr_high_threshold(const std::string& from, const std::string& to) {
    const std::string file = rules_.path() + "/vitals.yaml";
    std::stringstream text;
    text << std::ifstream(file).rdbuf();
    std::string s = text.str();
    const auto rule = s.find("id: hr_high");
    ASSERT_NE(rule, std::string::npos);
    const auto at = s.find("threshold: " + from, rule);
    ASSERT_NE(at, std::string::npos);
    s.replace(at, from.size() + 11, "threshold: " + to);
    std::ofstream(file, std::ios::trunc) << s;
  }

  static std::vector<vigil::v1::AlarmEvent> alarms_of(const std::vector<KafkaRecord>& rs,
                                                       const std::string& rule_id) {
    std::vector<vigil::v1::AlarmEvent> out;
    for (const auto& r : rs) {
      vigil::v1::AlarmEvent a;
      if (r.topic == "alarms" && a.ParseFromString(r.value) && a.rule_id() == rule_id) out.push_back(a);
    }
    return out;
  }

  std::unique_ptr<broker::EmbeddedBroker> broker_;
  std::unique_ptr<TestProducer> producer_;
  TempDir rules_;
  TempDir data_;
};

TEST_F(RulesLiveTest, ChangedThresholdAppliesToLaterEventsWhileUnchangedRulesTimerFiresOnce) {
  SimClock clock(kT0);
  ClockedEngine engine(broker_->bootstrap_servers(), data_.path(), rules_.path(), clock);
  ASSERT_TRUE(engine.started());
  register_elder("e1");
  send_event("e1", "fall", 1, kT0 + 1000);  // fall_no_recovery armed: due 08:01:01
  ASSERT_TRUE(ClockedEngine::wait_for([&] { return engine.submitted() >= 2; }));

  set_hr_high_threshold("120", "140");
  ASSERT_TRUE(ClockedEngine::wait_for([&] { return engine.reloads() >= 1; }))
      << "the rules directory change was not picked up";

  // 130 breaches the old limit (120) but not the new one (140); 150 breaches both.
  send_event("e1", "heart_rate", 130, kT0 + 5000);
  send_event("e1", "heart_rate", 150, kT0 + 10'000);
  ASSERT_TRUE(ClockedEngine::wait_for([&] { return engine.submitted() >= 4; }));
  clock.set(kT0 + 15 * kMinute);  // past both timers and the out-of-orderness allowance

  TestConsumer out(broker_->bootstrap_servers(), {"alarms"});
  out.poll_until([](const auto& rs) {
    return !alarms_of(rs, "fall_no_recovery").empty() && !alarms_of(rs, "hr_high").empty();
  }, kWaitMs);
  const auto& got = out.poll_until([](const auto&) { return false; }, 2000);  // any doubles?

  const auto falls = alarms_of(got, "fall_no_recovery");
  ASSERT_EQ(falls.size(), 1u) << "the unchanged rule's pending timer must fire exactly once";
  EXPECT_EQ(format_rfc3339(to_ms(falls[0].raised_at())), "2026-03-01T08:01:01Z");
  const auto hr = alarms_of(got, "hr_high");
  ASSERT_EQ(hr.size(), 1u);
  // Under the old limit the episode would have started with the 130 reading (08:10:05).
  EXPECT_EQ(format_rfc3339(to_ms(hr[0].raised_at())), "2026-03-01T08:10:10Z");
}

TEST_F(RulesLiveTest, TimerDueWhileStoppedFiresAtRestartMarkedLate) {
  SimClock clock(kT0);
  {
    ClockedEngine engine(broker_->bootstrap_servers(), data_.path(), rules_.path(), clock);
    ASSERT_TRUE(engine.started());
    register_elder("e1");
    send_event("e1", "fall", 1, kT0 + 1000);  // due 08:01:01
    ASSERT_TRUE(ClockedEngine::wait_for([&] { return engine.submitted() >= 2; }));
    engine.stop();  // final checkpoint holds the armed sequence and its due time
  }
  TestConsumer before(broker_->bootstrap_servers(), {"alarms"});
  EXPECT_TRUE(alarms_of(before.poll_until([](const auto&) { return false; }, 2000), "fall_no_recovery")
                  .empty())
      << "fired before its due time";

  clock.set(kT0 + 10 * kMinute);  // the engine was down across 08:01:01
  ClockedEngine engine(broker_->bootstrap_servers(), data_.path(), rules_.path(), clock);
  ASSERT_TRUE(engine.started());
  TestConsumer out(broker_->bootstrap_servers(), {"alarms"});
  out.poll_until([](const auto& rs) { return !alarms_of(rs, "fall_no_recovery").empty(); }, kWaitMs);
  const auto& got = out.poll_until([](const auto&) { return false; }, 2000);
  const auto falls = alarms_of(got, "fall_no_recovery");
  ASSERT_EQ(falls.size(), 1u);
  EXPECT_EQ(falls[0].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(format_rfc3339(to_ms(falls[0].raised_at())), "2026-03-01T08:01:01Z");
  EXPECT_NE(falls[0].message().find("late: due 2026-03-01T08:01:01Z"), std::string::npos)
      << falls[0].message();
}

}  // namespace
}  // namespace vigil::testing
