// Reused buffers keep what recent rounds needed and give back what one burst took
// (recent_use.h).

#include "engine/core/recent_use.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil {
namespace {

void fill(std::vector<std::string>& v, size_t n) {
  for (size_t i = 0; i < n; ++i) v.emplace_back("x");
}

TEST(RecentUse, ReportsTheMostARoundUsedOnceEveryKRounds) {
  RecentUse use;
  for (uint32_t round = 1; round < RecentUse::kRounds; ++round) {
    EXPECT_FALSE(use.end_round(round == 10 ? 500 : 7).has_value()) << "round " << round;
  }
  const auto most = use.end_round(3);
  ASSERT_TRUE(most.has_value());
  EXPECT_EQ(*most, 500u);
  // The next window starts from nothing: the burst of the last one is not in it.
  std::optional<size_t> next;
  for (uint32_t round = 0; round < RecentUse::kRounds; ++round) next = use.end_round(9);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, 9u);
}

TEST(RecentUse, ABurstsCapacityIsGivenBackAfterKRoundsThatDidNotNeedIt) {
  std::vector<std::string> v;
  RecentUse use;
  fill(v, 10'000);  // one burst
  clear_keeping_recent(v, use);
  EXPECT_GE(v.capacity(), 10'000u) << "kept while the window still holds the burst";
  for (uint32_t round = 1; round < RecentUse::kRounds; ++round) {
    fill(v, 10);
    clear_keeping_recent(v, use);
  }
  // The window that held the burst closes: it keeps what that window needed, the burst.
  EXPECT_GE(v.capacity(), 10'000u);
  for (uint32_t round = 0; round < RecentUse::kRounds; ++round) {
    fill(v, 10);
    clear_keeping_recent(v, use);
  }
  // A whole window of 10s: the capacity is what they needed.
  EXPECT_GE(v.capacity(), 10u);
  EXPECT_LE(v.capacity(), 2u * 10u + 64u);
  EXPECT_TRUE(v.empty());
}

TEST(RecentUse, SteadyUseKeepsItsBuffer) {
  std::vector<std::string> v;
  RecentUse use;
  fill(v, 5'000);
  const std::string* buffer = v.data();
  clear_keeping_recent(v, use);
  for (uint32_t round = 0; round < 3 * RecentUse::kRounds; ++round) {
    fill(v, round % 2 == 0 ? 5'000 : 3'000);
    EXPECT_EQ(v.data(), buffer) << "round " << round << " reallocated";
    clear_keeping_recent(v, use);
  }
}

TEST(RecentUse, ReleaseGivesEverythingBackAndStartsAgain) {
  std::vector<std::string> v;
  RecentUse use;
  fill(v, 1'000);
  release_vector(v, use);
  EXPECT_EQ(v.capacity(), 0u);
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace vigil
