#include "engine/state/state_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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
