#pragma once
// Answer-time figures for the alarm queue, as accreditation audits ask for them (TEC: 97.5% of
// alarm calls answered within 60 s, 99% within 180 s): per hour of raise and overall, by
// severity, the share of alarms acknowledged within the two targets and the median and p95
// time to acknowledge. Computed on engine time, so replay makes them testable.
//
// Definitions: every new alarm counts once, in the hour it was raised. It is "answered" by the
// first operator ACK or CLEAR. Shares divide by all alarms raised (an alarm never answered is a
// miss); median and p95 are over answered alarms, from a 1-second histogram (exact to 1 s up to
// one hour; longer waits count as one hour). Owned by one shard thread; merge() combines shards.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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
  std::map<TimeMs, AnswerTimeRow> by_hour;  //!< key: start of the hour (UTC), ms
  TimeMs first_target = 60 * kSecond;
  TimeMs second_target = 180 * kSecond;
  //! Lines like "answer times: 1234 alarms, 97.6% within 60 s, ..." for summaries.
  std::string str() const;
};

class AnswerTimes {
 public:
  explicit AnswerTimes(TimeMs first_target = 60 * kSecond, TimeMs second_target = 180 * kSecond)
      : first_(first_target), second_(second_target) {}

  void on_raise(vigil::v1::Severity severity, TimeMs raised_at);
  void on_answer(vigil::v1::Severity severity, TimeMs raised_at, TimeMs answered_at);
  void merge(const AnswerTimes& other);
  AnswerTimeReport report() const;

 private:
  static constexpr size_t kBuckets = 3601;  // seconds 0..3600 (the last holds longer waits)
  struct Counts {
    uint64_t alarms = 0, answered = 0, within_first = 0, within_second = 0;
    void add(const Counts& o) {
      alarms += o.alarms;
      answered += o.answered;
      within_first += o.within_first;
      within_second += o.within_second;
    }
  };
  struct Histogram {
    std::vector<uint32_t> buckets;
    void add(TimeMs wait);
    void merge(const Histogram& o);
    double quantile(double q) const;
  };
  static size_t sev_index(vigil::v1::Severity s) { return static_cast<size_t>(s) % 5; }
  static TimeMs hour_of(TimeMs t) { return t - ((t % kHour) + kHour) % kHour; }
  AnswerTimeRow row(const Counts& c, const Histogram& h) const;

  TimeMs first_, second_;
  std::array<Counts, 5> by_sev_{};
  std::array<Histogram, 5> hist_{};
  std::map<TimeMs, Counts> by_hour_;
  std::map<TimeMs, Histogram> hist_by_hour_;
};

}  // namespace vigil::alarm
