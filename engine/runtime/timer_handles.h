#pragma once
// The handle of each (elder, rule) timer a shard has armed, so that re-arming a rule cancels
// its previous timer at once (ShardCore::arm). Only rules that can arm a timer have a column
// (rules::RuleEngine::may_arm: about half of the shipped pack; event, geofence and score rules
// without `at:` never do), and elders are stored in fixed chunks, so the table grows by a
// chunk instead of doubling: about 48 bytes per elder with the shipped pack, against 84 (plus
// up to 84 of doubling) for a column per rule in one vector (bench/README.md "Memory").

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/core/prefetch.h"
#include "engine/pipeline/timer_wheel.h"

namespace vigil::runtime {

class TimerHandles {
 public:
  static constexpr uint32_t kNil = pipeline::TimerWheel::kNil;

  //! Columns for the rules with `arms[rule]` true; every handle kNil, room for no elder.
  void reset(const std::vector<bool>& arms) {
    column_.assign(arms.size(), -1);
    columns_ = 0;
    for (size_t r = 0; r < arms.size(); ++r) {
      if (arms[r]) column_[r] = static_cast<int16_t>(columns_++);
    }
    chunks_.clear();
  }
  //! The columns reset() gave: true for rules with one.
  std::vector<bool> arms() const {
    std::vector<bool> out(column_.size());
    for (size_t r = 0; r < column_.size(); ++r) out[r] = column_[r] >= 0;
    return out;
  }
  bool has_column(uint32_t rule) const { return rule < column_.size() && column_[rule] >= 0; }
  //! Room for elder indexes below `elders` (new entries kNil).
  void ensure(size_t elders) {
    while (chunks_.size() * kChunk < elders) {
      const size_t n = kChunk * columns_;
      auto& c = chunks_.emplace_back(n == 0 ? nullptr : new uint32_t[n]);
      for (size_t i = 0; i < n; ++i) c[i] = kNil;
    }
  }
  //! The handle of (elder k, rule), nullptr for a rule without a column. k < ensure()'s.
  uint32_t* find(uint32_t k, uint32_t rule) {
    const int c = rule < column_.size() ? column_[rule] : -1;
    return c < 0 ? nullptr : &chunks_[k / kChunk][(k % kChunk) * columns_ + static_cast<size_t>(c)];
  }
  //! The handle of (elder k, rule): kNil when none is armed or the rule has no column.
  uint32_t get(uint32_t k, uint32_t rule) const {
    const int c = rule < column_.size() ? column_[rule] : -1;
    return c < 0 ? kNil : chunks_[k / kChunk][(k % kChunk) * columns_ + static_cast<size_t>(c)];
  }
  //! Calls `f(uint32_t& handle)` for each of elder k's handles.
  template <class F>
  void each_of(uint32_t k, F&& f) {
    if (columns_ == 0) return;
    uint32_t* row = &chunks_[k / kChunk][(k % kChunk) * columns_];
    for (size_t c = 0; c < columns_; ++c) f(row[c]);
  }
  //! Calls `f(uint32_t handle)` for every armed handle.
  template <class F>
  void each_armed(F&& f) const {
    for (const auto& c : chunks_) {
      for (size_t i = 0; i < kChunk * columns_; ++i) {
        if (c[i] != kNil) f(c[i]);
      }
    }
  }
  //! Asks the CPU for elder k's row (the shard's look-ahead).
  void prefetch(uint32_t k) const {
    if (columns_ != 0 && k / kChunk < chunks_.size()) {
      vigil::prefetch(&chunks_[k / kChunk][(k % kChunk) * columns_]);
    }
  }
  size_t heap_bytes() const {
    return chunks_.size() * (kChunk * columns_ * sizeof(uint32_t) + sizeof(chunks_[0])) +
           column_.capacity() * sizeof(int16_t);
  }

 private:
  static constexpr size_t kChunk = 1024;  //!< elders per chunk (48 KiB with 12 columns)
  std::vector<int16_t> column_;           //!< rule -> column, -1 for none
  size_t columns_ = 0;
  std::vector<std::unique_ptr<uint32_t[]>> chunks_;
};

}  // namespace vigil::runtime
