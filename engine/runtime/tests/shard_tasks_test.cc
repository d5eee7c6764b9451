// ShardCore with tasks (ShardOptions::task_partitions): the task stamps on outputs and state
// ops, drop_task() and restore() of a task's elders, and records on the wrong partition.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/core/time_util.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/outbox.h"
#include "engine/runtime/shard_core.h"
#include "engine/runtime/tests/shard_test_input.h"
#include "engine/state/task.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
constexpr int32_t kTasks = 4;

std::shared_ptr<const rules::RuleSet> rule_set() { return test_input::shard_test_rules(); }

//! A telemetry record on its elder's task partition (or on `partition` if given).
InputRecord event(const std::string& elder, const std::string& type, TimeMs ts,
                  int32_t partition = -1) {
  return test_input::telemetry(elder, type, ts,
                               partition >= 0 ? partition : state::task_of(elder, kTasks));
}

InputRecord profile(const std::string& elder) {
  return test_input::registration(elder, state::task_of(elder, kTasks));
}

//! An owner thread's sink and what it sealed, decoded enough to check.
struct Out {
  OutTopic topic;
  std::string key;
  int32_t task;
  vigil::v1::AlarmEvent alarm;  // for kAlarms
  std::string reason;           // for kDeadletter
};

class Owner {
 public:
  OwnerSink sink{nullptr, nullptr};
  DispatchCore dispatch{dispatch::DispatchConfig{}, sink};
  std::vector<Out> take() {
    std::vector<OutRecord> recs;
    sink.seal(recs);
    std::vector<Out> out;
    for (auto& r : recs) {
      Out o{r.topic, r.key, r.task, {}, {}};
      if (r.topic == OutTopic::kAlarms) {
        EXPECT_TRUE(o.alarm.ParseFromString(r.bytes));
      }
      if (r.topic == OutTopic::kDeadletter) {
        vigil::v1::DeadLetter dl;
        EXPECT_TRUE(dl.ParseFromString(r.bytes));
        o.reason = dl.reason();
      }
      out.push_back(std::move(o));
    }
    return out;
  }
};

ShardOptions with_tasks() {
  ShardOptions o;
  o.task_partitions = kTasks;
  return o;
}

size_t raised(const std::vector<Out>& out, const std::string& elder, const std::string& rule) {
  return static_cast<size_t>(std::count_if(out.begin(), out.end(), [&](const Out& o) {
    return o.topic == OutTopic::kAlarms && o.alarm.elder_id() == elder &&
           o.alarm.rule_id() == rule && o.alarm.status() == vigil::v1::ACTIVE_UNACK &&
           o.alarm.count() == 1;
  }));
}

class ShardTasks : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 16; ++i) elders_.push_back("elder-" + std::to_string(i));
    target_ = state::task_of(elders_[0], kTasks);
    for (const auto& id : elders_) {
      if (state::task_of(id, kTasks) == target_) in_task_.insert(id);
    }
    ASSERT_GE(in_task_.size(), 2u);
    ASSERT_LT(in_task_.size(), elders_.size()) << "the elders must span several tasks";
    for (const auto& id : elders_) {
      if (!in_task_.count(id)) other_ = id;
    }
  }
  std::vector<std::string> elders_;
  std::set<std::string> in_task_;
  int32_t target_ = 0;
  std::string other_;  // an elder of another task
};

TEST_F(ShardTasks, StampsDropsAndRestoresATasksElders) {
  Owner a;
  ShardCore shard(0, 1, rule_set(), a.sink, a.dispatch, with_tasks());
  for (const auto& id : elders_) {
    shard.process(profile(id), kT0);
    shard.process(event(id, "sos", kT0), kT0);  // CRITICAL: an alarm with escalations
  }
  const std::string& faller = elders_[0];
  shard.process(event(faller, "fall", kT0 + 1000), kT0 + 1000);  // fall_no_recovery at +61 s
  shard.process(event(other_, "fall", kT0 + 1000), kT0 + 1000);
  for (const auto& o : a.take()) {
    EXPECT_EQ(o.task, state::task_of(o.key, kTasks)) << name(o.topic) << " " << o.key;
  }

  // Every p/ and e/ op carries its elder's task; the alarm history (h/) no task.
  state::StateOps ops;
  shard.collect_dirty(ops);
  ASSERT_EQ(ops.del_tasks.size(), ops.deletes.size());
  std::vector<std::pair<std::string, std::string>> kv;  // task target_'s, as a changelog holds
  std::set<std::string> p_keys, e_keys;
  for (size_t i = 0; i < ops.puts.size(); ++i) {
    const std::string key(ops.puts[i].first);
    if (key.rfind("p/", 0) == 0 || key.rfind("e/", 0) == 0) {
      EXPECT_EQ(ops.puts.task(i), state::task_of(key.substr(2), kTasks)) << key;
      (key[0] == 'p' ? p_keys : e_keys).insert(key.substr(2));
      if (ops.puts.task(i) == target_) kv.emplace_back(key, ops.puts[i].second);
    } else {
      EXPECT_EQ(ops.puts.task(i), -1) << key;
    }
  }
  EXPECT_EQ(p_keys.size(), elders_.size());
  EXPECT_EQ(e_keys.size(), elders_.size());
  EXPECT_EQ(kv.size(), 2 * in_task_.size());
  std::reverse(kv.begin(), kv.end());  // any order

  // Drop: exactly the task's elders go, and none of their timers or escalations fire.
  const size_t slots = shard.elder_slots();
  ASSERT_EQ(shard.timers(), 2u);  // the two fall_no_recovery timers
  shard.drop_task(target_);
  EXPECT_EQ(shard.timers(), 1u) << "the dropped elder's timer must be cancelled";
  EXPECT_EQ(shard.elders(), elders_.size() - in_task_.size());
  for (const auto& id : elders_) {
    EXPECT_EQ(shard.elder(id) == nullptr, in_task_.count(id) == 1) << id;
  }
  shard.advance_to(kT0 + 10 * kMinute);
  const auto after_drop = a.take();
  EXPECT_EQ(raised(after_drop, other_, "fall_no_recovery"), 1u);
  size_t escalations = 0;
  for (const auto& o : after_drop) {
    EXPECT_EQ(in_task_.count(o.key), 0u)
        << "dropped elder " << o.key << " emitted on " << name(o.topic);
    EXPECT_EQ(o.task, state::task_of(o.key, kTasks));
    if (o.topic == OutTopic::kOperator) ++escalations;
  }
  // The kept elders' sos alarms escalate at 60 s and 180 s; other_'s fall_no_recovery alarm
  // adds its operator task and its own two escalations.
  EXPECT_EQ(escalations, 2 * (elders_.size() - in_task_.size()) + 3);
  state::StateOps none;
  shard.collect_dirty(none);
  for (const auto& [k, v] : none.puts) {
    EXPECT_EQ(in_task_.count(std::string(k.substr(2))), 0u) << "dropped elder written: " << k;
  }

  // New elders reuse the freed records.
  for (size_t i = 0; i < in_task_.size(); ++i) {
    shard.process(event("newcomer-" + std::to_string(i), "motion", kT0 + 11 * kMinute),
                  kT0 + 11 * kMinute);
  }
  EXPECT_EQ(shard.elder_slots(), slots);
  EXPECT_EQ(shard.elders(), elders_.size());

  // Restore the task into a fresh shard: state as it was, the pending fall timer fires once.
  Owner b;
  ShardCore next(0, 1, rule_set(), b.sink, b.dispatch, with_tasks());
  next.restore(kv, kT0 + 2000);
  EXPECT_EQ(next.elders(), in_task_.size());
  for (const auto& id : in_task_) {
    const registry::ElderState* e = next.elder(id);
    ASSERT_NE(e, nullptr) << id;
    EXPECT_EQ(e->profile.name(), "name of " + id);
    ASSERT_EQ(e->alarms.size(), 1u) << id;
    EXPECT_EQ(e->alarms[0].alarm_id(), id + ":sos:1");
    EXPECT_EQ(e->alarms[0].status(), vigil::v1::ACTIVE_UNACK);
  }
  EXPECT_EQ(next.elder(other_), nullptr);
  EXPECT_TRUE(b.take().empty()) << "restore emits nothing";

  // The next checkpoint writes every restored elder again, p/ and e/.
  state::StateOps again;
  next.collect_dirty(again);
  std::set<std::string> rewritten;
  for (size_t i = 0; i < again.puts.size(); ++i) {
    rewritten.emplace(again.puts[i].first);
    EXPECT_EQ(again.puts.task(i), again.puts[i].first[0] == 'h' ? -1 : target_);
  }
  for (const auto& id : in_task_) {
    EXPECT_TRUE(rewritten.count("p/" + id)) << id;
    EXPECT_TRUE(rewritten.count("e/" + id)) << id;
  }

  next.advance_to(kT0 + 2 * kMinute);
  next.advance_to(kT0 + 30 * kMinute);
  const auto fired = b.take();
  EXPECT_EQ(raised(fired, faller, "fall_no_recovery"), 1u);
  for (const auto& o : fired) EXPECT_EQ(o.task, target_) << o.key;

  // Restoring into the shard that dropped them reuses freed records as well, and replaces.
  shard.drop_task(state::task_of("newcomer-0", kTasks));
  const size_t before = shard.elder_slots();
  shard.restore(kv, kT0 + 12 * kMinute);
  shard.restore(kv, kT0 + 12 * kMinute);  // twice: replaces, does not add
  EXPECT_LE(shard.elder_slots(), before + in_task_.size());
  for (const auto& id : in_task_) EXPECT_NE(shard.elder(id), nullptr) << id;
  a.take();
  shard.advance_to(kT0 + 13 * kMinute);  // overdue: the fall timer fires once, late
  EXPECT_EQ(raised(a.take(), faller, "fall_no_recovery"), 1u);
}

TEST_F(ShardTasks, AnElderRestoredWithoutRuleStateHasItsOldEntryDeleted) {
  // Only a profile in the changelog: this instance's store may still hold an e/ from when it
  // last owned the task, so the next checkpoint deletes it (under the elder's task).
  Owner a;
  ShardCore shard(0, 1, rule_set(), a.sink, a.dispatch, with_tasks());
  shard.process(profile("lonely"), kT0);
  state::StateOps ops;
  shard.collect_dirty(ops);
  ASSERT_EQ(ops.puts.size(), 1u);
  ASSERT_EQ(ops.puts[0].first, "p/lonely");
  EXPECT_TRUE(ops.deletes.empty());

  ShardCore next(0, 1, rule_set(), a.sink, a.dispatch, with_tasks());
  next.restore(ops.puts.to_vector(), kT0 + 1000);
  ASSERT_NE(next.elder("lonely"), nullptr);
  state::StateOps again;
  next.collect_dirty(again);
  ASSERT_EQ(again.puts.size(), 1u);
  EXPECT_EQ(again.puts[0].first, "p/lonely");
  EXPECT_EQ(again.puts.task(0), state::task_of("lonely", kTasks));
  ASSERT_EQ(again.deletes.size(), 1u);
  EXPECT_EQ(again.deletes[0], "e/lonely");
  EXPECT_EQ(again.del_tasks[0], state::task_of("lonely", kTasks));
}

TEST_F(ShardTasks, RecordOnAnotherPartitionThanItsElderIsDeadLettered) {
  Owner a;
  ShardCore shard(0, 1, rule_set(), a.sink, a.dispatch, with_tasks());
  const int32_t wrong = (target_ + 1) % kTasks;
  shard.process(event(elders_[0], "sos", kT0, wrong), kT0);
  EXPECT_EQ(shard.elder(elders_[0]), nullptr);
  const auto out = a.take();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, OutTopic::kDeadletter);
  EXPECT_EQ(out[0].task, wrong);
  EXPECT_NE(out[0].reason.find("partition " + std::to_string(wrong)), std::string::npos)
      << out[0].reason;
  EXPECT_NE(out[0].reason.find("partition " + std::to_string(target_) + " of 4"), std::string::npos)
      << out[0].reason;
  EXPECT_NE(out[0].reason.find(elders_[0]), std::string::npos) << out[0].reason;
  EXPECT_NE(out[0].reason.find("librdkafka's default partitioner"), std::string::npos);
}

TEST_F(ShardTasks, WithoutTasksNothingIsStampedOrRefused) {
  Owner a;
  ShardCore shard(0, 1, rule_set(), a.sink, a.dispatch);
  shard.process(event(elders_[0], "sos", kT0, (target_ + 1) % kTasks), kT0);
  ASSERT_NE(shard.elder(elders_[0]), nullptr);
  for (const auto& o : a.take()) EXPECT_EQ(o.task, -1);
  state::StateOps ops;
  shard.collect_dirty(ops);
  ASSERT_FALSE(ops.puts.empty());
  for (size_t i = 0; i < ops.puts.size(); ++i) EXPECT_EQ(ops.puts.task(i), -1);
  shard.drop_task(target_);  // no-op without tasks
  EXPECT_NE(shard.elder(elders_[0]), nullptr);
}

}  // namespace
}  // namespace vigil::runtime
