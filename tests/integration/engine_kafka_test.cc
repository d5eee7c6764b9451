// The engine end to end over TCP: real librdkafka producers and consumers against the embedded
// broker (librdkafka's mock cluster), RocksDB state in a temporary directory.

#include <gtest/gtest.h>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "schemas/agency.pb.h"
#include "schemas/calls.pb.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

// Live timers run on the real clock: events are stamped "now", so that absence rules
// (device_offline, 45 min) do not find them long overdue and fire during the test.
const TimeMs kT0 = RealClock::instance().now_ms() / 1000 * 1000;
constexpr int kWaitMs = 60'000;

class EngineKafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = broker::EmbeddedBroker::start(1, 4, TopicNames("vigil."));
    ASSERT_TRUE(b) << b.error().message;
    broker_ = std::move(b.value());
    auto r = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
    ASSERT_TRUE(r.ok());
    rules_ = r.rules;
    producer_ = std::make_unique<TestProducer>(broker_->bootstrap_servers());
  }

  void register_world() {
    vigil::v1::RegistryUpdate u;
    auto* a = u.mutable_agency();
    a->set_agency_id("ag-near");
    a->add_categories("emergency_response");
    a->add_categories("meal_delivery");
    a->set_lat(31.2330);
    a->set_lon(121.4737);
    a->set_capacity(3);
    a->set_rating(4.5);
    a->set_active(true);
    producer_->send("registry", "ag-near", u.SerializeAsString());
    u.Clear();
    auto* e = u.mutable_elder();
    e->set_elder_id("e1");
    e->set_home_lat(31.2304);
    e->set_home_lon(121.4737);
    producer_->send("registry", "e1", u.SerializeAsString());
    producer_->flush();
  }

  void send_event(const std::string& elder, const std::string& type, TimeMs ts) {
    vigil::v1::DeviceEvent ev;
    ev.set_event_id(elder + "-" + type + "-" + std::to_string(ts));
    ev.set_device_id(elder + "-sos");
    ev.set_elder_id(elder);
    ev.set_type(type);
    ev.set_value(1);
    set_ts(ev.mutable_ts(), ts);
    producer_->send("telemetry", elder, ev.SerializeAsString());
    producer_->flush();
  }

  static size_t count(const std::vector<KafkaRecord>& rs, const std::string& topic) {
    return std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.topic == topic; });
  }
  template <class Msg>
  static std::vector<Msg> decode_all(const std::vector<KafkaRecord>& rs, const std::string& topic) {
    std::vector<Msg> out;
    for (const auto& r : rs) {
      if (r.topic != topic) continue;
      Msg m;
      EXPECT_TRUE(m.ParseFromString(r.value));
      out.push_back(m);
    }
    return out;
  }

  std::unique_ptr<broker::EmbeddedBroker> broker_;
  std::shared_ptr<const rules::RuleSet> rules_;
  std::unique_ptr<TestProducer> producer_;
  TempDir dir_;
};

TEST_F(EngineKafkaTest, SosBecomesAlarmOfferAndTrackedOrder) {
  LiveEngine engine(broker_->bootstrap_servers(), dir_.path(), rules_);
  ASSERT_TRUE(engine.started());
  register_world();
  send_event("e1", "sos", kT0);

  TestConsumer out(broker_->bootstrap_servers(), {"alarms", "dispatch", "tracking"});
  auto& got = out.poll_until(
      [](const auto& rs) {
        return count(rs, "alarms") >= 1 && count(rs, "dispatch") >= 1 && count(rs, "tracking") >= 2;
      },
      kWaitMs);
  auto alarms = decode_all<vigil::v1::AlarmEvent>(got, "alarms");
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].rule_id(), "sos");
  EXPECT_EQ(alarms[0].severity(), vigil::v1::CRITICAL);
  EXPECT_EQ(alarms[0].status(), vigil::v1::ACTIVE_UNACK);
  EXPECT_EQ(alarms[0].order_id(), "ord-e1:sos:1");
  auto offers = decode_all<vigil::v1::DispatchOffer>(got, "dispatch");
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].agency_id(), "ag-near");
  EXPECT_EQ(offers[0].priority(), vigil::v1::EMERGENCY);

  vigil::v1::AgencyUpdate accept;
  accept.set_agency_id("ag-near");
  accept.set_order_id(offers[0].order_id());
  accept.set_status(vigil::v1::AgencyUpdate::ACCEPTED);
  set_ts(accept.mutable_ts(), kT0 + 10'000);
  producer_->send("agency", offers[0].order_id(), accept.SerializeAsString());
  producer_->flush();
  out.poll_until([](const auto& rs) { return count(rs, "tracking") >= 3; }, kWaitMs);
  auto events = decode_all<vigil::v1::OrderEvent>(out.poll_until([](const auto&) { return true; }, 0),
                                                  "tracking");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].state(), vigil::v1::CREATED);
  EXPECT_EQ(events[1].state(), vigil::v1::OFFERED);
  EXPECT_EQ(events[2].state(), vigil::v1::ACCEPTED);
  EXPECT_EQ(events[2].agency_id(), "ag-near");
}

TEST_F(EngineKafkaTest, RestartResumesFromStoredOffsetsWithRegistryAndAlarms) {
  {
    LiveEngine engine(broker_->bootstrap_servers(), dir_.path(), rules_);
    ASSERT_TRUE(engine.started());
    register_world();
    send_event("e1", "sos", kT0);
    TestConsumer out(broker_->bootstrap_servers(), {"alarms"});
    ASSERT_EQ(count(out.poll_until([](const auto& rs) { return count(rs, "alarms") >= 1; }, kWaitMs),
                    "alarms"),
              1u);
    engine.stop();  // clean stop: final checkpoint of state and offsets
  }
  LiveEngine engine(broker_->bootstrap_servers(), dir_.path(), rules_);
  ASSERT_TRUE(engine.started());
  send_event("e1", "sos", kT0 + 60'000);
  // A service request after the restart needs the elder's home and the agency from the
  // registry, which was read before the restart only.
  vigil::v1::CallEvent call;
  call.set_call_id("c-after-restart");
  call.set_elder_id("e1");
  set_ts(call.mutable_ts(), kT0 + 70'000);
  call.mutable_service_request()->set_category("meal_delivery");
  producer_->send("calls", "e1", call.SerializeAsString());
  producer_->flush();

  TestConsumer out(broker_->bootstrap_servers(), {"alarms", "dispatch"});
  auto& got = out.poll_until(
      [](const auto& rs) { return count(rs, "alarms") >= 2 && count(rs, "dispatch") >= 2; }, kWaitMs);
  // Give a re-read of old input (the failure this test guards against) time to show.
  out.poll_until([](const auto&) { return false; }, 2000);
  auto alarms = decode_all<vigil::v1::AlarmEvent>(got, "alarms");
  ASSERT_EQ(alarms.size(), 2u) << "the first sos was processed again after the restart";
  EXPECT_EQ(alarms[0].alarm_id(), "e1:sos:1");
  EXPECT_EQ(alarms[1].alarm_id(), "e1:sos:1");  // the active alarm survived: a repeat
  EXPECT_EQ(alarms[1].count(), 2u);
  auto offers = decode_all<vigil::v1::DispatchOffer>(got, "dispatch");
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[1].order_id(), "c-after-restart");
  EXPECT_EQ(offers[1].agency_id(), "ag-near");
  EXPECT_DOUBLE_EQ(offers[1].lat(), 31.2304);
}

TEST_F(EngineKafkaTest, BadRecordBecomesDeadletterAndLaterRecordsAreProcessed) {
  LiveEngine engine(broker_->bootstrap_servers(), dir_.path(), rules_);
  ASSERT_TRUE(engine.started());
  register_world();
  producer_->send("telemetry", "e1", std::string("\xff\xff\xff garbage", 12));
  send_event("e1", "smoke", kT0);

  TestConsumer out(broker_->bootstrap_servers(), {"alarms", "deadletter"});
  auto& got = out.poll_until(
      [](const auto& rs) { return count(rs, "alarms") >= 1 && count(rs, "deadletter") >= 1; }, kWaitMs);
  auto dead = decode_all<vigil::v1::DeadLetter>(got, "deadletter");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].topic(), "telemetry");
  EXPECT_EQ(dead[0].payload(), std::string("\xff\xff\xff garbage", 12));
  EXPECT_NE(dead[0].reason().find("DeviceEvent"), std::string::npos) << dead[0].reason();
  auto alarms = decode_all<vigil::v1::AlarmEvent>(got, "alarms");
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].rule_id(), "smoke");
}

}  // namespace
}  // namespace vigil::testing
