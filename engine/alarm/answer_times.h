#pragma once
// Answer-time figures for the alarm queue, as accreditation audits ask for them (TEC: 97.5% of
// alarm calls answered within 60 s, 99% within 180 s): per hour of raise and overall, by
// severity, the share of alarms acknowledged within the two targets and the median and p95
// time to acknowledge. Computed on engine time, so replay makes them testable.
//
// Definitions: every new alarm counts once, in the hour it was raised. It is "answered" by the
// first operator ACK or CLEAR. Shares divide by all alarms raised (an alarm never answered is a
// miss); median and p95 are over answered alarms, from a sparse 1-second histogram (exact to 1 s
// up to one hour; longer waits count as one hour).
//
// Memory: overall and per-severity figures count every alarm for good in fixed space; the hourly
// rows are kept only for the hours at most `hourly_retention` (31 days) before the newest hour of
// raise seen, and a late answer or raise for a dropped hour does not bring its row back. Older
// months come from the `alarms` topic, the record of truth (engine/alarm/README.md). Owned by one
// shard thread; merge() combines shards.

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "engine/alarm/wait_histogram.h"
#include "engine/core/clock.h"
#include "schemas/outputs.pb.h"

namespace vigil::alarm {

struct AnswerTimeRow {
  uint64_t alarms = 0;
  uint64_t answered = 0;
  uint64_t within_first = 0;   //!< answered within the first target (60 s)
  uint64_t within_second = 0;  //!< answered within the second target (180 s)
  double median_s = 0;
  double p95_s = 0;
  double share_first() const { return alarms ? double(within_first) / alarms : 0; }
  double share_second() const { return alarms ? double(within_second) / alarms : 0; }
};

struct AnswerTimeReport {
  AnswerTimeRow overall;
  std::map<vigil::v1::Severity, AnswerTimeRow> by_severity;
  std::map<TimeMs, AnswerTimeRow> by_hour;  //!< key: start of the hour (UTC), ms; the kept window
  TimeMs first_target = 60 * kSecond;
  TimeMs second_target = 180 * kSecond;
  //! Lines like "answer times: 1234 alarms, 97.6% within 60 s, ..." for summaries.
  std::string str() const;
};

class AnswerTimes {
 public:
  //! A 31-day month of hourly rows (744 hours): what a monthly accreditation audit reads.
  static constexpr TimeMs kHourlyRetention = 744 * kHour;

  explicit AnswerTimes(TimeMs first_target = 60 * kSecond, TimeMs second_target = 180 * kSecond,
                       TimeMs hourly_retention = kHourlyRetention)
      : first_(first_target), second_(second_target), retention_(hourly_retention) {}

  void on_raise(vigil::v1::Severity severity, TimeMs raised_at);
  void on_answer(vigil::v1::Severity severity, TimeMs raised_at, TimeMs answered_at);
  //! Adds `other`'s figures; the hourly rows kept are those in the window of the newer of the two.
  void merge(const AnswerTimes& other);
  AnswerTimeReport report() const;

 private:
  struct Counts {
    uint64_t alarms = 0, answered = 0, within_first = 0, within_second = 0;
    void add(const Counts& o) {
      alarms += o.alarms;
      answered += o.answered;
      within_first += o.within_first;
      within_second += o.within_second;
    }
  };
  struct Hour {
    Counts counts;
    WaitHistogram waits;
  };
  static size_t sev_index(vigil::v1::Severity s) { return static_cast<size_t>(s) % 5; }
  static TimeMs hour_of(TimeMs t) { return t - ((t % kHour) + kHour) % kHour; }
  bool in_window(TimeMs hour) const { return hour + retention_ >= newest_hour_; }
  //! Moves the window up to `hour` if it is newer and drops the rows that fell out of it.
  void advance_to(TimeMs hour);
  //! The row of the hour `raised_at` falls in, created if need be; nullptr outside the window.
  Hour* hour_row(TimeMs raised_at);
  AnswerTimeRow row(const Counts& c, const WaitHistogram& h) const;

  TimeMs first_, second_, retention_;
  std::array<Counts, 5> by_sev_{};
  std::array<WaitHistogram, 5> hist_{};
  TimeMs newest_hour_ = std::numeric_limits<TimeMs>::min();  //!< newest hour of raise seen
  std::map<TimeMs, Hour> by_hour_;                           //!< the window's rows only
};

}  // namespace vigil::alarm
