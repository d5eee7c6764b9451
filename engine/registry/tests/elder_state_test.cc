#include "engine/registry/elder_state.h"

#include <cstring>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace vigil::registry {
namespace {

TEST(ElderState, RecordRoundTripMapsSlotsByRuleKey) {
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
  ASSERT_EQ(rec.slots_size(), 1);  // idle slot of sos not stored
  EXPECT_EQ(rec.slots(0).rule(), rule_key("hr_high"));
  EXPECT_EQ(rec.rules_size(), 0) << "the compact slots only";
  // Reload under a rule set where hr_high moved and a new rule appeared.
  auto back = from_record(rec, {"hr_high", "fever", "sos"});
  ASSERT_EQ(back.slots.size(), 3u);
  EXPECT_EQ(back.slots[0].since, 1000);
  EXPECT_EQ(back.slots[0].due, 5000);
  EXPECT_EQ(back.device_name(back.slots[0].device), "d1");
  EXPECT_EQ(back.slots[1].since, 0);
  EXPECT_EQ(devices(back).size(), 1u);
  EXPECT_EQ(back.timezone(), "Europe/Berlin");
  EXPECT_EQ(back.alarm_seq.at("hr_high"), 3u);
  EXPECT_TRUE(back.registered);
}

TEST(ElderState, KindStateRoundTrips) {
  ElderState s;
  s.slots.resize(2);
  s.slots[0].assign_data(std::vector<double>{1.5, 2.5, 0});  // e.g. aggregate buckets
  s.slots[0].generation = 7;
  const uint16_t d1 = s.intern_device("d1"), d2 = s.intern_device("d2");
  s.slots[1].add_keyed({1000, d1, false});  // per-device last seen
  s.slots[1].add_keyed({2000, d2, true});
  auto back = from_record(to_record(s, {"agg", "offline"}), {"offline", "agg"});
  ASSERT_EQ(back.slots.size(), 2u);
  ASSERT_TRUE(back.slots[1].extra);
  EXPECT_EQ(std::vector<double>(back.slots[1].data().begin(), back.slots[1].data().end()),
            (std::vector<double>{1.5, 2.5, 0}));
  EXPECT_EQ(back.slots[1].generation, 7u);
  ASSERT_TRUE(back.slots[0].extra);
  const auto keyed = back.slots[0].keyed();
  ASSERT_EQ(keyed.size(), 2u);
  EXPECT_EQ(back.device_name(keyed[1].device), "d2");
  EXPECT_EQ(keyed[1].seen, 2000);
  EXPECT_TRUE(keyed[1].out);
  EXPECT_FALSE(keyed[0].out);
  // A copy is deep: the state of a copied elder is its own.
  ElderState copy = back;
  copy.slots[1].data()[0] = 9;
  EXPECT_EQ(back.slots[1].data()[0], 1.5);
}

TEST(ElderState, ProfileAndDynamicPartsMergeIntoTheWholeRecord) {
  ElderState s;
  vigil::v1::Elder e;
  e.set_elder_id("e1");
  e.set_timezone("Europe/Berlin");
  e.add_medication_times("08:00");
  apply_profile(s, e);
  vigil::v1::Device d;
  d.set_device_id("watch-1");
  d.set_elder_id("e1");
  d.set_type("watch");
  apply_device(s, d);
  EXPECT_TRUE(s.profile_dirty);
  s.slots.resize(3);
  s.slots[2].since = 1000;
  s.slots[2].device = s.intern_device("watch-1");
  s.alarm_seq["fever"] = 2;
  s.alarm_meta["fever"].flaps = 1;
  vigil::v1::AlarmEvent a;
  a.set_alarm_id("e1-fever-2");
  a.set_rule_id("fever");
  s.alarms.push_back(a);
  const std::vector<std::string> ids{"sos", "hr_high", "fever"};

  std::string p, dyn;
  append_profile(s, &p);
  append_dynamic(s, ids, &dyn);
  vigil::state::ElderRecord profile_part, dynamic_part, both;
  ASSERT_TRUE(profile_part.ParseFromString(p));
  ASSERT_TRUE(dynamic_part.ParseFromString(dyn));
  ASSERT_TRUE(both.ParseFromString(p + dyn));
  // Each part holds its own fields only; together they are the whole record.
  EXPECT_EQ(profile_part.rules_size(), 0);
  EXPECT_EQ(profile_part.alarms_size(), 0);
  EXPECT_FALSE(dynamic_part.has_elder());
  EXPECT_EQ(dynamic_part.devices_size(), 0);
  EXPECT_EQ(both.SerializeAsString(), to_record(s, ids).SerializeAsString());

  // Loaded part by part (p/ then e/), as ShardCore::load does.
  ElderState back;
  merge_record(back, profile_part, ids);
  merge_record(back, dynamic_part, ids);
  EXPECT_EQ(back.timezone(), "Europe/Berlin");
  EXPECT_TRUE(back.registered);
  ASSERT_EQ(devices(back).size(), 1u);
  EXPECT_EQ(devices(back)[0].type(), "watch");
  EXPECT_EQ(back.slots[2].since, 1000);
  EXPECT_EQ(back.device_name(back.slots[2].device), "watch-1");
  EXPECT_EQ(back.alarm_seq.at("fever"), 2u);
  EXPECT_EQ(back.alarm_meta.at("fever").flaps, 1u);
  ASSERT_EQ(back.alarms.size(), 1u);
  EXPECT_EQ(back.alarms[0].alarm_id(), "e1-fever-2");
  EXPECT_FALSE(back.profile_dirty);

  // A record of the layout before the split (everything under e/) loads the same.
  ElderState old = from_record(to_record(s, ids), ids);
  EXPECT_EQ(to_record(old, ids).SerializeAsString(), to_record(back, ids).SerializeAsString());
}

TEST(ElderState, SlotsAreSparseAndCompact) {
  ElderState s;
  s.slots.resize(21);
  EXPECT_EQ(s.slots.size(), 21u);
  EXPECT_EQ(s.slots.held(), 0u);
  const ElderState& cs = s;
  EXPECT_TRUE(cs.slots[5].idle());  // read without giving the rule a slot
  EXPECT_EQ(s.slots.held(), 0u);
  s.slots[5].since = 10;
  s.slots[9].generation = 3;  // idle: dropped by a compaction
  s.slots[12].due = 99;
  EXPECT_EQ(s.slots.held(), 3u);
  s.slots.compact([](uint32_t, const RuleSlot& slot) { return slot.idle(); });
  EXPECT_EQ(s.slots.held(), 2u);
  EXPECT_EQ(s.slots.find(9), nullptr);
  EXPECT_EQ(s.slots[5].since, 10);
  EXPECT_EQ(s.slots[12].due, 99);
  EXPECT_EQ(s.slots.rule_at(0), 5u);
  s.slots.resize(10);  // rules past 10 go
  EXPECT_EQ(s.slots.held(), 1u);
  EXPECT_EQ(s.slots.find(5)->since, 10);
}

TEST(ElderState, DefaultsFromSpec) {
  ElderState s;
  EXPECT_EQ(s.timezone(), "Asia/Shanghai");
  EXPECT_DOUBLE_EQ(s.geofence_radius_m(), 500);
}

// append_dynamic writes the wire format by hand: it must parse as exactly what to_record()
// builds through the generated code, for every kind of field (negative and kNever times,
// packed doubles, keyed per-device times, several map entries, bodies over 127 bytes).
TEST(ElderState, DirectEncodingParsesAsTheGeneratedRecord) {
  ElderState s;
  s.slots.resize(4);
  s.slots[0].since = -5;  // before the epoch: a 10-byte varint
  s.slots[0].clear_since = 1'700'000'000'000;
  s.slots[0].due = 1'700'000'060'000;
  s.slots[0].generation = 300;
  s.slots[0].device = s.intern_device("bed-sensor-with-a-rather-long-device-id-0001");
  s.slots[0].ext().last_unless = kNever;  // stays kNever: not written, as the generated code
  s.slots[0].assign_data(std::vector<double>{1.5, -2.25, 0, 1e300});
  // Readings in hundredths long enough for a multi-byte length prefix, inside a slot's own.
  std::vector<double> window;
  for (int i = 0; i < 90; ++i) window.push_back((3600 + i * 5) / 100.0);
  s.slots[1].assign_data(window);
  s.slots[2].ext().last_unless = 123;
  for (int i = 0; i < 12; ++i) {  // a keyed list long enough for a multi-byte length prefix
    s.slots[2].add_keyed(
        {1000 + i, s.intern_device("door-" + std::to_string(i)), i % 2 == 0});
  }
  s.slots[3].due = 42;
  s.alarm_seq["fever"] = 2;
  s.alarm_seq["hr_high"] = 0;
  s.alarm_seq["sos"] = 300;
  s.alarm_meta["fever"] = AlarmMeta{2, 1'700'000'000'000, 3, true};
  s.alarm_meta["sos"] = AlarmMeta{};  // all defaults: not stored
  s.alarm_meta["spo2"] = AlarmMeta{0, 0, 1, false};
  vigil::v1::AlarmEvent a;
  a.set_alarm_id("e1-fever-2");
  s.alarms.push_back(a);
  const std::vector<std::string> ids{"absence", "idle", "offline", "sequence"};

  std::string direct;
  append_dynamic(s, ids, &direct);
  vigil::state::ElderRecord parsed;
  ASSERT_TRUE(parsed.ParseFromString(direct));
  const vigil::state::ElderRecord expected = to_record(s, ids);
  ASSERT_EQ(parsed.slots_size(), expected.slots_size());
  ASSERT_EQ(parsed.slots_size(), 4);
  for (int i = 0; i < expected.slots_size(); ++i) {
    EXPECT_EQ(parsed.slots(i).SerializeAsString(), expected.slots(i).SerializeAsString()) << i;
  }
  EXPECT_EQ(parsed.base_ms(), expected.base_ms());
  EXPECT_EQ(parsed.device_names(), expected.device_names());
  // The readings that hundredths hold exactly are written so; 1e300 is not, so slot 0 keeps
  // its doubles, and every time and reading reads back to the same bits.
  EXPECT_EQ(parsed.slots(0).data_size(), 4);
  EXPECT_EQ(parsed.slots(0).data_centi_size(), 0);
  EXPECT_EQ(parsed.slots(1).data_centi_size(), 90);
  EXPECT_EQ(parsed.slots(1).data_size(), 0);
  const ElderState back = from_record(parsed, ids);
  for (size_t i = 0; i < 4; ++i) {
    const RuleSlot* a = s.slots.find(i);
    const RuleSlot* b = back.slots.find(i);
    if (a == nullptr || a->idle()) {
      EXPECT_TRUE(b == nullptr || b->idle()) << i;
      continue;
    }
    ASSERT_NE(b, nullptr) << i;
    EXPECT_EQ(b->since, a->since) << i;
    EXPECT_EQ(b->clear_since, a->clear_since) << i;
    EXPECT_EQ(b->due, a->due) << i;
    EXPECT_EQ(b->last_unless(), a->last_unless()) << i;
    EXPECT_EQ(b->generation, a->generation) << i;
    EXPECT_EQ(back.device_name(b->device), s.device_name(a->device)) << i;
    ASSERT_EQ(b->data().size(), a->data().size()) << i;
    EXPECT_EQ(std::memcmp(b->data().data(), a->data().data(), a->data().size() * sizeof(double)), 0) << i;
    ASSERT_EQ(b->keyed().size(), a->keyed().size()) << i;
    for (size_t k = 0; k < a->keyed().size(); ++k) {
      EXPECT_EQ(b->keyed()[k].seen, a->keyed()[k].seen);
      EXPECT_EQ(back.device_name(b->keyed()[k].device), s.device_name(a->keyed()[k].device));
      EXPECT_EQ(b->keyed()[k].out, a->keyed()[k].out);
    }
  }
  ASSERT_EQ(parsed.alarm_seq().size(), expected.alarm_seq().size());
  for (const auto& [rule, n] : expected.alarm_seq()) EXPECT_EQ(parsed.alarm_seq().at(rule), n);
  ASSERT_EQ(parsed.alarm_meta().size(), expected.alarm_meta().size());
  for (const auto& [rule, m] : expected.alarm_meta()) {
    EXPECT_EQ(parsed.alarm_meta().at(rule).SerializeAsString(), m.SerializeAsString()) << rule;
  }
  ASSERT_EQ(parsed.alarms_size(), 1);
  EXPECT_EQ(parsed.alarms(0).alarm_id(), "e1-fever-2");
  EXPECT_FALSE(parsed.has_elder());
}

// Checkpoints before 2026-12-05 wrote RuleSlotRecords by rule id, times since the epoch and
// device ids inline; a store written then still loads.
TEST(ElderState, RecordsOfTheFormerFormatStillLoad) {
  vigil::state::ElderRecord old;
  auto* rs = old.add_rules();
  rs->set_rule_id("offline");
  rs->set_since_ms(1'700'000'000'000);
  rs->set_due_ms(1'700'000'060'000);
  rs->set_device_id("bed-1");
  rs->set_generation(4);
  rs->set_last_unless_ms(1'699'999'999'000);
  rs->add_data(36.6);
  auto* k = rs->add_keyed();
  k->set_key("door-1");
  k->set_seen_ms(1'700'000'000'500);
  k->set_out(true);
  (*old.mutable_alarm_seq())["offline"] = 2;
  const ElderState s = from_record(old, {"sos", "offline"});
  const RuleSlot* slot = s.slots.find(1);
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(slot->since, 1'700'000'000'000);
  EXPECT_EQ(slot->due, 1'700'000'060'000);
  EXPECT_EQ(slot->last_unless(), 1'699'999'999'000);
  EXPECT_EQ(slot->generation, 4u);
  EXPECT_EQ(s.device_name(slot->device), "bed-1");
  ASSERT_EQ(slot->data().size(), 1u);
  EXPECT_EQ(slot->data()[0], 36.6);
  ASSERT_EQ(slot->keyed().size(), 1u);
  EXPECT_EQ(s.device_name(slot->keyed()[0].device), "door-1");
  EXPECT_TRUE(slot->keyed()[0].out);
  EXPECT_EQ(s.alarm_seq.at("offline"), 2u);
  // Written again, it takes the compact form and reads back the same.
  const auto again = to_record(s, {"sos", "offline"});
  EXPECT_EQ(again.rules_size(), 0);
  ASSERT_EQ(again.slots_size(), 1);
  EXPECT_LT(again.ByteSizeLong(), old.ByteSizeLong());
  const ElderState back = from_record(again, {"offline"});
  ASSERT_NE(back.slots.find(0), nullptr);
  EXPECT_EQ(back.slots.find(0)->since, 1'700'000'000'000);
  EXPECT_EQ(back.device_name(back.slots.find(0)->keyed()[0].device), "door-1");
}

// What the compact form saves on a typical busy elder (the bench's: an absence with a device,
// a per-device offline watch over three devices, a score rule's 13 readings): 152 bytes against
// 259 (engine/registry/README.md "Stored format").
TEST(ElderState, CompactSlotsTakeUnderSixTenthsOfTheFormerBytes) {
  ElderState s;
  s.slots.resize(3);
  const TimeMs t = 1'796'000'000'000;
  s.slots[0].since = t - 3'600'000;
  s.slots[0].due = t + 7'200'000;
  s.slots[0].device = s.intern_device("e098851-d2");
  for (int i = 1; i <= 3; ++i) {
    s.slots[1].add_keyed({t - i * 15'000, s.intern_device("e098851-d" + std::to_string(i)), false});
  }
  s.slots[1].due = t + 600'000;
  s.slots[2].assign_data(std::vector<double>{72, 97, 36.6, 120, 80, 16, 0, 1, 0, 2, 0, 0, 3});
  s.slots[2].since = t;
  const std::vector<std::string> ids{"inactivity_day", "device_offline", "news2_high"};
  std::string compact;
  append_dynamic(s, ids, &compact);
  vigil::state::ElderRecord former;  // the same state as RuleSlotRecords
  for (size_t i = 0; i < ids.size(); ++i) {
    const RuleSlot& slot = *s.slots.find(i);
    auto* rs = former.add_rules();
    rs->set_rule_id(ids[i]);
    rs->set_since_ms(slot.since);
    rs->set_due_ms(slot.due);
    rs->set_device_id(std::string(s.device_name(slot.device)));
    for (double d : slot.data()) rs->add_data(d);
    for (const auto& k : slot.keyed()) {
      auto* kr = rs->add_keyed();
      kr->set_key(std::string(s.device_name(k.device)));
      kr->set_seen_ms(k.seen);
    }
  }
  EXPECT_LT(compact.size() * 10, former.ByteSizeLong() * 6)
      << compact.size() << " bytes against " << former.ByteSizeLong();
  const ElderState back = from_record(former, ids);
  std::string again;
  append_dynamic(back, ids, &again);
  EXPECT_EQ(again, compact) << "the former record, loaded and written, is the compact one";
}

TEST(LazyVector, EmptyCostsOnePointerAndTheLastEraseFreesTheElements) {
  static_assert(sizeof(LazyVector<vigil::v1::AlarmEvent>) == sizeof(void*));
  LazyVector<std::string> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.begin(), v.end());
  EXPECT_EQ(v.header_bytes(), 0u);
  for (int i = 0; i < 5; ++i) v.push_back("a" + std::to_string(i));
  EXPECT_EQ(v.size(), 5u);
  EXPECT_GT(v.header_bytes(), 0u);
  EXPECT_EQ(v[2], "a2");
  std::string* next = v.erase(v.begin() + 1);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(*next, "a2");
  LazyVector<std::string> copy = v;
  EXPECT_EQ(copy.size(), 4u);
  EXPECT_EQ(copy[0], "a0");
  while (!v.empty()) v.erase(v.begin());
  EXPECT_EQ(v.header_bytes(), 0u) << "the heap vector goes with the last element";
  EXPECT_EQ(copy.back(), "a4") << "a copy is its own";
}

TEST(SlotMap, SnapshotPrefetchesReadTheMapAndChangeNothing) {
  // The snapshot's look-ahead (ShardCore::prefetch_elder, stages 3 and 4) walks the slot block
  // and follows each slot's extra: under ASan this reads only what the map holds.
  SlotMap m;
  m.resize(21);
  m.prefetch_block();  // no block yet
  m.prefetch_extras();
  m[4].since = 40;
  const double window[] = {1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5};
  m[11].assign_data(window);  // an extra of two lines and more
  m[12].ext().last_unless = 99;  // an extra of its header alone
  const size_t bytes = m.heap_bytes();
  m.prefetch_block();
  m.prefetch_extras();
  EXPECT_EQ(m.held(), 3u);
  EXPECT_EQ(m.heap_bytes(), bytes);
  EXPECT_EQ(m[4].since, 40);
  ASSERT_EQ(m[11].data().size(), 10u);
  EXPECT_EQ(m[11].data()[9], 10.5);
  EXPECT_EQ(m[12].last_unless(), 99);
}

}  // namespace
}  // namespace vigil::registry

namespace vigil::registry {
namespace {

TEST(SlotMap, AssignedSlotsKeepTheirRuleAcrossRemapResetAndCompaction) {
  // As ShardCore::reload remaps slots to a new rule order and resets a changed rule's slot.
  SlotMap old;
  old.resize(4);
  old[3].since = 30;
  old[1].since = 10;
  old[1].assign_data(std::vector<double>{1, 2});
  SlotMap next;
  next.resize(4);
  const int to[4] = {-1, 0, -1, 2};  // rule 1 -> 0, rule 3 -> 2
  for (size_t h = 0; h < old.held(); ++h) {
    const int j = to[old.rule_at(h)];
    if (j >= 0) next[static_cast<size_t>(j)] = std::move(old.slot_at(h));
  }
  ASSERT_EQ(next.held(), 2u);
  EXPECT_EQ(next.rule_at(0), 2u);  // slots are held in the order first used
  EXPECT_EQ(next.rule_at(1), 0u);
  EXPECT_EQ(next[2].since, 30);
  EXPECT_EQ(next[0].since, 10);
  ASSERT_NE(next.find(0)->extra, nullptr);
  next[2] = RuleSlot{};  // a changed rule starts fresh, still rule 2's slot
  EXPECT_EQ(next.rule_at(0), 2u);
  next[1].since = 5;
  next.compact([](uint32_t, const RuleSlot& s) { return s.idle(); });  // drops rule 2's
  ASSERT_EQ(next.held(), 2u);
  EXPECT_EQ(next.rule_at(0), 0u);
  EXPECT_EQ(next.rule_at(1), 1u);
  EXPECT_EQ(next.find(2), nullptr);
  EXPECT_EQ(next[0].since, 10);
  EXPECT_EQ(next[1].since, 5);
  SlotMap copy = next;  // ElderState copies keep the mapping too
  EXPECT_EQ(copy.rule_at(1), 1u);
  EXPECT_EQ(copy[1].since, 5);
}

TEST(SlotMap, OneBlockHoldsSlotsAndPositionsAndNoneWhileIdle) {
  SlotMap m;
  m.resize(21);
  EXPECT_EQ(m.size(), 21u);
  EXPECT_EQ(m.heap_bytes(), 0u) << "no rule state, no block";
  EXPECT_EQ(m.find(7), nullptr);
  EXPECT_EQ(std::as_const(m)[7].since, 0) << "the const view of a rule without a slot reads idle";
  EXPECT_EQ(m.held(), 0u);
  m[7].since = 70;
  m[3].since = 30;
  m[20].since = 200;
  ASSERT_EQ(m.held(), 3u);
  // 3 slots and 21 positions in one block (grown one slot at a time).
  EXPECT_EQ(m.heap_bytes(), 3 * sizeof(RuleSlot) + 21 * sizeof(uint16_t));
  m.resize(25);  // more rules: positions grow, slots stay
  EXPECT_EQ(m.size(), 25u);
  EXPECT_EQ(m[20].since, 200);
  EXPECT_EQ(m.find(24), nullptr);
  m.resize(10);  // fewer rules: slots of rules past 10 are dropped
  EXPECT_EQ(m.held(), 2u);
  EXPECT_EQ(m[7].since, 70);
  EXPECT_EQ(m[3].since, 30);
  SlotMap moved = std::move(m);
  EXPECT_EQ(moved[7].since, 70);
  EXPECT_EQ(m.held(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(m.heap_bytes(), 0u);  // NOLINT(bugprone-use-after-move)
  SlotMap copy(moved);
  copy[3].since = 31;
  EXPECT_EQ(moved[3].since, 30) << "a copy is its own";
  moved.compact([](uint32_t, const RuleSlot&) { return true; });
  EXPECT_EQ(moved.held(), 0u);
  EXPECT_EQ(moved.heap_bytes(), 0u) << "compacted to nothing gives the block back";
  EXPECT_EQ(moved.find(7), nullptr);
  moved[9].since = 90;  // and a new slot after that works
  EXPECT_EQ(moved.find(9)->since, 90);
  copy = moved;
  EXPECT_EQ(copy.held(), 1u);
  EXPECT_EQ(copy[9].since, 90);
}

}  // namespace
}  // namespace vigil::registry
