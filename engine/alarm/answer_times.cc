#include "engine/alarm/answer_times.h"

#include <algorithm>
#include <sstream>

namespace vigil::alarm {

void AnswerTimes::advance_to(TimeMs hour) {
  if (hour <= newest_hour_) return;
  newest_hour_ = hour;
  while (!by_hour_.empty() && !in_window(by_hour_.begin()->first)) by_hour_.erase(by_hour_.begin());
}

AnswerTimes::Hour* AnswerTimes::hour_row(TimeMs raised_at) {
  const TimeMs hour = hour_of(raised_at);
  advance_to(hour);
  // A row dropped already stays dropped: re-creating it would show a partial hour.
  return in_window(hour) ? &by_hour_[hour] : nullptr;
}

void AnswerTimes::on_raise(vigil::v1::Severity severity, TimeMs raised_at) {
  by_sev_[sev_index(severity)].alarms++;
  if (Hour* h = hour_row(raised_at)) h->counts.alarms++;
}

void AnswerTimes::on_answer(vigil::v1::Severity severity, TimeMs raised_at, TimeMs answered_at) {
  const TimeMs wait = std::max<TimeMs>(0, answered_at - raised_at);
  Counts c;
  c.answered = 1;
  c.within_first = wait <= first_;
  c.within_second = wait <= second_;
  by_sev_[sev_index(severity)].add(c);
  hist_[sev_index(severity)].add(wait);
  if (Hour* h = hour_row(raised_at)) {
    h->counts.add(c);
    h->waits.add(wait);
  }
}

void AnswerTimes::merge(const AnswerTimes& o) {
  for (size_t i = 0; i < by_sev_.size(); ++i) {
    by_sev_[i].add(o.by_sev_[i]);
    hist_[i].merge(o.hist_[i]);
  }
  advance_to(o.newest_hour_);
  for (const auto& [h, theirs] : o.by_hour_) {
    if (!in_window(h)) continue;
    Hour& mine = by_hour_[h];
    mine.counts.add(theirs.counts);
    mine.waits.merge(theirs.waits);
  }
}

AnswerTimeRow AnswerTimes::row(const Counts& c, const WaitHistogram& h) const {
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
  WaitHistogram all;
  for (size_t i = 0; i < by_sev_.size(); ++i) {
    if (by_sev_[i].alarms == 0 && by_sev_[i].answered == 0) continue;
    out.by_severity[static_cast<vigil::v1::Severity>(i)] = row(by_sev_[i], hist_[i]);
    total.add(by_sev_[i]);
    all.merge(hist_[i]);
  }
  out.overall = row(total, all);
  for (const auto& [h, hour] : by_hour_) out.by_hour[h] = row(hour.counts, hour.waits);
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
