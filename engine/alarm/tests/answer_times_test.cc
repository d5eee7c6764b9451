// The sparse answer-wait histogram against the dense one it replaced, and the window of hourly
// answer-time rows: what is dropped, what still counts, and merge across shards.

#include "engine/alarm/answer_times.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace vigil::alarm {
namespace {

constexpr TimeMs kT0 = 1772323200000;  // 2026-03-01T00:00:00Z

// The dense histogram AnswerTimes kept before: 3,601 one-second buckets, the last one holding
// every wait of an hour or more, nearest-rank quantiles.
struct DenseHistogram {
  std::vector<uint32_t> buckets = std::vector<uint32_t>(3601, 0);
  void add(TimeMs wait) { buckets[std::clamp<TimeMs>(wait / kSecond, 0, 3600)]++; }
  void merge(const DenseHistogram& o) {
    for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  }
  double quantile(double q) const {
    uint64_t total = 0;
    for (uint32_t b : buckets) total += b;
    if (total == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (seen >= std::max<uint64_t>(rank, 1)) return static_cast<double>(i);
    }
    return static_cast<double>(buckets.size() - 1);
  }
};

// Waits in ms: some 0 s, some negative (clock skew), some either side of and past one hour.
std::vector<TimeMs> random_waits(std::mt19937_64& rng, size_t n) {
  std::vector<TimeMs> out;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t kind = rng() % 10;
    const auto r = static_cast<TimeMs>(rng() % (3 * kHour));
    if (kind == 0) {
      out.push_back(r % kSecond);
    } else if (kind == 1) {
      out.push_back(kHour + r);
    } else if (kind == 2) {
      out.push_back(kHour - kSecond + r % (2 * kSecond));
    } else if (kind == 3) {
      out.push_back(-(r % (5 * kSecond)));
    } else {
      out.push_back(r % (4000 * kSecond));
    }
  }
  return out;
}

constexpr double kQuantiles[] = {0.0, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0};

TEST(WaitHistogramTest, QuantilesMatchTheDenseHistogram) {
  std::mt19937_64 rng(11);
  for (size_t n : {0, 1, 2, 3, 7, 20, 101, 4000}) {
    WaitHistogram sparse;
    DenseHistogram dense;
    for (TimeMs w : random_waits(rng, n)) {
      sparse.add(w);
      dense.add(w);
    }
    for (double q : kQuantiles) EXPECT_EQ(sparse.quantile(q), dense.quantile(q)) << n << " " << q;
  }
  // A set with both ends: the smallest wait is 0 s, the largest counts as one hour.
  WaitHistogram h;
  for (TimeMs w : {TimeMs{0}, 5 * kHour, 42 * kSecond + 999}) h.add(w);
  EXPECT_EQ(h.quantile(0.0), 0);
  EXPECT_EQ(h.quantile(0.5), 42);
  EXPECT_EQ(h.quantile(0.95), 3600);
  EXPECT_EQ(WaitHistogram{}.quantile(0.5), 0);
}

TEST(WaitHistogramTest, MergeMatchesTheDenseHistogramOfBoth) {
  std::mt19937_64 rng(12);
  for (size_t n : {1, 50, 3000}) {
    WaitHistogram a, b;
    DenseHistogram da, db;
    for (TimeMs w : random_waits(rng, n)) {
      a.add(w);
      da.add(w);
    }
    for (TimeMs w : random_waits(rng, n / 2 + 1)) {
      b.add(w);
      db.add(w);
    }
    a.merge(b);
    a.merge(WaitHistogram{});
    da.merge(db);
    for (double q : kQuantiles) EXPECT_EQ(a.quantile(q), da.quantile(q)) << n << " " << q;
  }
}

TEST(WaitHistogramTest, HoldsOneEntryPerDistinctSecond) {
  WaitHistogram h;
  for (int i = 0; i < 1000; ++i) h.add((i % 10) * 7 * kSecond + i % 1000);  // 10 distinct seconds
  EXPECT_GT(h.heap_bytes(), 0u);
  EXPECT_LE(h.heap_bytes(), 2 * 10 * 8u);  // the dense one held 3,601 x 4 bytes
  EXPECT_EQ(h.quantile(1.0), 63);
}

std::vector<TimeMs> hours_of(const AnswerTimeReport& rep) {
  std::vector<TimeMs> out;
  for (const auto& [h, row] : rep.by_hour) out.push_back((h - kT0) / kHour);
  return out;
}

std::vector<TimeMs> hour_range(TimeMs from, TimeMs to) {
  std::vector<TimeMs> out;
  for (TimeMs h = from; h <= to; ++h) out.push_back(h);
  return out;
}

TEST(AnswerTimesWindowTest, KeepsThe31DaysOfHourlyRowsBeforeTheNewestAndCountsEverything) {
  AnswerTimes at;
  constexpr TimeMs kHours = 40 * 24;
  uint64_t in60 = 0;
  for (TimeMs h = 0; h < kHours; ++h) {
    const TimeMs raised = kT0 + h * kHour + 10 * kMinute;
    at.on_raise(vigil::v1::CRITICAL, raised);
    at.on_raise(vigil::v1::MAJOR, raised + 5 * kMinute);  // never answered
    const TimeMs wait = (30 + h % 100) * kSecond;
    at.on_answer(vigil::v1::CRITICAL, raised, raised + wait);
    in60 += wait <= 60 * kSecond;
  }
  const auto rep = at.report();
  EXPECT_EQ(rep.overall.alarms, 2u * kHours);
  EXPECT_EQ(rep.overall.answered, uint64_t{kHours});
  EXPECT_EQ(rep.overall.within_first, in60);
  EXPECT_EQ(rep.by_severity.at(vigil::v1::CRITICAL).answered, uint64_t{kHours});
  EXPECT_EQ(rep.by_severity.at(vigil::v1::MAJOR).alarms, uint64_t{kHours});
  // The newest hour and the 744 before it: a whole 31-day month is still there an hour later.
  EXPECT_EQ(hours_of(rep), hour_range(kHours - 1 - 744, kHours - 1));
  for (const auto& [h, row] : rep.by_hour) {
    const TimeMs i = (h - kT0) / kHour;
    EXPECT_EQ(row.alarms, 2u) << i;
    EXPECT_EQ(row.answered, 1u) << i;
    EXPECT_EQ(row.median_s, 30 + i % 100) << i;
  }
}

TEST(AnswerTimesWindowTest, RetentionIsAConstructorParameter) {
  AnswerTimes at(60 * kSecond, 180 * kSecond, 2 * kHour);
  for (TimeMs h = 0; h < 6; ++h) at.on_raise(vigil::v1::MAJOR, kT0 + h * kHour);
  const auto rep = at.report();
  EXPECT_EQ(hours_of(rep), (std::vector<TimeMs>{3, 4, 5}));
  EXPECT_EQ(rep.overall.alarms, 6u);
}

TEST(AnswerTimesWindowTest, LateAnswerOrRaiseForADroppedHourDoesNotBringItBack) {
  AnswerTimes at;
  const TimeMs newest = kT0 + 800 * kHour;
  at.on_raise(vigil::v1::CRITICAL, kT0);               // hour 0, dropped below
  at.on_raise(vigil::v1::CRITICAL, kT0 + 56 * kHour);  // 744 h before the newest: kept
  at.on_raise(vigil::v1::CRITICAL, newest + kMinute);
  EXPECT_EQ(hours_of(at.report()), (std::vector<TimeMs>{56, 800}));

  at.on_answer(vigil::v1::CRITICAL, kT0, newest + 5 * kMinute);
  at.on_answer(vigil::v1::CRITICAL, kT0 + 56 * kHour, newest + 6 * kMinute);
  at.on_raise(vigil::v1::CRITICAL, kT0 + 55 * kHour);  // out of order, already outside
  const auto rep = at.report();
  EXPECT_EQ(hours_of(rep), (std::vector<TimeMs>{56, 800}));
  EXPECT_EQ(rep.by_hour.at(kT0 + 56 * kHour).answered, 1u);
  EXPECT_EQ(rep.overall.alarms, 4u);
  EXPECT_EQ(rep.overall.answered, 2u);
  EXPECT_EQ(rep.by_severity.at(vigil::v1::CRITICAL).answered, 2u);
  EXPECT_EQ(rep.overall.median_s, 3600);  // both waited over an hour
}

// One shard has hours 0..40, the other hours 30 and 760: merged, the window is the one of hour
// 760, whatever the order of the merge.
TEST(AnswerTimesWindowTest, MergeKeepsTheWindowOfTheNewerShard) {
  auto shard = [](std::vector<TimeMs> hours, TimeMs wait) {
    AnswerTimes at;
    for (TimeMs h : hours) {
      at.on_raise(vigil::v1::MAJOR, kT0 + h * kHour);
      at.on_answer(vigil::v1::MAJOR, kT0 + h * kHour, kT0 + h * kHour + wait);
    }
    return at;
  };
  const AnswerTimes a = shard(hour_range(0, 40), 10 * kSecond);
  const AnswerTimes b = shard({30, 760}, 20 * kSecond);
  std::vector<TimeMs> want = hour_range(16, 40);
  want.push_back(760);

  AnswerTimes ab, ba, a_then_b = a;
  ab.merge(a);
  ab.merge(b);
  ba.merge(b);
  ba.merge(a);
  a_then_b.merge(b);
  for (const AnswerTimes* m : {&ab, &ba, &a_then_b}) {
    const auto rep = m->report();
    EXPECT_EQ(hours_of(rep), want);
    EXPECT_EQ(rep.overall.alarms, 43u);
    EXPECT_EQ(rep.overall.answered, 43u);
    const auto& h30 = rep.by_hour.at(kT0 + 30 * kHour);
    EXPECT_EQ(h30.alarms, 2u);
    EXPECT_EQ(h30.median_s, 10);
    EXPECT_EQ(h30.p95_s, 20);
  }
}

}  // namespace
}  // namespace vigil::alarm
