// A restart loads every shard's elders, in the background of the first records
// (EngineOptions::background_load, the default) or before start() returns (Engine::load_shards,
// the shards in parallel): after a clean stop, an engine on the same data directory knows each
// elder's open alarm, whichever shard the elder belongs to. No Kafka here, so the tsan preset
// can run it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "engine/codec/record.h"
#include "engine/core/clock.h"
#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/tests/shard_test_input.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr uint32_t kElders = 200;

std::string elder_id(uint32_t i) { return "r" + std::to_string(i); }

InputRecord registry_record(uint32_t i) {
  vigil::v1::RegistryUpdate u;
  auto* e = u.mutable_elder();
  e->set_elder_id(elder_id(i));
  e->set_home_lat(31.23);
  e->set_home_lon(121.47);
  InputRecord r;
  r.topic = InTopic::kRegistry;
  r.key = elder_id(i);
  r.payload = u.SerializeAsString();
  return r;
}

InputRecord sos(uint32_t i, TimeMs ts) {
  vigil::v1::DeviceEvent ev;
  ev.set_event_id(elder_id(i) + "-" + std::to_string(ts));
  ev.set_device_id(elder_id(i) + "-button");
  ev.set_elder_id(elder_id(i));
  ev.set_type("sos");
  ev.set_value(1);
  set_ts(ev.mutable_ts(), ts);
  InputRecord r;
  r.topic = InTopic::kTelemetry;
  r.key = elder_id(i);
  r.payload = ev.SerializeAsString();
  return r;
}

class EngineRestartTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_engine_restart_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto loaded = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
    ASSERT_TRUE(loaded.ok());
    rules_ = loaded.rules;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Engine> make_engine(uint32_t shards = 2) {
    EngineOptions o;
    o.shards = shards;
    o.data_dir = dir_.string();
    o.background_load = GetParam();
    return std::make_unique<Engine>(o, rules_, sink_, clock_);
  }

  SimClock clock_{kT0};
  egress::DiscardSink sink_;
  std::filesystem::path dir_;
  std::shared_ptr<const rules::RuleSet> rules_;
};

TEST_P(EngineRestartTest, EveryShardsEldersKeepTheirOpenAlarmsAcrossARestart) {
  const Metrics& m = metrics();
  {
    auto engine = make_engine();
    ASSERT_TRUE(engine->start());
    for (uint32_t i = 0; i < kElders; ++i) engine->submit(registry_record(i));
    const uint64_t raised0 = m.alarms_raised.get();
    for (uint32_t i = 0; i < kElders; ++i) engine->submit(sos(i, kT0 + 1000));
    ASSERT_TRUE(engine->stop());
    ASSERT_EQ(m.alarms_raised.get() - raised0, kElders) << "one sos alarm per elder";
  }
  clock_.advance(5000);
  auto engine = make_engine();
  ASSERT_TRUE(engine->start());
  const uint64_t raised0 = m.alarms_raised.get();
  const uint64_t repeats0 = m.alarm_repeats.get();
  for (uint32_t i = 0; i < kElders; ++i) engine->submit(sos(i, kT0 + 6000));
  ASSERT_TRUE(engine->stop());
  // A shard that had not loaded an elder would raise its sos afresh instead of repeating it.
  EXPECT_EQ(m.alarms_raised.get() - raised0, 0u);
  EXPECT_EQ(m.alarm_repeats.get() - repeats0, kElders);
  EXPECT_TRUE(engine->loaded());
  EXPECT_GE(engine->start_times().load_s, 0.0);
}

// Stored timers re-armed at a restart fire at their due time on the engine's clock, neither
// early nor late, also when a far one (a 12-hour absence) is re-armed before a near one. Where
// the wheel keeps them (ShardCore::start_timers_at gives it the engine's time first, so the
// near one is not parked in its overdue heap) is not visible from here: TimerWheel's own test
// checks that (timer_wheel_test.cc, overdue_size).
TEST_P(EngineRestartTest, ATimerReloadedAfterAFarOneFiresAtItsDueTimeNotAtOnce) {
  // The shard tests' rules (fall_no_recovery: 60 s) and a 12-hour absence.
  auto loaded = rules::load_rule_text(std::string(test_input::kShardTestRules) + R"(  - id: door_left_open
    kind: sequence
    reads: [door_open]
    then: [door_close]
    within: duration_s
    expect: absent
    params: {duration_s: 43200}
    severity: MINOR
)", "timers.yaml");
  ASSERT_TRUE(loaded.ok());
  rules_ = loaded.rules;
  const Metrics& m = metrics();
  const TimeMs slack = EngineOptions{}.max_out_of_order_ms;
  // One shard, so that both timers are in one wheel; "a" loads before "b" (key order).
  {
    auto engine = make_engine(1);
    ASSERT_TRUE(engine->start());
    engine->submit(test_input::telemetry("a", "door_open", kT0, 0));  // due in 12 hours
    engine->submit(test_input::telemetry("b", "fall", kT0, 0));       // due in 60 s
    ASSERT_TRUE(engine->stop());
  }
  const uint64_t raised0 = m.alarms_raised.get();
  clock_.advance(1000);
  auto engine = make_engine(1);
  ASSERT_TRUE(engine->start());
  auto drive = [&] {  // the shard's turns: loading, then timers due by the clock
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(engine->maybe_checkpoint());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  drive();
  ASSERT_TRUE(engine->loaded());
  EXPECT_EQ(m.alarms_raised.get() - raised0, 0u) << "the 60 s timer fired 59 s early";
  clock_.set(kT0 + 60'000 + slack - 1);
  drive();
  EXPECT_EQ(m.alarms_raised.get() - raised0, 0u) << "fired before its due time";
  clock_.set(kT0 + 60'000 + slack);
  const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.alarms_raised.get() == raised0 && std::chrono::steady_clock::now() < cap) drive();
  EXPECT_EQ(m.alarms_raised.get() - raised0, 1u) << "fall_no_recovery at its due time, once";
  ASSERT_TRUE(engine->stop());
}

INSTANTIATE_TEST_SUITE_P(Load, EngineRestartTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "InTheBackground" : "BeforeStartReturns";
                         });

}  // namespace
}  // namespace vigil::runtime
