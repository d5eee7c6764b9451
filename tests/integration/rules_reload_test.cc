// Hot reload without a broker: ShardCore's rule-set swap (kept, changed, removed rules) and the
// RulesWatcher's refusal of a broken file; ShardCore's copy-on-write checkpoint snapshot. The live path through the rings is in
// rules_live_test.cc.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/core/metrics.h"
#include "engine/core/time_util.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/rules_watcher.h"
#include "engine/runtime/shard_core.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z

std::shared_ptr<const rules::RuleSet> load_text(const std::string& yaml) {
  auto r = rules::load_rule_text(yaml, "test.yaml");
  for (const auto& d : r.diagnostics) ADD_FAILURE() << d.str();
  return r.rules;
}

InputRecord event(const std::string& elder, const std::string& type, double value, TimeMs ts) {
  vigil::v1::DeviceEvent ev;
  ev.set_event_id(elder + type + std::to_string(ts));
  ev.set_device_id(elder + "-dev");
  ev.set_elder_id(elder);
  ev.set_type(type);
  ev.set_value(value);
  set_ts(ev.mutable_ts(), ts);
  InputRecord rec;
  rec.topic = InTopic::kTelemetry;
  rec.key = elder;
  rec.payload = ev.SerializeAsString();
  return rec;
}

const char* kBase = R"(rules:
  - id: sos
    kind: event
    reads: [sos]
    severity: CRITICAL
  - id: fall_no_recovery
    kind: sequence
    reads: [fall]
    then: [fall_cancel, motion]
    within: duration_s
    expect: absent
    params: {duration_s: 60}
    severity: CRITICAL
  - id: hr_high
    kind: threshold
    reads: [heart_rate]
    params: {threshold: 120, duration_s: 600}
    when: value > threshold
    duration: duration_s
    severity: MAJOR
)";

class ShardReload : public ::testing::Test {
 protected:
  std::string out_;
  egress::JsonLinesSink sink_{&out_};
  runtime::DispatchCore dispatch_{dispatch::DispatchConfig{}, sink_};
};

TEST_F(ShardReload, KeptRulesKeepTimersChangedStartFreshRemovedAreCleared) {
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_);
  shard.process(event("e1", "sos", 1, kT0), kT0);
  shard.process(event("e1", "fall", 1, kT0 + 1000), kT0 + 1000);       // timer due +61 s
  shard.process(event("e1", "heart_rate", 130, kT0 + 2000), kT0 + 2000);  // episode since +2 s
  ASSERT_NE(out_.find("\"rule_id\":\"sos\""), std::string::npos);
  out_.clear();

  // sos removed, hr_high's threshold changed, fall_no_recovery unchanged (moved to index 0).
  std::string next = kBase;
  next.erase(next.find("  - id: sos"), next.find("  - id: fall_no_recovery") - next.find("  - id: sos"));
  next.replace(next.find("threshold: 120"), 14, "threshold: 140");
  const auto stats = shard.reload(load_text(next), kT0 + 3000);
  EXPECT_EQ(stats.kept, 1u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(stats.removed, 1u);
  EXPECT_EQ(stats.alarms_cleared, 1u);
  EXPECT_EQ(stats.timers_rearmed, 1u);
  EXPECT_NE(out_.find("\"rule_id\":\"sos\",\"severity\":\"CRITICAL\",\"status\":\"CLEARED_UNACK\""),
            std::string::npos) << out_;
  EXPECT_NE(out_.find("rule_removed"), std::string::npos) << out_;
  out_.clear();

  // 130 is under the new threshold: no new episode; hr_high's old episode was dropped.
  shard.process(event("e1", "heart_rate", 130, kT0 + 5000), kT0 + 5000);
  shard.advance_to(kT0 + 20 * kMinute);
  EXPECT_EQ(out_.find("hr_high"), std::string::npos) << out_;
  // The fall timer survived the swap and fires once, at its own due time.
  const auto first = out_.find("\"alarm_id\":\"e1:fall_no_recovery:1\"");
  ASSERT_NE(first, std::string::npos) << out_;
  EXPECT_NE(out_.find("\"raised_at\":\"2026-03-01T08:01:01Z\""), std::string::npos) << out_;
  EXPECT_EQ(out_.find("\"status\":\"ACTIVE_UNACK\"", out_.find("\"status\":\"ACTIVE_UNACK\"") + 1),
            std::string::npos)
      << "fall_no_recovery fired twice: " << out_;
}

TEST_F(ShardReload, TimersArmedBeforeASwapThatMovesIndicesAreNotMisrouted) {
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_);
  shard.process(event("e1", "fall", 1, kT0), kT0);  // fall_no_recovery is index 1
  // A new rule first: every old rule moves one index up.
  std::string next = std::string("rules:\n  - id: smoke\n    kind: event\n    reads: [smoke]\n") +
                     "    severity: CRITICAL\n" + std::string(kBase).substr(7);
  shard.reload(load_text(next), kT0 + 1000);
  shard.advance_to(kT0 + 2 * kMinute);
  EXPECT_NE(out_.find("\"alarm_id\":\"e1:fall_no_recovery:1\""), std::string::npos) << out_;
  EXPECT_EQ(shard.timers(), 0u);
}

TEST_F(ShardReload, AThresholdChangedInPlaceKeepsTheOtherTimersAcrossManyReloads) {
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_);
  shard.process(event("e1", "fall", 1, kT0), kT0);                         // timer due +60 s
  shard.process(event("e1", "heart_rate", 130, kT0 + 1000), kT0 + 1000);  // hr_high episode
  const size_t armed = shard.timers();
  ASSERT_GE(armed, 1u);
  std::string next = kBase;
  next.replace(next.find("threshold: 120"), 14, "threshold: 140");
  const auto a = load_text(kBase), b = load_text(next);
  runtime::ReloadStats stats;
  for (int i = 0; i < 1001; ++i) stats = shard.reload(i % 2 ? a : b, kT0 + 2000);  // ends on b
  EXPECT_EQ(stats.kept, 2u);
  EXPECT_EQ(stats.changed, 1u);
  EXPECT_EQ(stats.timers_rearmed, 1u);  // fall_no_recovery's, kept with its handle
  EXPECT_EQ(shard.timers(), 1u);        // hr_high's episode (if it had a timer) was dropped
  shard.process(event("e1", "heart_rate", 130, kT0 + 3000), kT0 + 3000);  // under 140 now
  shard.advance_to(kT0 + 20 * kMinute);
  EXPECT_EQ(out_.find("hr_high"), std::string::npos) << out_;
  const auto first = out_.find("\"alarm_id\":\"e1:fall_no_recovery:1\"");
  ASSERT_NE(first, std::string::npos) << out_;
  EXPECT_NE(out_.find("\"raised_at\":\"2026-03-01T08:01:00Z\""), std::string::npos) << out_;
  EXPECT_EQ(out_.find("\"status\":\"ACTIVE_UNACK\"", out_.find("\"status\":\"ACTIVE_UNACK\"") + 1),
            std::string::npos)
      << "fall_no_recovery fired twice: " << out_;
}

TEST_F(ShardReload, AChangedRuleDirtiesOnlyTheEldersThatHeldItsState) {
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_);
  shard.process(event("e1", "heart_rate", 130, kT0), kT0);  // e1: an hr_high episode
  shard.process(event("e2", "fall", 1, kT0), kT0);          // e2: fall_no_recovery only
  state::StateOps before;
  shard.collect_dirty(before);
  ASSERT_EQ(before.puts.size(), 2u) << "e/ of both elders";

  std::string next = kBase;
  next.replace(next.find("threshold: 120"), 14, "threshold: 140");  // in place: same indices
  const auto stats = shard.reload(load_text(next), kT0 + 1000);
  ASSERT_EQ(stats.changed, 1u);
  // e1 loses its hr_high slot and is written again; e2 held nothing of hr_high, so nothing of
  // it changed and the checkpoint does not carry it.
  state::StateOps after;
  shard.collect_dirty(after);
  std::vector<std::string> keys;
  for (const auto& [k, v] : after.puts) keys.emplace_back(k);
  for (const auto& k : after.deletes) keys.push_back("deleted " + k);
  EXPECT_EQ(keys, std::vector<std::string>{"e/e1"});
}

TEST_F(ShardReload, EventBehindItsPartitionWatermarkIsLateButStillApplied) {
  runtime::ShardOptions options;
  options.max_out_of_order_ms = 2000;
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_, options);
  const uint64_t late_before = metrics().late_events.get();
  shard.process(event("e1", "heart_rate", 70, kT0 + 10'000), kT0);
  shard.process(event("e2", "heart_rate", 70, kT0 + 8'500), kT0);  // within the bound
  EXPECT_EQ(metrics().late_events.get(), late_before);
  InputRecord other = event("e3", "heart_rate", 70, kT0 + 1000);
  other.partition = 1;  // watermarks are per partition
  shard.process(other, kT0);
  EXPECT_EQ(metrics().late_events.get(), late_before);
  shard.process(event("e4", "sos", 1, kT0 + 7'000), kT0);  // 3 s behind partition 0
  EXPECT_EQ(metrics().late_events.get(), late_before + 1);
  EXPECT_NE(out_.find("\"alarm_id\":\"e4:sos:1\""), std::string::npos) << "a late sos is still an sos";
}

TEST_F(ShardReload, TimerFiredLongAfterItsDueTimeSaysLate) {
  runtime::ShardOptions options;
  options.late_timer_ms = 1000;
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_, options);
  shard.process(event("e1", "fall", 1, kT0), kT0);
  shard.advance_to(kT0 + 60'500);  // 0.5 s after due: on time
  ASSERT_NE(out_.find("e1:fall_no_recovery:1"), std::string::npos) << out_;
  EXPECT_EQ(out_.find("late"), std::string::npos) << out_;
  out_.clear();
  shard.process(event("e2", "fall", 1, kT0 + 61'000), kT0 + 61'000);
  shard.advance_to(kT0 + 10 * kMinute);  // the engine was away: 8 min 1 s after due
  EXPECT_NE(out_.find("within 60 s (late: due 2026-03-01T08:02:01Z, fired 479 s after)"),
            std::string::npos)
      << out_;
  EXPECT_NE(out_.find("\"raised_at\":\"2026-03-01T08:02:01Z\""), std::string::npos) << out_;
}

// The live loop fires due timers in slices (Engine::shard_loop, ShardCore::advance_to's
// budget), so that a burst due at one instant does not hold the records back. Fired in slices
// of 7, a burst of 300 rule timers and the escalations of the 300 alarms they raise make exactly
// the outputs one call makes, in the same order.
TEST(ShardTimerBudget, ABurstFiredInSlicesMakesTheSameOutputsInTheSameOrder) {
  auto run = [](size_t budget, int* calls) {
    std::string out;
    egress::JsonLinesSink sink(&out);
    runtime::DispatchCore dispatch(dispatch::DispatchConfig{}, sink);
    runtime::ShardCore shard(0, 1, load_text(kBase), sink, dispatch);
    for (int i = 0; i < 300; ++i) {
      shard.process(event("e" + std::to_string(i), "fall", 1, kT0), kT0);  // all due at +60 s
    }
    *calls = 1;
    while (!shard.advance_to(kT0 + kHour, budget)) ++*calls;  // past both escalations
    return out;
  };
  int one = 0, sliced = 0;
  const std::string all = run(SIZE_MAX, &one);
  const std::string slices = run(7, &sliced);
  EXPECT_EQ(one, 1);
  EXPECT_GE(sliced, (300 + 2 * 300) / 7) << "one call per 7 timers and escalations";
  EXPECT_EQ(slices, all);
  EXPECT_NE(all.find("e299:fall_no_recovery:1"), std::string::npos);
  EXPECT_NE(all.find("escalation"), std::string::npos) << "the alarms' escalations fired too";
}

TEST(RulesWatcher, BrokenFileIsRefusedWithLocatedErrorsAndAFixReloads) {
  TempDir dir;
  const std::string file = dir.path() + "/pack.yaml";
  std::ofstream(file) << kBase;
  runtime::RulesWatcher watcher(dir.path());
  EXPECT_EQ(watcher.poll(), nullptr);  // nothing changed since construction

  std::ofstream(file) << std::string(kBase) + "  - id: broken\n    kind: nonsense\n";
  EXPECT_EQ(watcher.poll(), nullptr);
  EXPECT_EQ(watcher.refusals(), 1u);
  ASSERT_FALSE(watcher.last_diagnostics().empty());
  const std::string where = watcher.last_diagnostics()[0].str();
  EXPECT_EQ(where.rfind(file + ":", 0), 0u) << where;  // file:line:col: message
  EXPECT_GT(watcher.last_diagnostics()[0].line, 0) << where;
  EXPECT_EQ(watcher.poll(), nullptr) << "a refused file is reported once, not on every poll";

  std::ofstream(file) << kBase << "  - id: smoke\n    kind: event\n    reads: [smoke]\n"
                      << "    severity: CRITICAL\n";
  auto next = watcher.poll();
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(next->rules().size(), 4u);
  EXPECT_NE(watcher.poll(true), nullptr) << "SIGHUP reloads even when nothing changed";
}

// Copy-on-write checkpoint snapshots (ShardCore::begin_snapshot): what a snapshot writes is the
// state at its barrier, even when the elder changes before the snapshot reaches it.
// The rule's slot as `ops` stores it under `key` (read back as a restart would), if any.
std::optional<registry::RuleSlot> stored_slot(const state::StateOps& ops, const std::string& key,
                                              const std::string& rule) {
  for (const auto& [k, v] : ops.puts) {
    if (k != key) continue;
    vigil::state::ElderRecord r;
    EXPECT_TRUE(r.ParseFromArray(v.data(), static_cast<int>(v.size())));
    const registry::ElderState e = registry::from_record(r, {rule});
    const registry::RuleSlot* slot = e.slots.find(0);
    if (slot != nullptr && !slot->idle()) return *slot;
  }
  return std::nullopt;
}

TEST_F(ShardReload, SnapshotHoldsTheBarrierStateOfAnElderChangedAfterIt) {
  runtime::ShardCore shard(0, 1, load_text(kBase), sink_, dispatch_);
  shard.process(event("e1", "fall", 1, kT0), kT0);  // arms fall_no_recovery
  shard.process(event("e2", "fall", 1, kT0), kT0);
  shard.process(event("e3", "fall", 1, kT0), kT0);
  state::StateOps ops;
  shard.begin_snapshot(ops);  // the barrier
  EXPECT_TRUE(shard.snapshot_in_progress());
  // After the barrier e1 recovers: its sequence is over and its slot goes idle.
  shard.process(event("e1", "fall_cancel", 1, kT0 + 5 * kSecond), kT0 + 5 * kSecond);
  EXPECT_FALSE(shard.continue_snapshot(1)) << "one of the other two elders per step";
  EXPECT_TRUE(shard.continue_snapshot(1));
  EXPECT_FALSE(shard.snapshot_in_progress());
  for (const char* id : {"e1", "e2", "e3"}) {
    const auto slot = stored_slot(ops, std::string("e/") + id, "fall_no_recovery");
    ASSERT_TRUE(slot.has_value()) << id << ": the fall, as it was at the barrier";
    EXPECT_EQ(slot->since, kT0) << id;
    EXPECT_EQ(slot->due, kT0 + 60 * kSecond) << id;
  }
  // The change after the barrier belongs to the next snapshot: e1 only, its fall over.
  state::StateOps next;
  shard.collect_dirty(next);
  EXPECT_FALSE(stored_slot(next, "e/e1", "fall_no_recovery").has_value());
  const bool e1_written = std::any_of(next.puts.begin(), next.puts.end(),
                                      [](const auto& p) { return p.first == "e/e1"; }) ||
                          std::count(next.deletes.begin(), next.deletes.end(), "e/e1") == 1;
  EXPECT_TRUE(e1_written);
  for (const auto& [k, v] : next.puts) EXPECT_TRUE(k == "e/e1") << k << " was not changed";
}

}  // namespace
}  // namespace vigil::testing
