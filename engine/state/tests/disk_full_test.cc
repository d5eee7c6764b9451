// StateStore on a full disk: a commit fails with a retryable kIo, nothing of it is applied,
// recover() reopens the database once space returns, and the same commit then succeeds with
// every earlier checkpoint intact. A real tmpfs (root may mount; skipped, saying why, where not).

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/state/state_store.h"

namespace vigil::state {
namespace {

class StateDiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil-state-full-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs on " << dir_ << ": " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    std::filesystem::remove_all(dir_);
  }
  //! Fills the file system with a filler file; returns its path.
  std::string fill() {
    const std::string path = dir_ / "filler";
    std::FILE* f = std::fopen(path.c_str(), "ab");
    std::setvbuf(f, nullptr, _IONBF, 0);
    std::vector<char> block(1 << 16, 'x');
    for (size_t chunk = block.size(); chunk >= 512;) {
      if (std::fwrite(block.data(), 1, chunk, f) < chunk) chunk /= 2;
    }
    std::fclose(f);
    return path;
  }
  std::filesystem::path dir_;
  bool mounted_ = false;

  //! The test below with the commits written as WAL batches (SIZE_MAX) or table files (0).
  void failed_commit_applies_nothing_and_succeeds_after_recover(size_t ingest_min_bytes);
};

TEST_F(StateDiskFull, FailedCommitAppliesNothingAndSucceedsAfterRecover) {
  failed_commit_applies_nothing_and_succeeds_after_recover(SIZE_MAX);
}

TEST_F(StateDiskFull, FailedTableFileCommitAppliesNothingAndSucceedsAfterRecover) {
  failed_commit_applies_nothing_and_succeeds_after_recover(0);
}

void StateDiskFull::failed_commit_applies_nothing_and_succeeds_after_recover(
    size_t ingest_min_bytes) {
  auto store = StateStore::open(dir_ / "db");
  ASSERT_TRUE(store) << store.error().message;
  store.value()->set_ingest_min_bytes(ingest_min_bytes);
  StateOps first;
  first.put("e/a", "before the disk filled");
  ASSERT_TRUE(store.value()->commit({&first}, {{{InTopic::kTelemetry, 0}, 10}}));

  const std::string filler = fill();
  StateOps big;  // more than the few bytes left
  big.put("e/b", std::string(256 * 1024, 'b'));
  big.del("e/a");
  auto failed = store.value()->commit({&big}, {{{InTopic::kTelemetry, 0}, 20}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, Errc::kIo);
  EXPECT_NE(failed.error().message.find("No space left on device"), std::string::npos)
      << failed.error().message;
  EXPECT_TRUE(store.value()->last_failure_retryable());

  std::filesystem::remove(filler);
  ASSERT_TRUE(store.value()->recover());
  store.value()->set_ingest_min_bytes(ingest_min_bytes);
  // Nothing of the failed batch is there; the checkpoint before it is whole.
  auto a = store.value()->get("e/a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a.value().value_or("<none>"), "before the disk filled");
  auto b = store.value()->get("e/b");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b.value().has_value());
  EXPECT_EQ(store.value()->load_offsets().value().at({InTopic::kTelemetry, 0}), 10);
  // The same batch again, now that there is space.
  ASSERT_TRUE(store.value()->commit({&big}, {{{InTopic::kTelemetry, 0}, 20}}));
  EXPECT_FALSE(store.value()->get("e/a").value().has_value());
  EXPECT_EQ(store.value()->get("e/b").value().value_or("").size(), 256u * 1024);
  EXPECT_EQ(store.value()->load_offsets().value().at({InTopic::kTelemetry, 0}), 20);
  // And it survives a restart.
  store.value().reset();
  auto again = StateStore::open(dir_ / "db");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again.value()->load_offsets().value().at({InTopic::kTelemetry, 0}), 20);
}

}  // namespace
}  // namespace vigil::state
