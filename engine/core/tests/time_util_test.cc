#include "engine/core/time_util.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(TimeUtil, RoundTripsMillisecondsThroughTimestamp) {
  google::protobuf::Timestamp ts;
  set_ts(&ts, 1'767'225'600'123);
  EXPECT_EQ(ts.seconds(), 1'767'225'600);
  EXPECT_EQ(ts.nanos(), 123'000'000);
  EXPECT_EQ(to_ms(ts), 1'767'225'600'123);
}

TEST(TimeUtil, NegativeMillisecondsBorrowFromSeconds) {
  google::protobuf::Timestamp ts;
  set_ts(&ts, -1);
  EXPECT_EQ(ts.seconds(), -1);
  EXPECT_EQ(ts.nanos(), 999'000'000);
  EXPECT_EQ(to_ms(ts), -1);
}

TEST(TimeUtil, FormatsRfc3339InUtc) {
  EXPECT_EQ(format_rfc3339(1'767'225'600'000), "2026-01-01T00:00:00Z");
}

TEST(SimClock, MovesOnlyWhenTold) {
  SimClock clock(5000);
  EXPECT_EQ(clock.now_ms(), 5000);
  clock.advance(250);
  EXPECT_EQ(clock.now_ms(), 5250);
  clock.set(10);
  EXPECT_EQ(clock.now_ms(), 10);
}

}  // namespace
}  // namespace vigil
