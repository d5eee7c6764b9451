// ShardCore's timer handles (timer_handles.h): a column only for rules that can arm a timer
// (rules::RuleEngine::may_arm), elders in chunks. The table itself, and the whole shipped pack
// under a simulated day: no rule arms a timer without a column.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/shard_core.h"
#include "engine/runtime/timer_handles.h"
#include "engine/sim/population.h"
#include "engine/sim/telemetry_gen.h"

namespace vigil::runtime {
namespace {

TEST(TimerHandles, OnlyRulesThatArmHaveACellAndEveryElderItsOwn) {
  TimerHandles h;
  h.reset({true, false, true});
  EXPECT_TRUE(h.has_column(0));
  EXPECT_FALSE(h.has_column(1));
  EXPECT_EQ(h.arms(), (std::vector<bool>{true, false, true}));
  h.ensure(3000);  // three chunks
  EXPECT_EQ(h.find(5, 1), nullptr);
  EXPECT_EQ(h.get(5, 1), TimerHandles::kNil);
  std::set<uint32_t*> cells;
  for (uint32_t k = 0; k < 3000; ++k) {
    for (uint32_t r : {0u, 2u}) {
      uint32_t* c = h.find(k, r);
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(*c, TimerHandles::kNil) << "a new elder starts with no timer";
      cells.insert(c);
      *c = k * 4 + r;
    }
  }
  EXPECT_EQ(cells.size(), 6000u) << "two cells per elder, none shared";
  EXPECT_EQ(h.get(2999, 2), 2999u * 4 + 2);
  size_t armed = 0;
  h.each_armed([&](uint32_t) { ++armed; });
  EXPECT_EQ(armed, 6000u);
  h.each_of(7, [](uint32_t& c) { c = TimerHandles::kNil; });
  EXPECT_EQ(h.get(7, 0), TimerHandles::kNil);
  EXPECT_EQ(h.get(7, 2), TimerHandles::kNil);
  EXPECT_EQ(h.get(8, 0), 8u * 4);
  EXPECT_LT(h.heap_bytes(), 3 * 1024 * 2 * sizeof(uint32_t) + 1024) << "no cell for rule 1";
}

TEST(TimerHandles, TheShippedPackArmsOnlyRulesWithAColumnOverASimulatedDay) {
  auto loaded = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  ASSERT_TRUE(loaded.ok());
  size_t columns = 0;
  for (const auto& r : loaded.rules->rules()) columns += rules::RuleEngine::may_arm(r);
  EXPECT_LT(columns, loaded.rules->rules().size()) << "some rules of the pack never arm";

  sim::SimOptions so;
  so.elders = 60;
  so.events_per_s = 5;  // a record per elder per 12 s of event time
  so.sos_per_elder_per_hour = 0.5;
  so.fall_per_elder_per_hour = 0.5;
  so.hazard_per_elder_per_hour = 0.2;
  const sim::Population pop = sim::make_population(so);
  egress::DiscardSink sink;
  DispatchCore dispatch(dispatch::DispatchConfig{}, sink);
  ShardCore shard(0, 1, loaded.rules, sink, dispatch);
  constexpr TimeMs kT0 = 1'772'323'200'000;  // 2026-03-01T00:00:00Z
  for (const auto& [key, update] : pop.registry_updates()) {
    InputRecord rec;
    rec.topic = InTopic::kRegistry;
    rec.key = key;
    rec.payload = update.SerializeAsString();
    shard.process(rec, kT0);
  }
  sim::TelemetryGenerator gen(pop, so);
  std::vector<sim::SimRecord> batch;
  size_t events = 0;
  for (TimeMs t = kT0; t < kT0 + 24 * kHour; t += 10 * kMinute) {
    batch.clear();
    gen.generate(t, t + 10 * kMinute, batch);
    for (const auto& r : batch) {
      if (r.topic != InTopic::kTelemetry) continue;
      InputRecord rec;
      rec.topic = r.topic;
      rec.key = r.key;
      rec.payload = r.proto().SerializeAsString();
      shard.advance_to(r.ts, SIZE_MAX);
      shard.process(rec, r.ts);
      ++events;
    }
  }
  shard.advance_to(kT0 + 25 * kHour, SIZE_MAX);
  EXPECT_GT(events, 10'000u);
  EXPECT_GT(shard.timers(), 0u) << "the day armed timers (absence, medication, ...)";
  EXPECT_FALSE(shard.armed_without_handle())
      << "a rule RuleEngine::may_arm says never arms armed a timer";
}

}  // namespace
}  // namespace vigil::runtime
