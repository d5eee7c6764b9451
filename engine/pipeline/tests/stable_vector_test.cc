#include "engine/pipeline/stable_vector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::pipeline {
namespace {

TEST(StableVector, ElementsNeverMoveAsItGrowsAndStartValueInitialised) {
  StableVector<std::string, 4> v;
  std::vector<std::string*> at;
  for (int i = 0; i < 1000; ++i) {
    std::string& s = v.emplace_back();
    EXPECT_TRUE(s.empty()) << i;
    s = "elder-" + std::to_string(i);
    at.push_back(&s);
  }
  ASSERT_EQ(v.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(&v[static_cast<size_t>(i)], at[static_cast<size_t>(i)]) << "moved: " << i;
    EXPECT_EQ(v[static_cast<size_t>(i)], "elder-" + std::to_string(i));
  }
  const auto& c = v;
  EXPECT_EQ(c[999], "elder-999");
}

}  // namespace
}  // namespace vigil::pipeline
