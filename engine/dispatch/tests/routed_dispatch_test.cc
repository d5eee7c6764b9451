// Routed dispatch without a broker (dispatch.routing: kafka, engine/runtime/order_router.h): a
// shard's RoutedPort and a reading instance's DispatchCore write `orders` records keyed by
// region; the owning instance's DispatchCore applies them. Records are carried by hand from
// one core's sink to the other's input, as the `orders` topic would.

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "engine/codec/codec.h"
#include "engine/egress/sink.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/order_router.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z

InputRecord json_record(InTopic topic, const std::string& key, const std::string& json,
                        int64_t offset = 0) {
  InputRecord r;
  r.topic = topic;
  r.partition = 1;
  r.offset = offset;
  r.key = key;
  r.payload = json;
  r.format = codec::Format::kJson;
  return r;
}

//! The captured `orders` record as the owner's input.
InputRecord as_orders_input(const egress::CapturedRecord& c, int64_t offset) {
  EXPECT_EQ(c.topic, OutTopic::kOrders);
  return json_record(InTopic::kOrders, c.key, c.json, offset);
}

const char* kAgency =
    R"({"agency":{"agency_id":"one","name":"One","region":"r1","categories":["meal_delivery"],)"
    R"("lat":31.2313,"lon":121.4737,"capacity":1,"rating":5,"active":true}})";

dispatch::OrderRequest request(const std::string& id, const std::string& elder) {
  dispatch::OrderRequest r;
  r.order_id = id;
  r.elder_id = elder;
  r.category = "meal_delivery";
  r.priority = vigil::v1::URGENT;
  r.lat = 31.2304;
  r.lon = 121.4737;
  r.has_location = true;
  r.created = kT0;
  return r;
}

TEST(RoutedDispatch, ShardRequestsAreKeyedByTheEldersRegionAndSurviveTheRoundTrip) {
  egress::CollectingSink sink;
  RoutedPort port(sink, [](const std::string& id) { return std::string(id == "e1" ? "r2" : ""); });
  dispatch::OrderRequest sent = request("o1", "e1");
  sent.window_start = kT0 + 1000;
  sent.window_end = kT0 + 2000;
  port.request_order(sent);
  port.request_order(request("o2", "unknown"));
  dispatch::OrderActionRequest action;
  action.elder_id = "e1";
  action.call_id = "o1";
  action.action.set_action(vigil::v1::OrderAction::CANCEL);
  action.ts = kT0 + 5;
  action.source = json_record(InTopic::kCalls, "e1", "{}", 42);
  port.order_action(action);

  const auto out = sink.of(OutTopic::kOrders);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, "r2");
  EXPECT_EQ(out[1].key, "(no region)");  // never a null key: that would be a random partition
  EXPECT_EQ(out[2].key, "r2");

  vigil::v1::RoutedOrder msg;
  ASSERT_TRUE(codec::decode(out[0].json, codec::Format::kJson, &msg));
  ASSERT_TRUE(msg.has_request());
  const dispatch::OrderRequest back = from_routed(msg.request());
  EXPECT_EQ(back.order_id, sent.order_id);
  EXPECT_EQ(back.priority, sent.priority);
  EXPECT_EQ(back.lat, sent.lat);
  EXPECT_EQ(back.window_end, sent.window_end);
  EXPECT_TRUE(back.has_location);

  ASSERT_TRUE(codec::decode(out[2].json, codec::Format::kJson, &msg));
  ASSERT_TRUE(msg.has_action());
  auto a = from_routed(msg.action());
  ASSERT_TRUE(a);
  EXPECT_EQ(a.value().action.action(), vigil::v1::OrderAction::CANCEL);
  EXPECT_EQ(a.value().source.topic, InTopic::kCalls);
  EXPECT_EQ(a.value().source.offset, 42);
  EXPECT_EQ(a.value().ts, kT0 + 5);
}

TEST(RoutedDispatch, AgenciesAndUpdatesReachTheRegionsOwnerWhichAloneDecides) {
  // `reader` reads the registry and agency partitions; `owner` owns region r1's `orders`.
  egress::CollectingSink reader_sink, owner_sink;
  DispatchCore reader({}, reader_sink), owner({}, owner_sink);
  reader.route_through_kafka([](const std::string& id) -> std::optional<std::string> {
    if (id == "one") return std::string("r1");
    return std::nullopt;
  });
  owner.route_through_kafka({});
  reader.advance_to(kT0);
  owner.advance_to(kT0);

  reader.process(json_record(InTopic::kRegistry, "one", kAgency), kT0);
  EXPECT_EQ(reader.dispatcher().agencies().size(), 0u) << "the reader does not own r1";
  auto forwarded = reader_sink.of(OutTopic::kOrders);
  ASSERT_EQ(forwarded.size(), 1u);
  EXPECT_EQ(forwarded[0].key, "r1");
  int64_t at = 0;
  owner.process(as_orders_input(forwarded[0], at++), kT0);
  EXPECT_EQ(owner.dispatcher().agencies().size(), 1u);

  vigil::v1::RoutedOrder msg;
  to_routed(request("o1", "e1"), msg.mutable_request());
  owner.process(json_record(InTopic::kOrders, "r1", codec::to_json(msg), at++), kT0);
  auto offers = owner_sink.of(OutTopic::kDispatch);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_NE(offers[0].json.find(R"("agency_id":"one")"), std::string::npos);

  // The agency's answer is read elsewhere, keyed by order_id: forwarded by its agency's region.
  reader.process(json_record(InTopic::kAgency, "o1",
                             R"({"agency_id":"one","order_id":"o1","status":"ACCEPTED",)"
                             R"("ts":"2026-03-01T08:00:01Z"})"),
                 kT0 + 1000);
  reader.process(json_record(InTopic::kAgency, "o9",
                             R"({"agency_id":"ghost","order_id":"o9","status":"ACCEPTED",)"
                             R"("ts":"2026-03-01T08:00:01Z"})",
                             7),
                 kT0 + 1000);
  forwarded = reader_sink.of(OutTopic::kOrders);
  ASSERT_EQ(forwarded.size(), 2u);
  EXPECT_EQ(forwarded[1].key, "r1");
  const auto dead = reader_sink.of(OutTopic::kDeadletter);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].json.find("ghost"), std::string::npos) << dead[0].json;

  owner.process(as_orders_input(forwarded[1], at++), kT0 + 1000);
  bool accepted = false;
  for (const auto& t : owner_sink.of(OutTopic::kTracking)) {
    accepted |= t.json.find(R"("state":"ACCEPTED")") != std::string::npos;
  }
  EXPECT_TRUE(accepted);
  EXPECT_TRUE(owner_sink.of(OutTopic::kDeadletter).empty());
  // A second request while the only agency is committed: escalated, not offered.
  to_routed(request("o2", "e2"), msg.mutable_request());
  owner.process(json_record(InTopic::kOrders, "r1", codec::to_json(msg), at++), kT0 + 2000);
  EXPECT_EQ(owner_sink.of(OutTopic::kDispatch).size(), 1u);
}

TEST(RoutedDispatch, UnusableOrdersRecordsAreDeadlettered) {
  egress::CollectingSink sink;
  DispatchCore owner({}, sink);
  owner.route_through_kafka({});
  InputRecord bad = json_record(InTopic::kOrders, "r1", "not json");
  owner.process(bad, kT0);
  owner.process(json_record(InTopic::kOrders, "r1", "{}"), kT0);  // no body
  vigil::v1::RoutedOrder msg;
  msg.mutable_input()->set_topic("clock");
  owner.process(json_record(InTopic::kOrders, "r1", codec::to_json(msg)), kT0);
  EXPECT_EQ(sink.of(OutTopic::kDeadletter).size(), 3u);
  EXPECT_TRUE(sink.of(OutTopic::kDispatch).empty());
}

}  // namespace
}  // namespace vigil::runtime
