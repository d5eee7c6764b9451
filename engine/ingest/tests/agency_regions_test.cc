#include "engine/ingest/agency_regions.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/tests/kafka_test_util.h"
#include "engine/ingest/kafka_source.h"
#include "schemas/registry.pb.h"

namespace vigil::ingest {
namespace {

std::pair<std::string, std::string> agency(const std::string& id, const std::string& region) {
  vigil::v1::RegistryUpdate u;
  u.mutable_agency()->set_agency_id(id);
  u.mutable_agency()->set_region(region);
  return {id, u.SerializeAsString()};
}

std::pair<std::string, std::string> elder(const std::string& id) {
  vigil::v1::RegistryUpdate u;
  u.mutable_elder()->set_elder_id(id);
  u.mutable_elder()->set_region("r9");
  return {id, u.SerializeAsString()};
}

class AgencyRegionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = broker::EmbeddedBroker::start(1, 2, TopicNames());
    ASSERT_TRUE(started) << started.error().message;
    broker_ = std::move(started).value();
    brokers_ = broker_->bootstrap_servers();
  }
  std::unique_ptr<broker::EmbeddedBroker> broker_;
  std::string brokers_;
};

TEST_F(AgencyRegionsTest, FindsAgenciesOnEveryRegistryPartitionAndTheirLatestRegion) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry",
                                       {agency("a0", "r1"), elder("e0"), {"junk", "\xff\xfe"}}, 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", {agency("a1", "r2")}, 1));
  auto regions = AgencyRegions::start(brokers_, TopicNames(), 10'000);
  ASSERT_TRUE(regions) << regions.error().message;
  AgencyRegions& r = *regions.value();
  EXPECT_EQ(r.region_of("a0"), "r1");
  EXPECT_EQ(r.region_of("a1"), "r2");
  EXPECT_EQ(r.region_of("e0"), std::nullopt) << "elders are not agencies";
  EXPECT_EQ(r.region_of("nobody"), std::nullopt);

  // Written after start: an unknown agency makes it read the registry to its current end.
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", {agency("a2", "r3")}, 1));
  EXPECT_EQ(r.region_of("a2"), "r3");
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.registry", {agency("a0", "r4")}, 0));
  EXPECT_TRUE(broker::testing::wait_until([&] { return r.region_of("a0") == "r4"; }));
  EXPECT_EQ(r.size(), 3u);
}

TEST_F(AgencyRegionsTest, TheSourceReadsOrdersOnlyWhenRouted) {
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.orders", {{"r1", "x"}}, 0));
  ASSERT_TRUE(broker::testing::produce(brokers_, "vigil.calls", {{"e1", "y"}}, 0));
  for (bool routed : {false, true}) {
    auto source = KafkaSource::start(
        brokers_, routed ? "routed" : "local", TopicNames(), {},
        [](InTopic, int32_t) { return std::nullopt; }, routed);
    ASSERT_TRUE(source) << source.error().message;
    std::vector<InputRecord> batch;
    bool calls = false, orders = false;
    broker::testing::wait_until([&] {
      const size_t n = source.value()->poll_batch(batch, 64, 100);
      for (size_t i = 0; i < n; ++i) {
        calls |= batch[i].topic == InTopic::kCalls;
        orders |= batch[i].topic == InTopic::kOrders;
      }
      return calls && (orders || !routed);
    });
    EXPECT_TRUE(calls);
    EXPECT_EQ(orders, routed);
  }
}

}  // namespace
}  // namespace vigil::ingest
