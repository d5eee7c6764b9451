#include "engine/state/state_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/metrics.h"

namespace vigil::state {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_state_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(StateStoreTest, CommitsStateAndOffsetsTogetherAndReopens) {
  {
    auto store = StateStore::open(dir_.string());
    ASSERT_TRUE(store) << store.error().message;
    StateOps ops;
    ops.put("e/e1", "state-of-e1");
    ops.put("e/e2", "state-of-e2");
    OffsetMap offsets{{{InTopic::kTelemetry, 0}, 42}, {{InTopic::kCalls, 3}, 7}};
    ASSERT_TRUE(store.value()->commit({&ops}, offsets));
    StateOps del;
    del.del("e/e2");
    ASSERT_TRUE(store.value()->commit({&del}, {}));
  }
  auto store = StateStore::open(dir_.string());
  ASSERT_TRUE(store);
  auto offsets = store.value()->load_offsets();
  ASSERT_TRUE(offsets);
  EXPECT_EQ((offsets.value().at({InTopic::kTelemetry, 0})), 42);
  EXPECT_EQ((offsets.value().at({InTopic::kCalls, 3})), 7);
  std::vector<std::string> keys;
  ASSERT_TRUE(store.value()->scan("e/", [&](std::string_view k, std::string_view v) {
    keys.emplace_back(k);
    EXPECT_EQ(v, "state-of-e1");
  }));
  EXPECT_EQ(keys, std::vector<std::string>{"e1"});
  auto missing = store.value()->get("e/e2");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing.value().has_value());
}

// The figures the bench and /metrics report per checkpoint: the bytes of each commit (keys and
// values, as RocksDB's batch counts them) and the time spent in its write.
TEST_F(StateStoreTest, CommitsCountTheirBytes) {
  auto store = StateStore::open(dir_.string());
  ASSERT_TRUE(store) << store.error().message;
  const uint64_t bytes0 = metrics().checkpoint_bytes.get();
  StateOps ops;
  ops.put("e/e1", std::string(1000, 'x'));
  ASSERT_TRUE(store.value()->commit({&ops}, {}));
  const uint64_t one = metrics().checkpoint_bytes.get() - bytes0;
  EXPECT_GE(one, 1004u) << "the key and the value at least";
  EXPECT_LT(one, 1100u) << "and RocksDB's few bytes of framing";
  ops.clear();
  ops.put("e/e2", std::string(10, 'y'));
  ASSERT_TRUE(store.value()->commit({&ops}, {}));
  EXPECT_LT(metrics().checkpoint_bytes.get() - bytes0 - one, 100u);
}

TEST_F(StateStoreTest, BatchSizeIsKnownBeforeTheBatchIsBuilt) {
  auto store = StateStore::open(dir_.string());
  ASSERT_TRUE(store) << store.error().message;
  StateOps a;
  StateOps b;
  for (int i = 0; i < 300; ++i) {
    a.put("e/a" + std::to_string(i), std::string(static_cast<size_t>(i), 'v'));
    b.put("e/b" + std::to_string(i), std::string(200, 'w'));
  }
  a.del("e/gone");
  const OffsetMap offsets{{{InTopic::kTelemetry, 3}, 123456789}};
  const size_t reserved = StateStore::batch_bytes({&a, &b}, offsets);
  const uint64_t bytes0 = metrics().checkpoint_bytes.get();
  ASSERT_TRUE(store.value()->commit({&a, &b}, offsets));
  const uint64_t written = metrics().checkpoint_bytes.get() - bytes0;
  EXPECT_GE(reserved, written) << "the reservation is never short";
  EXPECT_LT(reserved, written + written / 10) << "nor far over";
}

TEST_F(StateStoreTest, SortedOwnersMergeAndEveryOwnersLastWriteWins) {
  auto store = StateStore::open(dir_.string());
  ASSERT_TRUE(store) << store.error().message;
  StateOps shard0;  // sorted, as the commit thread sorts a shard's puts
  StateOps shard1;
  StateOps coordinator;  // unsorted
  shard0.put("e/c", "1");
  shard0.put("e/a", "1");
  shard0.put("e/a", "2");  // put twice: the later value stays
  shard0.put("e/x", "1");
  shard0.del("e/x");  // put, then deleted in the same checkpoint: gone
  shard1.put("e/d", "1");
  shard1.put("e/b", "1");
  coordinator.put("z/2", "1");
  coordinator.put("z/1", "1");
  shard0.puts.sort_by_key();
  shard1.puts.sort_by_key();
  ASSERT_TRUE(shard0.puts.sorted());
  ASSERT_FALSE(coordinator.puts.sorted());
  ASSERT_TRUE(store.value()->commit({&shard0, &shard1, &coordinator}, {}));
  std::vector<std::pair<std::string, std::string>> got;
  ASSERT_TRUE(store.value()->scan("", [&](std::string_view k, std::string_view v) {
    if (k[0] == 'e' || k[0] == 'z') got.emplace_back(k, v);
  }));
  const std::vector<std::pair<std::string, std::string>> want{
      {"e/a", "2"}, {"e/b", "1"}, {"e/c", "1"}, {"e/d", "1"}, {"z/1", "1"}, {"z/2", "1"}};
  EXPECT_EQ(got, want);
}

TEST(PutListTest, SortByKeyOrdersAsStringsDoAndKeepsRepeatedKeysInPutOrder) {
  // Keys that the sort's 16-byte integer prefixes cannot tell apart (a long shared prefix,
  // a key that is another's prefix, zero bytes, bytes over 0x7f) next to ordinary ones, each
  // put several times: the result must be std::stable_sort's by string_view.
  std::vector<std::string> keys{"e/e000002", "e/e000010", "e/e000001", "p/e000001", "e/", "e",
                                "", "h/e000001/0000000000000042", "h/e000001/0000000000000041",
                                "h/e000001/000000000000004", "h/e000001/0000000000000041\0",
                                "e/\xff", "e/\x80" "a", "e/\x7f", std::string("e/\0", 3),
                                std::string("e/\0\0", 4), "0123456789abcdef", "0123456789abcdeg",
                                "0123456789abcdef0", "0123456789abcde"};
  std::mt19937 rng(16);
  PutList puts;
  std::vector<std::pair<std::string, std::string>> want;
  for (int i = 0; i < 400; ++i) {
    const std::string& k = keys[rng() % keys.size()];
    const std::string v = std::to_string(i);
    puts.add(k, v);
    want.emplace_back(k, v);
  }
  std::stable_sort(want.begin(), want.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  puts.sort_by_key();
  EXPECT_TRUE(puts.sorted());
  EXPECT_EQ(puts.to_vector(), want);
}

TEST_F(StateStoreTest, ACheckpointAsATableFileLeavesWhatTheWriteBatchLeaves) {
  // Two stores take the same commits, one always as a table file, one never. Every round has
  // owners with sorted and unsorted puts, keys put twice, in two owners, deleted, and offsets.
  // Both must hold exactly what a plain model of the commit says (every put applied in order,
  // sorted owners first, then the others; then every delete; then the offsets), the table
  // file also after a reopen.
  auto as_file = StateStore::open((dir_ / "file").string());
  auto as_batch = StateStore::open((dir_ / "batch").string());
  ASSERT_TRUE(as_file) << as_file.error().message;
  ASSERT_TRUE(as_batch) << as_batch.error().message;
  as_file.value()->set_ingest_min_bytes(0);
  as_batch.value()->set_ingest_min_bytes(SIZE_MAX);
  const uint64_t files0 = metrics().checkpoint_files.get();
  std::mt19937 rng(6);
  auto key = [&] {
    static const char* kPrefixes[] = {"e/", "p/", "d/", "g/", "o/telemetry/", "x/"};
    return kPrefixes[rng() % 6] + std::to_string(rng() % 40);
  };
  std::map<std::string, std::string> model;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<StateOps> owners(4);
    for (size_t o = 0; o < owners.size(); ++o) {
      for (int i = 0; i < 60; ++i) {
        owners[o].put(key(), "r" + std::to_string(round) + "o" + std::to_string(o) + "i" +
                                 std::to_string(i));
      }
      for (int i = 0; i < 5; ++i) owners[o].del(key());
      if (o % 2 == 0) owners[o].puts.sort_by_key();  // the shards' lists are sorted
    }
    const OffsetMap offsets{{{InTopic::kTelemetry, static_cast<int32_t>(rng() % 40)}, round},
                            {{InTopic::kRegistry, 0}, round * 10}};
    const std::vector<const StateOps*> list{&owners[0], &owners[1], &owners[2], &owners[3]};
    for (const bool sorted : {true, false}) {
      for (const auto& o : owners) {
        if (o.puts.sorted() != sorted) continue;
        for (const auto& [k, v] : o.puts) model[std::string(k)] = v;
      }
    }
    for (const auto& o : owners) {
      for (const auto& k : o.deletes) model.erase(k);
    }
    for (const auto& [tp, offset] : offsets) {
      model[offset_key(tp.first, tp.second)] = std::to_string(offset);
    }
    ASSERT_TRUE(as_file.value()->commit(list, offsets));
    ASSERT_TRUE(as_batch.value()->commit(list, offsets));
  }
  EXPECT_EQ(metrics().checkpoint_files.get() - files0, static_cast<uint64_t>(kRounds));
  auto all = [](StateStore& store) {
    std::vector<std::pair<std::string, std::string>> kv;
    EXPECT_TRUE(
        store.scan("", [&](std::string_view k, std::string_view v) { kv.emplace_back(k, v); }));
    return kv;
  };
  const std::vector<std::pair<std::string, std::string>> want(model.begin(), model.end());
  ASSERT_GT(want.size(), 100u);
  EXPECT_EQ(all(*as_batch.value()), want);
  EXPECT_EQ(all(*as_file.value()), want);
  as_file.value().reset();
  auto reopened = StateStore::open((dir_ / "file").string());
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_EQ(all(*reopened.value()), want);
}

TEST_F(StateStoreTest, SecondOpenOfSameDirectoryFailsWithReason) {
  auto first = StateStore::open(dir_.string());
  ASSERT_TRUE(first);
  auto second = StateStore::open(dir_.string());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::kIo);
  EXPECT_NE(second.error().message.find(dir_.string()), std::string::npos);
}

}  // namespace
}  // namespace vigil::state
