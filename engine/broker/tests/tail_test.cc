#include "engine/broker/tail.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/tests/kafka_test_util.h"
#include "schemas/outputs.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::broker {
namespace {

std::string alarm_bytes(const std::string& alarm_id, const std::string& elder_id) {
  vigil::v1::AlarmEvent alarm;
  alarm.set_alarm_id(alarm_id);
  alarm.set_elder_id(elder_id);
  alarm.set_rule_id("sos");
  alarm.set_severity(vigil::v1::CRITICAL);
  alarm.set_status(vigil::v1::ACTIVE_UNACK);
  alarm.set_count(1);
  return alarm.SerializeAsString();
}

std::string alarm_line(const std::string& alarm_id, const std::string& elder_id) {
  return R"({"topic":"alarms","key":")" + elder_id + R"(","value":{"alarm_id":")" + alarm_id +
         R"(","elder_id":")" + elder_id +
         R"(","rule_id":"sos","severity":"CRITICAL","status":"ACTIVE_UNACK","count":1}})";
}

class TailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = EmbeddedBroker::start(1, 1, TopicNames());
    ASSERT_TRUE(started) << started.error().message;
    broker_ = std::move(started).value();
  }

  TailOptions options(const std::string& topic) {
    TailOptions o;
    o.topic = topic;
    o.brokers = broker_->bootstrap_servers();
    o.from_beginning = true;
    o.duration_s = 20;  // the bound; the tests stop earlier on max_records
    o.out = &out_;
    o.err = &err_;
    return o;
  }

  std::unique_ptr<EmbeddedBroker> broker_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(TailTest, PrintsCommittedRecordsFromTheBeginningInReplayOutputForm) {
  ASSERT_TRUE(testing::produce(broker_->bootstrap_servers(), "vigil.alarms",
                               {{"e1", alarm_bytes("a1", "e1")},
                                {"e2", alarm_bytes("a2", "e2")},
                                {"e3", alarm_bytes("a3", "e3")}}));
  TailOptions o = options("alarms");
  o.max_records = 3;
  EXPECT_EQ(run_tail(o), 0);
  EXPECT_EQ(out_.str(), alarm_line("a1", "e1") + "\n" + alarm_line("a2", "e2") + "\n" +
                            alarm_line("a3", "e3") + "\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(TailTest, SkipsUndecodableRecordsWithALineOnStderr) {
  ASSERT_TRUE(testing::produce(broker_->bootstrap_servers(), "vigil.telemetry",
                               {{"e1", "\xff\xff not protobuf"}}));
  vigil::v1::DeviceEvent event;
  event.set_elder_id("e1");
  event.set_type("sos");
  ASSERT_TRUE(testing::produce(broker_->bootstrap_servers(), "vigil.telemetry",
                               {{"e1", event.SerializeAsString()}}));
  TailOptions o = options("vigil.telemetry");  // the full name works as well
  o.max_records = 1;
  EXPECT_EQ(run_tail(o), 0);
  EXPECT_EQ(out_.str(),
            R"({"topic":"telemetry","key":"e1","value":{"elder_id":"e1","type":"sos"}})" "\n");
  EXPECT_NE(err_.str().find("vigil.telemetry[0]@0"), std::string::npos) << err_.str();
  EXPECT_NE(err_.str().find("DeviceEvent"), std::string::npos) << err_.str();
}

TEST_F(TailTest, StopsWhenTheStopFlagIsSet) {
  std::atomic<bool> stop{true};
  TailOptions o = options("alarms");
  o.stop = &stop;
  EXPECT_EQ(run_tail(o), 0);
  EXPECT_EQ(out_.str(), "");
}

TEST_F(TailTest, StopsAfterTheDuration) {
  TailOptions o = options("dispatch");
  o.duration_s = 0.2;
  EXPECT_EQ(run_tail(o), 0);
  EXPECT_EQ(out_.str(), "");
}

TEST_F(TailTest, RejectsAnUnknownTopic) {
  EXPECT_EQ(run_tail(options("clock")), 2);
  EXPECT_EQ(run_tail(options("nope")), 2);
  EXPECT_NE(err_.str().find("unknown topic 'nope'"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace vigil::broker
