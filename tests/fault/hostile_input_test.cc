// Hostile input to a live `vigil run` (issue #8, docs/operations.md "Bad input"): device clocks
// in 1970 and 2100, an oversized record, malformed bytes, and registry updates for an elder the
// registry does not know. Nothing crashes or stalls; each bad record is one dead letter with a
// reason; far-off device clocks raise what their events call for and no timer storm (the live
// timer clock is the wall clock, not the device's: docs/design.md, "Time").

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>

#include "engine/broker/embedded_broker.h"
#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

std::string event(const std::string& elder, const std::string& device, const std::string& type,
                  double value, TimeMs ts, const std::string& id) {
  vigil::v1::DeviceEvent e;
  e.set_event_id(id);
  e.set_elder_id(elder);
  e.set_device_id(device);
  e.set_type(type);
  e.set_value(value);
  set_ts(e.mutable_ts(), ts);
  return e.SerializeAsString();
}

size_t count_with(const std::map<std::string, int>& out, const std::string& a,
                  const std::string& b = "") {
  size_t n = 0;
  for (const auto& [line, c] : out) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) n += c;
  }
  return n;
}

TEST(HostileInputTest, FarClocksOversizedMalformedAndUnknownEldersNeitherCrashNorStorm) {
  TempDir dir;
  const std::string config = write_fault_config(dir.path());
  auto broker = broker::EmbeddedBroker::start(1, kFaultPartitions, TopicNames());
  ASSERT_TRUE(broker);
  const std::string brokers = broker.value()->bootstrap_servers();
  const TimeMs now = RealClock::instance().now_ms();
  const TimeMs y1970 = 5'000;                 // 1970-01-01T00:00:05Z
  const TimeMs y2100 = 4'102'444'800'000;     // 2100-01-01T00:00:00Z
  {
    TestProducer p(brokers);
    vigil::v1::RegistryUpdate u;
    auto* el = u.mutable_elder();
    el->set_elder_id("e1");
    el->set_home_lat(31.23);
    el->set_home_lon(121.47);
    el->set_timezone("Asia/Shanghai");
    el->add_medication_times("08:00");  // daily timers: what a clock jump would storm
    el->add_medication_times("20:00");
    el->set_meal_service(true);
    p.send("registry", "e1", u.SerializeAsString());
    vigil::v1::RegistryUpdate d;
    d.mutable_device()->set_device_id("e1-watch");
    d.mutable_device()->set_elder_id("e1");
    p.send("registry", "e1", d.SerializeAsString());
    // A device for an elder the registry has never seen, then its SOS.
    vigil::v1::RegistryUpdate g;
    g.mutable_device()->set_device_id("ghost-watch");
    g.mutable_device()->set_elder_id("ghost");
    p.send("registry", "ghost", g.SerializeAsString());
    p.flush();
    p.send("telemetry", "e1", event("e1", "e1-watch", "sos", 1, y1970, "c1970"));
    p.send("telemetry", "e1", event("e1", "e1-watch", "heart_rate", 150, y2100, "c2100a"));
    p.send("telemetry", "e1", event("e1", "e1-watch", "heart_rate", 150, y2100 + 600'000, "c2100b"));
    p.send("telemetry", "e1", event("e1", "e1-watch", "heart_rate", 72, now, "cnow"));
    p.send("telemetry", "e1",  // valid, but 300 KB
           event("e1", std::string(300 * 1024, 'd'), "heart_rate", 70, now, "big"));
    p.send("telemetry", "e1", std::string("\xff\xfe\x01 not a DeviceEvent"));
    p.send("telemetry", "ghost", event("ghost", "ghost-watch", "sos", 1, now, "g1"));
    p.send("telemetry", "nobody", event("nobody", "nobody-watch", "heart_rate", 70, now, "n1"));
    p.flush();
  }
  const std::string log = dir.path() + "/vigil.log";
  Vigil v(brokers, dir.path() + "/data", config, log);
  ASSERT_TRUE(v.start());
  const auto out = settled_outputs(brokers, 60);
  EXPECT_TRUE(v.alive());
  EXPECT_EQ(v.stop(), 0);
  std::cout << "outputs: " << total(out) << " records" << std::endl;
  for (const auto& [line, n] : out) std::cout << "  " << n << " x " << line.substr(0, 200) << "\n";

  // Far-off clocks: the SOS of 1970 is an alarm like any other, raised at its device time.
  EXPECT_EQ(count_with(out, "alarms|e1|", R"("alarm_id":"e1:sos:1")"), 1u);
  EXPECT_EQ(count_with(out, R"("raised_at":"1970-01-01T00:00:05Z")"), 1u);
  // No timer storm: a 2100 event does not move the timers' clock (74 years of daily
  // medication reminders would be 54,000 records).
  EXPECT_LE(count_with(out, "reminders|"), 4u);
  EXPECT_LT(total(out), 60u);
  // Oversized and malformed: one dead letter each, with the reason.
  EXPECT_EQ(count_with(out, "deadletter|e1|", "bytes is over the limit of 262144 bytes (payload "
                                              "cut to its first 262144 bytes)"), 1u);
  EXPECT_EQ(count_with(out, "deadletter|e1|", "not a valid vigil.v1.DeviceEvent"), 1u);
  // Unknown elder: its device is kept and its SOS still raises an alarm (safety first).
  EXPECT_EQ(count_with(out, "alarms|ghost|", R"("alarm_id":"ghost:sos:1")"), 1u);
  EXPECT_FALSE(file_contains(log, "error engine"));
}

}  // namespace
}  // namespace vigil::testing
