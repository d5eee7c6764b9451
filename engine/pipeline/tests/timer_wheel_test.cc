#include "engine/pipeline/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <queue>
#include <random>

#include "engine/pipeline/timer_queue.h"

namespace vigil::pipeline {
namespace {

constexpr TimeMs kT0 = 1'772'352'000'000;  // 2026-03-01T08:00:00Z
//! The pool grows a chunk at a time: a bound on its bytes allows one chunk not yet full.
constexpr size_t kChunkBytes = TimerWheel::kChunkNodes * 32;

std::vector<uint32_t> drain(TimerWheel& w, TimeMs now) {
  std::vector<uint32_t> keys;
  WheelTimer t;
  while (w.pop_due(now, &t)) keys.push_back(t.key);
  return keys;
}

TEST(TimerWheel, FiresInDueThenArmOrder) {
  TimerWheel w;
  w.arm(kT0 + 200, 0, 0, 0, 2);
  w.arm(kT0 + 100, 0, 0, 0, 1);
  w.arm(kT0 + 200, 0, 0, 0, 3);
  EXPECT_EQ(w.next_due(), kT0 + 100);
  EXPECT_TRUE(drain(w, kT0 + 99).empty());
  EXPECT_EQ(drain(w, kT0 + 100), std::vector<uint32_t>{1});
  EXPECT_TRUE(drain(w, kT0 + 199).empty());
  EXPECT_EQ(w.next_due(), kT0 + 200);
  EXPECT_EQ(drain(w, kT0 + 500), (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(w.next_due(), INT64_MAX);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, SameDueArmedAtDifferentLevelsKeepsArmOrder) {
  // The first timer is armed hours ahead (a high level), the second minutes before the same due
  // time (a low level): cascading must still fire them in arm order.
  TimerWheel w;
  const TimeMs due = kT0 + 5 * kHour + 123;
  w.arm(due, 0, 0, 0, 1);
  w.arm(kT0 + 1, 0, 0, 0, 0);
  EXPECT_EQ(drain(w, kT0 + 1), std::vector<uint32_t>{0});
  WheelTimer t;
  EXPECT_FALSE(w.pop_due(due - 2 * kMinute, &t));
  w.arm(due, 0, 0, 0, 2);
  w.arm(due - 1, 0, 0, 0, 3);
  EXPECT_EQ(w.next_due(), due - 1);
  EXPECT_EQ(drain(w, due), (std::vector<uint32_t>{3, 1, 2}));
}

TEST(TimerWheel, CarriesGenerationSlotAndKindForLazyCancellation) {
  TimerWheel w;
  w.arm(kT0 + 10, 7, 3, 41, 9);
  w.arm(kT0 + 20, 7, 3, 42, 9);  // re-armed: the owner now holds generation 42
  WheelTimer t;
  ASSERT_TRUE(w.pop_due(kT0 + 20, &t));
  EXPECT_EQ(t.generation, 41u);  // stale: the owner ignores it
  EXPECT_EQ(t.kind, 7u);
  EXPECT_EQ(t.slot, 3u);
  EXPECT_EQ(t.key, 9u);
  ASSERT_TRUE(w.pop_due(kT0 + 20, &t));
  EXPECT_EQ(t.generation, 42u);
  EXPECT_EQ(t.due, kT0 + 20);
}

TEST(TimerWheel, TimersArmedInThePastFireFirstInDueOrder) {
  TimerWheel w;
  w.arm(kT0 + 1000, 0, 0, 0, 1);
  EXPECT_TRUE(drain(w, kT0 + 500).empty());
  w.arm(kT0 + 300, 0, 0, 0, 2);  // before the wheel's time: overdue
  w.arm(kT0 + 100, 0, 0, 0, 3);
  w.arm(kT0 + 500, 0, 0, 0, 4);  // exactly the wheel's time
  EXPECT_EQ(w.next_due(), kT0 + 100);
  EXPECT_EQ(drain(w, kT0 + 200), std::vector<uint32_t>{3});
  EXPECT_EQ(drain(w, kT0 + 2000), (std::vector<uint32_t>{2, 4, 1}));
}

TEST(TimerWheel, FarFutureTimersBeyondTheTopLevel) {
  TimerWheel w;
  const TimeMs years = 5LL * 365 * 24 * kHour;
  w.arm(kT0 + 10, 0, 0, 0, 1);
  w.arm(kT0 + years, 0, 0, 0, 2);      // beyond 64^6 ms: overflow
  w.arm(kT0 + years + 1, 0, 0, 0, 3);
  w.arm(kT0 + 40 * 24 * kHour, 0, 0, 0, 4);
  EXPECT_EQ(drain(w, kT0 + 10), std::vector<uint32_t>{1});
  EXPECT_EQ(w.next_due(), kT0 + 40 * 24 * kHour);
  EXPECT_TRUE(drain(w, kT0 + years - 1).size() == 1);
  EXPECT_EQ(w.next_due(), kT0 + years);
  EXPECT_EQ(drain(w, kT0 + years), std::vector<uint32_t>{2});
  EXPECT_EQ(drain(w, kT0 + years + 1), std::vector<uint32_t>{3});
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, NextDueWalksTheWheelLikeReplayDoes) {
  // Replay moves to next_due() and pops what is due there; every timer must come out at its
  // own due time.
  TimerWheel w;
  std::mt19937_64 rng(7);
  std::vector<TimeMs> dues;
  for (uint32_t i = 0; i < 2000; ++i) {
    dues.push_back(kT0 + static_cast<TimeMs>(rng() % (48 * kHour)));
    w.arm(dues.back(), 0, 0, 0, i);
  }
  size_t fired = 0;
  WheelTimer t;
  while (w.next_due() != INT64_MAX) {
    const TimeMs at = w.next_due();
    ASSERT_TRUE(w.pop_due(at, &t));
    EXPECT_EQ(t.due, at);
    EXPECT_EQ(dues[t.key], at);
    ++fired;
  }
  EXPECT_EQ(fired, dues.size());
}

TEST(TimerWheel, MatchesTheHeapOnARandomWorkload) {
  // The reference is TimerQueue (a binary heap with the same (due, arm order) contract).
  TimerWheel w;
  TimerQueue q;
  std::mt19937_64 rng(42);
  TimeMs now = kT0;
  std::vector<uint32_t> got, want;
  for (int step = 0; step < 20000; ++step) {
    const int arms = static_cast<int>(rng() % 4);
    for (int a = 0; a < arms; ++a) {
      const uint64_t r = rng() % 100;
      TimeMs due = r < 5    ? now - static_cast<TimeMs>(rng() % 5000)           // late event
                   : r < 60 ? now + static_cast<TimeMs>(rng() % (2 * kMinute))  // sequences
                   : r < 95 ? now + static_cast<TimeMs>(rng() % (12 * kHour))  // absences
                            : now + static_cast<TimeMs>(rng() % (90LL * 24 * kHour));
      const uint32_t key = static_cast<uint32_t>(step * 4 + a);
      w.arm(due, 0, 0, 0, key);
      q.arm(due, 0, 0, 0, std::to_string(key));
    }
    now += static_cast<TimeMs>(rng() % (rng() % 10 == 0 ? 10 * kMinute : 2 * kSecond));
    WheelTimer wt;
    while (w.pop_due(now, &wt)) got.push_back(wt.key);
    Timer qt;
    while (q.pop_due(now, &qt)) want.push_back(static_cast<uint32_t>(std::stoul(qt.key)));
    ASSERT_EQ(got.size(), want.size()) << "step " << step;
    ASSERT_EQ(w.next_due(), q.next_due()) << "step " << step;
  }
  EXPECT_EQ(got, want);
}

TEST(TimerWheel, CancelRemovesATimerWhereverItSits) {
  TimerWheel w;
  const uint32_t soon = w.arm(kT0 + 5, 0, 0, 0, 1);              // level 0
  const uint32_t later = w.arm(kT0 + 3 * kHour, 0, 0, 0, 2);     // a high level
  w.arm(kT0 + 3 * kHour, 0, 0, 0, 3);                            // same slot, stays
  const uint32_t far = w.arm(kT0 + 5LL * 365 * 24 * kHour, 0, 0, 0, 4);  // overflow
  w.arm(kT0 + 10, 0, 0, 0, 5);
  EXPECT_EQ(drain(w, kT0 + 6), std::vector<uint32_t>{1});
  const uint32_t past = w.arm(kT0 + 2, 0, 0, 0, 6);  // overdue heap
  w.arm(kT0 + 3, 0, 0, 0, 7);
  (void)soon;
  w.cancel(later);
  w.cancel(far);
  w.cancel(past);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(w.next_due(), kT0 + 3);
  EXPECT_EQ(drain(w, kT0 + 100 * 24 * kHour), (std::vector<uint32_t>{7, 5, 3}));
  EXPECT_EQ(w.next_due(), INT64_MAX);
}

TEST(TimerWheel, RearmingOnEveryEventKeepsOneTimerPerDeadline) {
  // An absence rule moves its deadline on every event: cancel + arm keeps the wheel small.
  TimerWheel w;
  std::vector<uint32_t> handle(1000, TimerWheel::kNil);
  TimeMs now = kT0;
  for (int round = 0; round < 200; ++round) {
    now += kSecond;
    for (uint32_t k = 0; k < handle.size(); ++k) {
      if (handle[k] != TimerWheel::kNil) w.cancel(handle[k]);
      handle[k] = w.arm(now + 45 * kMinute, 0, 0, 0, k);
    }
    WheelTimer t;
    ASSERT_FALSE(w.pop_due(now, &t));
  }
  EXPECT_EQ(w.size(), handle.size());
  EXPECT_LE(w.pool_bytes(), 2 * 32 * handle.size() + kChunkBytes);
}

TEST(TimerWheel, RearmingPastDueTimersFreesTheCancelledHeapNodes) {
  // Timers armed before the wheel's time sit in the overdue heap, which cannot unlink: cancelled
  // ones used to keep their node until their due time reached the top (one node per re-arm).
  TimerWheel w;
  w.arm(kT0 + kHour, 0, 0, 0, 99999);
  ASSERT_TRUE(drain(w, kT0 + kHour).size() == 1);  // the wheel's time is now kT0 + 1 h
  std::vector<uint32_t> handle(1000, TimerWheel::kNil);
  for (int round = 0; round < 200; ++round) {
    for (uint32_t k = 0; k < handle.size(); ++k) {
      if (handle[k] != TimerWheel::kNil) w.cancel(handle[k]);
      // past due, later each round for even keys and earlier for odd ones
      const TimeMs due = kT0 + (k % 2 == 0 ? round : -round) * kSecond + k;
      handle[k] = w.arm(due, 0, 0, static_cast<uint64_t>(round), k);
    }
    ASSERT_LE(w.nodes_in_use(), 2 * handle.size() + 64) << "round " << round;
  }
  EXPECT_EQ(w.size(), handle.size());
  EXPECT_LE(w.pool_bytes(), 2 * 32 * (2 * handle.size() + 64) + kChunkBytes);
  // Only the last arm of each key fires, in due order.
  std::vector<std::pair<TimeMs, uint32_t>> want;
  for (uint32_t k = 0; k < handle.size(); ++k) {
    want.emplace_back(kT0 + (k % 2 == 0 ? 199 : -199) * kSecond + k, k);
  }
  std::sort(want.begin(), want.end());
  WheelTimer t;
  std::vector<std::pair<TimeMs, uint32_t>> got;
  while (w.pop_due(kT0 + kHour, &t)) {
    EXPECT_EQ(t.generation, 199u);
    got.emplace_back(t.due, t.key);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(w.nodes_in_use(), 0u);
}

TEST(TimerWheel, CancelMatchesTheHeapWithLazyCancellation) {
  TimerWheel w;
  TimerQueue q;
  std::mt19937_64 rng(3);
  std::vector<std::pair<uint32_t, uint32_t>> live;  // (key, handle) not yet fired
  std::vector<bool> cancelled;
  TimeMs now = kT0;
  std::vector<uint32_t> got, want;
  for (int step = 0; step < 20000; ++step) {
    for (int a = static_cast<int>(rng() % 3); a > 0; --a) {
      const TimeMs due = now - 2000 + static_cast<TimeMs>(rng() % (3 * kHour));
      const uint32_t key = static_cast<uint32_t>(cancelled.size());
      cancelled.push_back(false);
      live.emplace_back(key, w.arm(due, 0, 0, 0, key));
      q.arm(due, 0, 0, 0, std::to_string(key));
    }
    if (!live.empty() && rng() % 3 == 0) {
      const size_t i = rng() % live.size();
      w.cancel(live[i].second);
      cancelled[live[i].first] = true;
      live.erase(live.begin() + static_cast<long>(i));
    }
    now += static_cast<TimeMs>(rng() % (5 * kSecond));
    WheelTimer wt;
    while (w.pop_due(now, &wt)) {
      got.push_back(wt.key);
      live.erase(std::find_if(live.begin(), live.end(), [&](auto& l) { return l.first == wt.key; }));
    }
    Timer qt;
    while (q.pop_due(now, &qt)) {
      const auto key = static_cast<uint32_t>(std::stoul(qt.key));
      if (!cancelled[key]) want.push_back(key);
    }
    ASSERT_EQ(got, want) << "step " << step;
    ASSERT_EQ(w.size(), live.size());
  }
}

TEST(TimerWheel, AFarTimerInAnEmptyWheelDoesNotPushNearerOnesOutOfTheWheel) {
  // A shard's wheel is empty at start; if its first timer is a 12-hour absence, the wheel
  // used to re-base its time to that due, and every 10-minute timer armed after it then sat in
  // the overdue heap (O(log n), and a vector that grew by copying megabytes) for 12 hours.
  for (const bool told : {true, false}) {
    TimerWheel w;
    WheelTimer t;
    if (told) {
      w.start_at(kT0);  // the engine's way: the clock before anything is armed
    } else {
      ASSERT_FALSE(w.pop_due(kT0, &t));  // or the first pop sets the time
    }
    w.arm(kT0 + 12 * kHour, 0, 0, 0, 99999);
    std::vector<uint32_t> handle(1000, TimerWheel::kNil);
    for (int round = 0; round < 5; ++round) {
      for (uint32_t k = 0; k < handle.size(); ++k) {
        if (handle[k] != TimerWheel::kNil) w.cancel(handle[k]);
        handle[k] = w.arm(kT0 + 10 * kMinute + round * kSecond + k, 0, 0, 0, k);
      }
    }
    EXPECT_EQ(w.overdue_size(), 0u) << (told ? "start_at" : "pop_due");
    EXPECT_EQ(w.nodes_in_use(), handle.size() + 1);
    // They still fire at their due times, then the far one.
    const auto fired = drain(w, kT0 + 12 * kHour);
    ASSERT_EQ(fired.size(), handle.size() + 1);
    for (uint32_t k = 0; k < handle.size(); ++k) EXPECT_EQ(fired[k], k);
    EXPECT_EQ(fired.back(), 99999u);
  }
}

TEST(TimerWheel, AWheelNeverToldItsTimeStartsAtItsFirstTimer) {
  // Replay and tests arm without a clock: the first timer sets the time, so a 2026 due is not
  // parked beyond the top level (time 0 is 56 years before it), and later ones still fire.
  TimerWheel w;
  w.arm(kT0 + kMinute, 0, 0, 0, 1);
  w.arm(kT0 + kSecond, 0, 0, 0, 2);  // before the first: overdue from the wheel's view
  EXPECT_EQ(w.now(), kT0 + kMinute - 1);
  EXPECT_EQ(drain(w, kT0 + kHour), (std::vector<uint32_t>{2, 1}));
}

TEST(TimerWheel, HoldsMillionsOfTimers) {
  TimerWheel w;
  constexpr uint32_t kCount = 3'000'000;
  for (uint32_t i = 0; i < kCount; ++i) {
    w.arm(kT0 + 1 + static_cast<TimeMs>((i * 2654435761u) % (12 * kHour)), 0, 0, i, i);
  }
  EXPECT_EQ(w.size(), kCount);
  EXPECT_LE(w.pool_bytes(), 32 * static_cast<size_t>(kCount) + kChunkBytes);
  TimeMs last = 0;
  size_t fired = 0;
  WheelTimer t;
  for (TimeMs now = kT0; now <= kT0 + 12 * kHour; now += kMinute) {
    while (w.pop_due(now, &t)) {
      ASSERT_GE(t.due, last);
      last = t.due;
      ++fired;
    }
  }
  EXPECT_EQ(fired, kCount);
  EXPECT_EQ(w.size(), 0u);
  // Freed nodes are reused: arming again does not grow the pool.
  const size_t bytes = w.pool_bytes();
  for (uint32_t i = 0; i < 1000; ++i) w.arm(kT0 + 13 * kHour + i, 0, 0, 0, i);
  EXPECT_EQ(w.pool_bytes(), bytes);
}

}  // namespace
}  // namespace vigil::pipeline
