// Issue 4, acceptance 3: no alarm record is lost or duplicated across a clean restart in the
// middle of an alarm's lifecycle (raised before, acknowledged and cleared after the restart).

#include <gtest/gtest.h>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "schemas/calls.pb.h"
#include "schemas/outputs.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

// Live timers run on the real clock, so the events are stamped with it (an old timestamp would
// make device_offline and the escalations come due at once).
const TimeMs kT0 = RealClock::instance().now_ms();

size_t count(const std::vector<KafkaRecord>& rs, const std::string& topic) {
  return std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.topic == topic; });
}

TEST(AlarmRestart, LifecycleAcrossACleanRestartHasEveryRecordOnce) {
  auto b = broker::EmbeddedBroker::start(1, 4, TopicNames("vigil."));
  ASSERT_TRUE(b) << b.error().message;
  auto& broker = *b.value();
  auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  ASSERT_TRUE(rules.ok());
  TempDir dir;
  TestProducer producer(broker.bootstrap_servers());
  auto send_call = [&](const std::string& id, vigil::v1::AlarmAction::Action action, TimeMs ts) {
    vigil::v1::CallEvent c;
    c.set_call_id(id);
    c.set_elder_id("e1");
    c.set_operator_id("op1");
    set_ts(c.mutable_ts(), ts);
    c.mutable_alarm_action()->set_rule_id("water_leak");
    c.mutable_alarm_action()->set_action(action);
    producer.send("calls", "e1", c.SerializeAsString());
    producer.flush();
  };
  {
    LiveEngine engine(broker.bootstrap_servers(), dir.path(), rules.rules);
    ASSERT_TRUE(engine.started());
    for (int i = 0; i < 2; ++i) {  // raise, then repeat
      vigil::v1::DeviceEvent ev;
      ev.set_elder_id("e1");
      ev.set_device_id("e1-leak");
      ev.set_type("water_leak");
      set_ts(ev.mutable_ts(), kT0 + i * 1000);
      producer.send("telemetry", "e1", ev.SerializeAsString());
    }
    producer.flush();
    TestConsumer out(broker.bootstrap_servers(), {"alarms"});
    ASSERT_EQ(count(out.poll_until([](const auto& rs) { return count(rs, "alarms") >= 2; }, 60'000),
                    "alarms"),
              2u);
    engine.stop();
  }
  LiveEngine engine(broker.bootstrap_servers(), dir.path(), rules.rules);
  ASSERT_TRUE(engine.started());
  send_call("c1", vigil::v1::AlarmAction::ACK, kT0 + 30'000);
  send_call("c2", vigil::v1::AlarmAction::CLEAR, kT0 + 60'000);
  TestConsumer out(broker.bootstrap_servers(), {"alarms", "deadletter"});
  auto& got = out.poll_until([](const auto& rs) { return count(rs, "alarms") >= 5; }, 60'000);
  out.poll_until([](const auto&) { return false; }, 2000);  // a duplicate would show by now
  std::vector<std::pair<uint32_t, vigil::v1::AlarmStatus>> trail;
  for (const auto& r : got) {
    if (r.topic != "alarms") continue;
    vigil::v1::AlarmEvent a;
    ASSERT_TRUE(a.ParseFromString(r.value));
    EXPECT_EQ(a.alarm_id(), "e1:water_leak:1");
    trail.emplace_back(a.count(), a.status());
  }
  const std::vector<std::pair<uint32_t, vigil::v1::AlarmStatus>> want = {
      {1, vigil::v1::ACTIVE_UNACK}, {2, vigil::v1::ACTIVE_UNACK}, {2, vigil::v1::ACTIVE_ACK},
      {2, vigil::v1::CLEARED_ACK}, {2, vigil::v1::CLOSED}};
  EXPECT_EQ(trail, want);
  EXPECT_EQ(count(got, "deadletter"), 0u);
}

}  // namespace
}  // namespace vigil::testing
