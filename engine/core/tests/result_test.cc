#include "engine/core/result.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(Errc::kInvalidInput, "value must be positive");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good);
  EXPECT_EQ(good.value(), 3);
  auto bad = parse_positive(0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::kInvalidInput);
  EXPECT_EQ(bad.error().message, "value must be positive");
  EXPECT_STREQ(errc_name(bad.error().code), "invalid_input");
}

}  // namespace
}  // namespace vigil
