// ShardCore's background load (begin_load / continue_load, engine/runtime/README.md
// "Background load"): the shard takes records while it loads its stored elders in steps. An
// elder a record asks for first is read from the store at once, with its alarms and timers,
// and the later step does not load it again over what the record changed; every other stored
// elder of the shard comes in through the steps, timers re-armed, and none of another shard.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/time_util.h"
#include "engine/pipeline/shard_router.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/outbox.h"
#include "engine/runtime/shard_core.h"
#include "engine/runtime/tests/shard_test_input.h"
#include "engine/state/state_store.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr uint32_t kShards = 2;
// More than one step of the load (ShardCore::refill reads 1,024 keys a step), so that the
// walk crosses step boundaries in both prefixes.
constexpr uint32_t kElders = 3000;

std::shared_ptr<const rules::RuleSet> rule_set() { return test_input::shard_test_rules(); }

std::string elder_id(uint32_t i) { return "load-" + std::to_string(i); }

InputRecord event(const std::string& elder, const std::string& type, TimeMs ts) {
  return test_input::telemetry(elder, type, ts, 0);
}

InputRecord profile(const std::string& elder) { return test_input::registration(elder, 0); }

//! One shard with its sink and dispatcher, as an owner thread has them.
struct Shard {
  Shard(uint32_t index, const std::shared_ptr<const rules::RuleSet>& rules)
      : core(index, kShards, rules, sink, dispatch) {}
  OwnerSink sink{nullptr, nullptr};
  DispatchCore dispatch{dispatch::DispatchConfig{}, sink};
  ShardCore core;
  //! The alarms emitted since the last call: (elder, rule, count).
  std::vector<std::tuple<std::string, std::string, uint32_t>> alarms() {
    std::vector<OutRecord> recs;
    sink.seal(recs);
    std::vector<std::tuple<std::string, std::string, uint32_t>> out;
    for (auto& r : recs) {
      if (r.topic != OutTopic::kAlarms) continue;
      vigil::v1::AlarmEvent a;
      EXPECT_TRUE(a.ParseFromString(r.bytes));
      out.emplace_back(a.elder_id(), a.rule_id(), a.count());
    }
    return out;
  }
};

class ShardLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_shard_load_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    rules_ = rule_set();
    auto store = state::StateStore::open(dir_.string());
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(store.value());
    // The state before the restart: every elder registered with an open sos alarm; every
    // third also fell (fall_no_recovery armed, due 60 s later); both shards' elders.
    std::vector<std::unique_ptr<Shard>> before;
    for (uint32_t s = 0; s < kShards; ++s) before.push_back(std::make_unique<Shard>(s, rules_));
    for (uint32_t i = 0; i < kElders; ++i) {
      const std::string id = elder_id(i);
      ShardCore& core = before[pipeline::shard_of(id, kShards)]->core;
      core.process(profile(id), kT0);
      core.process(event(id, "sos", kT0 + 1000), kT0 + 1000);
      if (i % 3 == 0) core.process(event(id, "fall", kT0 + 2000), kT0 + 2000);
    }
    std::vector<state::StateOps> ops(kShards);
    std::vector<const state::StateOps*> all;
    for (uint32_t s = 0; s < kShards; ++s) {
      before[s]->core.collect_dirty(ops[s]);
      all.push_back(&ops[s]);
      timers_before_ += before[s]->core.timers();
    }
    ASSERT_TRUE(store_->commit(all, {{{InTopic::kTelemetry, 0}, 1}}));
    ASSERT_EQ(timers_before_, (kElders + 2) / 3) << "one fall_no_recovery timer per faller";
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::shared_ptr<const rules::RuleSet> rules_;
  std::unique_ptr<state::StateStore> store_;
  size_t timers_before_ = 0;
};

TEST_F(ShardLoad, RecordsBeforeTheirElderIsLoadedSeeItsStoredStateAndTheStepsLoadTheRest) {
  std::vector<std::unique_ptr<Shard>> after;
  for (uint32_t s = 0; s < kShards; ++s) {
    after.push_back(std::make_unique<Shard>(s, rules_));
    after[s]->core.begin_load(*store_);
    EXPECT_TRUE(after[s]->core.loading());
  }
  // Before any step: the last elder (its stored keys come late in the walk) presses sos
  // again, and elder 3, who fell, gets up (the fall's timer must be cancelled, not fire).
  const std::string last = elder_id(kElders - 1);
  const std::string faller = elder_id(3);
  Shard& last_shard = *after[pipeline::shard_of(last, kShards)];
  Shard& faller_shard = *after[pipeline::shard_of(faller, kShards)];
  last_shard.core.process(event(last, "sos", kT0 + 5000), kT0 + 5000);
  faller_shard.core.process(event(faller, "motion", kT0 + 5000), kT0 + 5000);
  // The sos is a repeat of the stored open alarm (count 2), not a new one.
  const auto first = last_shard.alarms();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0], std::make_tuple(last, std::string("sos"), 2u));
  uint64_t asked = 0;
  for (const auto& sh : after) asked += sh->core.load_stats().on_demand;
  EXPECT_EQ(asked, 2u);

  // The steps, a few elders at a time, with records between them (as the live loop does).
  size_t steps = 0;
  for (uint32_t s = 0; s < kShards; ++s) {
    while (!after[s]->core.continue_load(7)) ++steps;
    EXPECT_FALSE(after[s]->core.loading());
  }
  EXPECT_GT(steps, kElders / 7 / 2);
  size_t loaded = 0, timers = 0, on_demand = 0;
  for (uint32_t s = 0; s < kShards; ++s) {
    const auto st = after[s]->core.load_stats();
    EXPECT_EQ(st.corrupt, 0u);
    loaded += st.background + st.on_demand;
    on_demand += st.on_demand;
    timers += after[s]->core.timers();
    // No elder of the other shard, and every one of this shard's.
    for (uint32_t i = 0; i < kElders; ++i) {
      const std::string id = elder_id(i);
      EXPECT_EQ(after[s]->core.elder(id) != nullptr, pipeline::shard_of(id, kShards) == s) << id;
    }
  }
  EXPECT_EQ(loaded, kElders);
  EXPECT_EQ(on_demand, 2u) << "the steps did not load the two elders again";
  // Every faller's timer is armed again (the wheel may still hold the cancelled one of the
  // faller who got up; the firing below shows it is cancelled).
  EXPECT_GE(timers, timers_before_ - 1);

  // Each shard's elders still hold their open alarm: another sos repeats it.
  for (uint32_t i = 0; i < kElders; i += 97) {
    const std::string id = elder_id(i);
    Shard& sh = *after[pipeline::shard_of(id, kShards)];
    (void)sh.alarms();
    sh.core.process(event(id, "sos", kT0 + 6000), kT0 + 6000);
    const auto got = sh.alarms();
    ASSERT_EQ(got.size(), 1u) << id;
    EXPECT_EQ(std::get<2>(got[0]), id == last ? 3u : 2u) << id;
  }
  // The fall timers fire once due, for every faller but the one who got up.
  size_t fired = 0;
  for (uint32_t s = 0; s < kShards; ++s) {
    (void)after[s]->alarms();
    after[s]->core.advance_to(kT0 + 2000 + 61'000);
    for (const auto& [id, rule, count] : after[s]->alarms()) {
      if (rule != "fall_no_recovery") continue;
      ++fired;
      EXPECT_NE(id, faller);
    }
  }
  EXPECT_EQ(fired, timers_before_ - 1);
}

TEST_F(ShardLoad, AnElderNewSinceTheStoreIsNotMistakenForAStoredOne) {
  Shard sh(0, rules_);
  sh.core.begin_load(*store_);
  // An id that sorts among the stored ones but was never stored, of shard 0.
  std::string fresh;
  for (uint32_t i = 0; fresh.empty(); ++i) {
    const std::string id = "load-1a" + std::to_string(i);
    if (pipeline::shard_of(id, kShards) == 0) fresh = id;
  }
  sh.core.process(event(fresh, "sos", kT0 + 5000), kT0 + 5000);
  const auto got = sh.alarms();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_tuple(fresh, std::string("sos"), 1u));
  EXPECT_EQ(sh.core.load_stats().on_demand, 0u);
  while (!sh.core.continue_load(512)) {
  }
  EXPECT_NE(sh.core.elder(fresh), nullptr);
  size_t ours = 0;
  for (uint32_t i = 0; i < kElders; ++i) ours += pipeline::shard_of(elder_id(i), kShards) == 0;
  EXPECT_EQ(sh.core.load_stats().background, ours);
}

}  // namespace
}  // namespace vigil::runtime
