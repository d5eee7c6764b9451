#include "engine/alarm/wait_histogram.h"

#include <algorithm>
#include <cmath>

namespace vigil::alarm {

void WaitHistogram::add(TimeMs wait) {
  const auto s = static_cast<uint16_t>(std::clamp<TimeMs>(wait / kSecond, 0, kMaxSecond));
  auto it = std::lower_bound(counts_.begin(), counts_.end(), s,
                             [](const Entry& e, uint16_t v) { return e.first < v; });
  if (it != counts_.end() && it->first == s) {
    it->second++;
  } else {
    counts_.insert(it, Entry{s, 1});
  }
}

void WaitHistogram::merge(const WaitHistogram& o) {
  if (o.counts_.empty()) return;
  std::vector<Entry> out;
  out.reserve(counts_.size() + o.counts_.size());
  size_t i = 0, j = 0;
  while (i < counts_.size() && j < o.counts_.size()) {
    const Entry& a = counts_[i];
    const Entry& b = o.counts_[j];
    if (a.first < b.first) {
      out.push_back(a);
      ++i;
    } else if (b.first < a.first) {
      out.push_back(b);
      ++j;
    } else {
      out.push_back(Entry{a.first, a.second + b.second});
      ++i;
      ++j;
    }
  }
  out.insert(out.end(), counts_.begin() + i, counts_.end());
  out.insert(out.end(), o.counts_.begin() + j, o.counts_.end());
  counts_ = std::move(out);
}

double WaitHistogram::quantile(double q) const {
  uint64_t total = 0;
  for (const auto& [s, n] : counts_) total += n;
  if (total == 0) return 0;
  const uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (const auto& [s, n] : counts_) {
    seen += n;
    if (seen >= std::max<uint64_t>(rank, 1)) return static_cast<double>(s);
  }
  return static_cast<double>(counts_.back().first);
}

}  // namespace vigil::alarm
