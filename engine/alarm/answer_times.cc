#include "engine/alarm/answer_times.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace vigil::alarm {

void AnswerTimes::Histogram::add(TimeMs wait) {
  if (buckets.empty()) buckets.assign(kBuckets, 0);
  const TimeMs s = std::clamp<TimeMs>(wait / kSecond, 0, kBuckets - 1);
  buckets[static_cast<size_t>(s)]++;
}

void AnswerTimes::Histogram::merge(const Histogram& o) {
  if (o.buckets.empty()) return;
  if (buckets.empty()) buckets.assign(kBuckets, 0);
  for (size_t i = 0; i < kBuckets; ++i) buckets[i] += o.buckets[i];
}

double AnswerTimes::Histogram::quantile(double q) const {
  uint64_t total = 0;
  for (uint32_t b : buckets) total += b;
  if (total == 0) return 0;
  // Nearest-rank: the smallest wait with at least q of the answers at or below it.
  const uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= std::max<uint64_t>(rank, 1)) return static_cast<double>(i);
  }
  return static_cast<double>(buckets.size() - 1);
}

void AnswerTimes::on_raise(vigil::v1::Severity severity, TimeMs raised_at) {
  by_sev_[sev_index(severity)].alarms++;
  by_hour_[hour_of(raised_at)].alarms++;
}

void AnswerTimes::on_answer(vigil::v1::Severity severity, TimeMs raised_at, TimeMs answered_at) {
  const TimeMs wait = std::max<TimeMs>(0, answered_at - raised_at);
  Counts c;
  c.answered = 1;
  c.within_first = wait <= first_;
  c.within_second = wait <= second_;
  by_sev_[sev_index(severity)].add(c);
  by_hour_[hour_of(raised_at)].add(c);
  hist_[sev_index(severity)].add(wait);
  hist_by_hour_[hour_of(raised_at)].add(wait);
}

void AnswerTimes::merge(const AnswerTimes& o) {
  for (size_t i = 0; i < by_sev_.size(); ++i) {
    by_sev_[i].add(o.by_sev_[i]);
    hist_[i].merge(o.hist_[i]);
  }
  for (const auto& [h, c] : o.by_hour_) by_hour_[h].add(c);
  for (const auto& [h, hist] : o.hist_by_hour_) hist_by_hour_[h].merge(hist);
}

AnswerTimeRow AnswerTimes::row(const Counts& c, const Histogram& h) const {
  AnswerTimeRow r;
  r.alarms = c.alarms;
  r.answered = c.answered;
  r.within_first = c.within_first;
  r.within_second = c.within_second;
  r.median_s = h.quantile(0.5);
  r.p95_s = h.quantile(0.95);
  return r;
}

AnswerTimeReport AnswerTimes::report() const {
  AnswerTimeReport out;
  out.first_target = first_;
  out.second_target = second_;
  Counts total;
  Histogram all;
  for (size_t i = 0; i < by_sev_.size(); ++i) {
    if (by_sev_[i].alarms == 0 && by_sev_[i].answered == 0) continue;
    out.by_severity[static_cast<vigil::v1::Severity>(i)] = row(by_sev_[i], hist_[i]);
    total.add(by_sev_[i]);
    all.merge(hist_[i]);
  }
  out.overall = row(total, all);
  static const Histogram kEmpty;
  for (const auto& [h, c] : by_hour_) {
    auto it = hist_by_hour_.find(h);
    out.by_hour[h] = row(c, it == hist_by_hour_.end() ? kEmpty : it->second);
  }
  return out;
}

std::string AnswerTimeReport::str() const {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(1);
  auto line = [&](const std::string& label, const AnswerTimeRow& r) {
    out << "answer times " << label << ": " << r.alarms << " alarms, " << r.answered
        << " answered, " << 100 * r.share_first() << "% within " << first_target / kSecond
        << " s, " << 100 * r.share_second() << "% within " << second_target / kSecond
        << " s, median " << r.median_s << " s, p95 " << r.p95_s << " s\n";
  };
  line("overall", overall);
  for (const auto& [sev, r] : by_severity) line(vigil::v1::Severity_Name(sev), r);
  return out.str();
}

}  // namespace vigil::alarm
