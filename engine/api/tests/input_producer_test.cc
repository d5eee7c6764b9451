// Actions made over HTTP reach the input topics through the InputProducer (embedded broker).

#include "engine/api/input_producer.h"

#include <gtest/gtest.h>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/tests/kafka_test_util.h"

namespace vigil::api {
namespace {

TEST(InputProducer, HooksProduceCallsAndAgencyUpdates) {
  TopicNames topics("apitest.");
  auto cluster = broker::EmbeddedBroker::start(1, 2, topics);
  ASSERT_TRUE(cluster) << cluster.error().message;
  const std::string brokers = cluster.value()->bootstrap_servers();
  auto producer = InputProducer::start(brokers, topics);
  ASSERT_TRUE(producer) << producer.error().message;
  ApiHooks hooks;
  producer.value()->attach(hooks);

  vigil::v1::CallEvent call;
  call.set_call_id("c1");
  call.set_elder_id("e1");
  call.mutable_alarm_action()->set_alarm_id("a1");
  call.mutable_alarm_action()->set_action(vigil::v1::AlarmAction::ACK);
  ASSERT_TRUE(hooks.submit_call(call));
  vigil::v1::AgencyUpdate up;
  up.set_agency_id("ag1");
  up.set_order_id("o1");
  up.set_status(vigil::v1::AgencyUpdate::ACCEPTED);
  ASSERT_TRUE(hooks.submit_agency(up));
  ASSERT_TRUE(producer.value()->flush(15'000));
  EXPECT_EQ(producer.value()->delivered(), 2u);

  auto calls = broker::testing::consume(brokers, topics.of(InTopic::kCalls), 2, 1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].key, "e1");
  vigil::v1::CallEvent got;
  ASSERT_TRUE(got.ParseFromString(calls[0].payload));
  EXPECT_EQ(got.alarm_action().alarm_id(), "a1");
  auto agency = broker::testing::consume(brokers, topics.of(InTopic::kAgency), 2, 1);
  ASSERT_EQ(agency.size(), 1u);
  EXPECT_EQ(agency[0].key, "o1");
}

}  // namespace
}  // namespace vigil::api
