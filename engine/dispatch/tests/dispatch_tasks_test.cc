// The dispatcher with tasks (DispatchConfig::task_partitions): task stamps on outputs and state
// ops, and drop_task() / restore() of a task's agencies and orders (issue #8).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "engine/core/time_util.h"
#include "engine/dispatch/dispatcher.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/outbox.h"
#include "engine/state/task.h"

namespace vigil::dispatch {
namespace {

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z
constexpr double kHomeLat = 31.2304;
constexpr double kHomeLon = 121.4737;
constexpr int32_t kTasks = 4;

vigil::v1::Agency make_agency(const std::string& id, const std::string& region,
                              const std::string& category) {
  vigil::v1::Agency a;
  a.set_agency_id(id);
  a.set_name(id);
  a.set_region(region);
  a.add_categories(category);
  a.set_lat(kHomeLat + 0.002);
  a.set_lon(kHomeLon);
  a.set_capacity(3);
  a.set_rating(5);
  a.set_active(true);
  return a;
}

OrderRequest request(const std::string& id, const std::string& region, const std::string& category,
                     TimeMs ts) {
  OrderRequest r;
  r.order_id = id;
  r.elder_id = "e-" + region;
  r.category = category;
  r.has_location = true;
  r.lat = kHomeLat;
  r.lon = kHomeLon;
  r.created = ts;
  r.window_start = ts;
  r.region = region;
  return r;
}

vigil::v1::AgencyUpdate accept(const std::string& agency, const std::string& order, TimeMs ts,
                               TimeMs eta) {
  vigil::v1::AgencyUpdate u;
  u.set_agency_id(agency);
  u.set_order_id(order);
  u.set_status(vigil::v1::AgencyUpdate::ACCEPTED);
  set_ts(u.mutable_ts(), ts);
  set_ts(u.mutable_eta(), eta);
  return u;
}

struct Sealed {
  std::vector<runtime::OutRecord> records;
  size_t count(OutTopic topic, const std::string& key) const {
    return static_cast<size_t>(std::count_if(records.begin(), records.end(), [&](const auto& r) {
      return r.topic == topic && r.key == key;
    }));
  }
};

Sealed take(runtime::OwnerSink& sink) {
  Sealed s;
  sink.seal(s.records);
  return s;
}

class DispatchTasks : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.task_partitions = kTasks;
    north_task_ = state::task_of(region_key(north_), kTasks);
    for (const char* r : {"south", "east", "west", "centre", "coast", "hills"}) {
      if (state::task_of(region_key(r), kTasks) != north_task_) {
        south_ = r;
        break;
      }
    }
    ASSERT_FALSE(south_.empty());
    south_task_ = state::task_of(region_key(south_), kTasks);
  }
  DispatchConfig config_;
  std::string north_ = "north", south_;
  int32_t north_task_ = 0, south_task_ = 0;
};

TEST_F(DispatchTasks, DropsAndRestoresARegionsAgenciesAndOrders) {
  runtime::OwnerSink sink(nullptr, nullptr);
  Dispatcher d(config_, sink);
  d.upsert_agency(make_agency("a-n", north_, "meal"));
  d.upsert_agency(make_agency("a-s", south_, "clean"));
  d.create_order(request("o-n1", north_, "meal", kT0), kT0);  // offered to a-n
  ASSERT_TRUE(
      d.on_agency_update(accept("a-n", "o-n1", kT0 + 1000, kT0 + 30 * kMinute), kT0 + 1000));
  d.create_order(request("o-n2", north_, "meal", kT0 + 2000), kT0 + 2000);  // offer out: pending
  d.create_order(request("o-s", south_, "clean", kT0 + 3000), kT0 + 3000);
  ASSERT_EQ(d.agencies().find("a-n")->record.load(), 1);
  ASSERT_EQ(d.agencies().find("a-n")->pending, 1);
  for (const auto& r : take(sink).records) {
    EXPECT_EQ(r.task, -1) << "direct calls outside a record or timer set no task: " << r.key;
  }

  state::StateOps ops;
  d.collect_dirty(ops);
  std::vector<std::pair<std::string, std::string>> kv;
  for (size_t i = 0; i < ops.puts.size(); ++i) {
    const std::string key(ops.puts[i].first);
    const bool south = key == "g/a-s" || key == "d/o-s" || key.find("/o-s") != std::string::npos;
    EXPECT_EQ(ops.puts.task(i), south ? south_task_ : north_task_) << key;
    if (ops.puts.task(i) == north_task_) kv.emplace_back(key, ops.puts[i].second);
  }
  EXPECT_EQ(kv.size(), 5u);            // g/a-n, d/o-n1, do/…/o-n1, d/o-n2, do/…/o-n2
  std::reverse(kv.begin(), kv.end());  // orders before their agency: any order restores

  d.drop_task(north_task_);
  EXPECT_EQ(d.order("o-n1"), nullptr);
  EXPECT_EQ(d.order("o-n2"), nullptr);
  EXPECT_EQ(d.agencies().find("a-n"), nullptr);
  EXPECT_NE(d.order("o-s"), nullptr);
  EXPECT_NE(d.agencies().find("a-s"), nullptr);
  EXPECT_EQ(d.agencies().size(), 1u);
  EXPECT_EQ(d.next_due(), kT0 + 3000 + 10 * kMinute) << "o-n2's expiry (+2 s) must be gone";
  d.advance_to(kT0 + 2 * kHour);  // o-n2's offer expiry and o-n1's late deadline are gone
  Sealed after = take(sink);
  EXPECT_EQ(after.count(OutTopic::kTracking, "o-n1") + after.count(OutTopic::kTracking, "o-n2"),
            0u);
  EXPECT_EQ(after.count(OutTopic::kAlarms, "e-" + north_), 0u);
  EXPECT_EQ(after.count(OutTopic::kTracking, "o-s"), 2u);  // offered again, then ESCALATED
  for (const auto& r : after.records) EXPECT_EQ(r.task, south_task_) << r.key;
  state::StateOps none;
  d.collect_dirty(none);
  for (size_t i = 0; i < none.puts.size(); ++i) EXPECT_EQ(none.puts.task(i), south_task_);

  // A new agency reuses the erased agency's entry.
  d.upsert_agency(make_agency("a-n", north_, "meal"));
  EXPECT_EQ(d.agencies().size(), 2u);

  // Restore into a fresh dispatcher: orders, load and pending offers as they were.
  runtime::OwnerSink sink2(nullptr, nullptr);
  Dispatcher next(config_, sink2);
  next.restore(kv, kT0 + 4000);
  const vigil::state::OrderRecord* o1 = next.order("o-n1");
  ASSERT_NE(o1, nullptr);
  EXPECT_EQ(o1->state(), vigil::v1::ACCEPTED);
  EXPECT_EQ(o1->region(), north_);
  ASSERT_NE(next.order("o-n2"), nullptr);
  EXPECT_EQ(next.order("o-n2")->state(), vigil::v1::OFFERED);
  const AgencyEntry* a = next.agencies().find("a-n");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->record.load(), 1);
  EXPECT_EQ(a->pending, 1);
  EXPECT_TRUE(take(sink2).records.empty()) << "restore emits nothing";
  state::StateOps again;
  next.collect_dirty(again);
  std::set<std::string> rewritten;
  for (size_t i = 0; i < again.puts.size(); ++i) {
    rewritten.emplace(again.puts[i].first);
    EXPECT_EQ(again.puts.task(i), north_task_);
  }
  EXPECT_EQ(rewritten.size(), 5u);
  EXPECT_TRUE(rewritten.count("g/a-n") && rewritten.count("d/o-n1") && rewritten.count("d/o-n2"));

  // Restored twice (the same task coming back): replaced, not doubled.
  next.restore(kv, kT0 + 5000);
  EXPECT_EQ(next.agencies().find("a-n")->pending, 1);
  EXPECT_EQ(next.agencies().size(), 1u);

  // Each restored timer fires once: o-n2's offer expiry (10 min: offered again, then at 20 min
  // ESCALATED), o-n1's late deadline (its eta, 30 min: the order_late alarm and task).
  next.advance_to(kT0 + 2 * kHour);
  Sealed fired = take(sink2);
  EXPECT_EQ(fired.count(OutTopic::kTracking, "o-n2"), 2u);
  EXPECT_EQ(fired.count(OutTopic::kDispatch, "a-n"), 1u);
  EXPECT_EQ(fired.count(OutTopic::kAlarms, "e-" + north_), 1u);    // order_late, once
  EXPECT_EQ(fired.count(OutTopic::kOperator, "e-" + north_), 2u);  // escalation, late_order
  for (const auto& r : fired.records) EXPECT_EQ(r.task, north_task_) << r.key;
}

TEST_F(DispatchTasks, ARecordsWorkIsItsPartitionsTask) {
  runtime::OwnerSink sink(nullptr, nullptr);
  runtime::DispatchCore core(config_, sink);
  vigil::v1::RegistryUpdate u;
  *u.mutable_agency() = make_agency("a-n", north_, "meal");
  InputRecord rec;
  rec.topic = InTopic::kRegistry;
  rec.partition = 3;
  rec.key = "a-n";
  rec.payload = "not a registry record";
  core.process(rec, kT0);  // a deadletter, stamped with the record's partition
  std::vector<runtime::OutRecord> out;
  sink.seal(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].topic, OutTopic::kDeadletter);
  EXPECT_EQ(out[0].task, 3);
  // An order from a shard's ring: the task of the order's region.
  core.process(InputRecord{InTopic::kRegistry, north_task_, 0, "a-n", u.SerializeAsString()}, kT0);
  core.request_order(request("o1", north_, "meal", kT0));
  sink.seal(out);
  ASSERT_GT(out.size(), 1u);
  for (size_t i = 1; i < out.size(); ++i) EXPECT_EQ(out[i].task, north_task_) << out[i].key;
}

}  // namespace
}  // namespace vigil::dispatch
