#include "engine/registry/elder_state.h"

#include <gtest/gtest.h>

namespace vigil::registry {
namespace {

TEST(ElderState, RecordRoundTripMapsSlotsByRuleId) {
  ElderState s;
  vigil::v1::Elder e;
  e.set_elder_id("e1");
  e.set_timezone("Europe/Berlin");
  apply_profile(s, e);
  vigil::v1::Device d;
  d.set_device_id("d1");
  d.set_elder_id("e1");
  apply_device(s, d);
  apply_device(s, d);  // same id replaces
  s.slots.resize(2);
  s.slots[1].since = 1000;
  s.slots[1].due = 5000;
  s.slots[1].device = s.intern_device("d1");
  s.alarm_seq["hr_high"] = 3;

  auto rec = to_record(s, {"sos", "hr_high"});
  EXPECT_EQ(rec.rules_size(), 1);  // idle slot of sos not stored
  // Reload under a rule set where hr_high moved and a new rule appeared.
  auto back = from_record(rec, {"hr_high", "fever", "sos"});
  ASSERT_EQ(back.slots.size(), 3u);
  EXPECT_EQ(back.slots[0].since, 1000);
  EXPECT_EQ(back.slots[0].due, 5000);
  EXPECT_EQ(back.device_name(back.slots[0].device), "d1");
  EXPECT_EQ(back.slots[1].since, 0);
  EXPECT_EQ(back.devices.size(), 1u);
  EXPECT_EQ(back.timezone(), "Europe/Berlin");
  EXPECT_EQ(back.alarm_seq.at("hr_high"), 3u);
  EXPECT_TRUE(back.registered);
}

TEST(ElderState, KindStateRoundTrips) {
  ElderState s;
  s.slots.resize(2);
  s.slots[0].ext().data = {1.5, 2.5, 0};  // e.g. aggregate buckets
  s.slots[0].generation = 7;
  const uint16_t d1 = s.intern_device("d1"), d2 = s.intern_device("d2");
  s.slots[1].ext().keyed = {{1000, d1, false}, {2000, d2, true}};  // per-device last seen
  auto back = from_record(to_record(s, {"agg", "offline"}), {"offline", "agg"});
  ASSERT_EQ(back.slots.size(), 2u);
  ASSERT_TRUE(back.slots[1].extra);
  EXPECT_EQ(back.slots[1].extra->data, (std::vector<double>{1.5, 2.5, 0}));
  EXPECT_EQ(back.slots[1].generation, 7u);
  ASSERT_TRUE(back.slots[0].extra);
  const auto& keyed = back.slots[0].extra->keyed;
  ASSERT_EQ(keyed.size(), 2u);
  EXPECT_EQ(back.device_name(keyed[1].device), "d2");
  EXPECT_EQ(keyed[1].seen, 2000);
  EXPECT_TRUE(keyed[1].out);
  EXPECT_FALSE(keyed[0].out);
  // A copy is deep: the state of a copied elder is its own.
  ElderState copy = back;
  copy.slots[1].extra->data[0] = 9;
  EXPECT_EQ(back.slots[1].extra->data[0], 1.5);
}

TEST(ElderState, DefaultsFromSpec) {
  ElderState s;
  EXPECT_EQ(s.timezone(), "Asia/Shanghai");
  EXPECT_DOUBLE_EQ(s.geofence_radius_m(), 500);
}

}  // namespace
}  // namespace vigil::registry
