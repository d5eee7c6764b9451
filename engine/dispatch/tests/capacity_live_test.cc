// Capacity against the live engine (runtime::Engine: ingest, two shard threads, one dispatch
// thread, rings and checkpoints): elders on both shards ask for the same capacity-1 agency at
// the same moment, their requests reach the dispatcher from two rings, and the agency is never
// committed to more than one order. Hermetic: simulated clock, temporary RocksDB directory;
// checkpoints are the barriers that say "everything submitted so far has been applied".

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/egress/sink.h"
#include "engine/pipeline/shard_router.h"
#include "engine/runtime/engine.h"
#include "schemas/outputs.pb.h"

namespace vigil::dispatch {
namespace {

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z
constexpr uint32_t kShards = 2;

class CapacityLiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_capacity_live_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    clock_.set(kT0);
    runtime::EngineOptions options;
    options.shards = kShards;
    options.data_dir = dir_.string();
    engine_ = std::make_unique<runtime::Engine>(
        options, std::make_shared<rules::RuleSet>(std::vector<rules::Rule>{}), sink_, clock_);
    ASSERT_TRUE(engine_->start());
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void submit(InTopic topic, const std::string& key, const std::string& json) {
    InputRecord rec;
    rec.topic = topic;
    rec.partition = 0;
    rec.offset = offset_++;
    rec.key = key;
    rec.payload = json;
    rec.format = codec::Format::kJson;
    engine_->submit(rec);
  }
  //! Returns once a checkpoint taken after everything submitted so far is committed: every
  //! record before its barrier has been applied by its shard and by the dispatcher.
  void sync() {
    const uint64_t before = engine_->checkpoints();
    clock_.advance(kSecond);
    while (engine_->checkpoints() == before) {
      ASSERT_TRUE(engine_->maybe_checkpoint());
      std::this_thread::yield();
    }
  }
  void request(const std::string& call_id, const std::string& elder_id) {
    submit(
        InTopic::kCalls, elder_id,
        R"({"call_id":")" + call_id + R"(","elder_id":")" + elder_id +
            R"(","operator_id":"op1","ts":"2026-03-01T08:00:00Z","service_request":{"category":"meal_delivery"}})");
  }
  void agency_update(const std::string& order_id, const std::string& status) {
    submit(InTopic::kAgency, order_id,
           R"({"agency_id":"one","order_id":")" + order_id + R"(","status":")" + status +
               R"(","ts":"2026-03-01T08:00:00Z"})");
  }
  std::vector<vigil::v1::OrderEvent> tracking() const {
    std::vector<vigil::v1::OrderEvent> out;
    for (const auto& r : sink_.of(OutTopic::kTracking)) {
      vigil::v1::OrderEvent e;
      EXPECT_TRUE(codec::decode(r.json, codec::Format::kJson, &e));
      out.push_back(e);
    }
    return out;
  }
  //! Walks the tracking stream in emission order and returns the most orders the agency held
  //! at once (offered and unanswered, or accepted and unfinished).
  size_t peak_commitments(const std::string& agency_id) const {
    std::map<std::string, std::string> holder;  // order -> agency holding it
    std::set<std::string> held;
    size_t peak = 0;
    for (const auto& e : tracking()) {
      if (auto it = holder.find(e.order_id()); it != holder.end() && it->second == agency_id) {
        held.erase(e.order_id());
      }
      holder.erase(e.order_id());
      switch (e.state()) {
        case vigil::v1::OFFERED:
        case vigil::v1::ACCEPTED:
        case vigil::v1::EN_ROUTE:
        case vigil::v1::ARRIVED:
        case vigil::v1::IN_SERVICE:
          holder[e.order_id()] = e.agency_id();
          if (e.agency_id() == agency_id) held.insert(e.order_id());
          break;
        default:
          break;
      }
      peak = std::max(peak, held.size());
    }
    return peak;
  }
  std::vector<std::string> offered_to_one() const {
    std::vector<std::string> out;
    for (const auto& e : tracking()) {
      if (e.state() == vigil::v1::OFFERED && e.agency_id() == "one") out.push_back(e.order_id());
    }
    return out;
  }

  std::filesystem::path dir_;
  SimClock clock_;
  egress::CollectingSink sink_;
  std::unique_ptr<runtime::Engine> engine_;
  int64_t offset_ = 0;
};

TEST_F(CapacityLiveTest, TwoShardsAskingAtOnceNeverPutACapacityOneAgencyOver) {
  submit(
      InTopic::kRegistry, "one",
      R"({"agency":{"agency_id":"one","name":"One","region":"r1","categories":["meal_delivery"],)"
      R"("lat":31.2313,"lon":121.4737,"capacity":1,"rating":5,"active":true}})");
  constexpr int kElders = 24;
  std::set<uint32_t> shards_used;
  for (int i = 0; i < kElders; ++i) {
    const std::string id = "e" + std::to_string(i);
    shards_used.insert(pipeline::shard_of(id, kShards));
    submit(InTopic::kRegistry, id,
           R"({"elder":{"elder_id":")" + id +
               R"(","name":"n","home_lat":31.2304,"home_lon":121.4737}})");
  }
  ASSERT_EQ(shards_used.size(), kShards) << "the elders must live on both shards";
  sync();

  // Round 1: every elder asks at the same instant, from both shards.
  for (int i = 0; i < kElders; ++i) request("r1-" + std::to_string(i), "e" + std::to_string(i));
  sync();
  auto offered = offered_to_one();
  ASSERT_EQ(offered.size(), 1u);
  EXPECT_EQ(peak_commitments("one"), 1u);
  size_t escalated = 0;
  for (const auto& e : tracking()) {
    if (e.state() == vigil::v1::ESCALATED) {
      ++escalated;
      EXPECT_EQ(e.reason(), "no_agency_free") << e.order_id();
    }
  }
  EXPECT_EQ(escalated, kElders - 1u);

  // Round 2: a wave while the agency works on the accepted order, then, once it has finished,
  // another wave: exactly one more order for it.
  agency_update(offered[0], "ACCEPTED");
  sync();
  for (int i = 0; i < kElders / 2; ++i) request("r2-" + std::to_string(i), "e" + std::to_string(i));
  sync();
  EXPECT_EQ(offered_to_one().size(), 1u);
  agency_update(offered[0], "COMPLETED");
  sync();
  for (int i = kElders / 2; i < kElders; ++i)
    request("r2-" + std::to_string(i), "e" + std::to_string(i));
  sync();
  EXPECT_EQ(offered_to_one().size(), 2u);
  EXPECT_EQ(peak_commitments("one"), 1u);
  ASSERT_TRUE(engine_->stop());
}

}  // namespace
}  // namespace vigil::dispatch
