#pragma once
// The bench's output sink: counts every record by topic and times the probes. A probe is the
// n-th sos of probe elder p; the engine answers it with an AlarmEvent of that elder whose count
// tells which probe it was, so the latency is (emit time - submit time of that probe).
// emit() is called from the shard threads; the probe table is written before submit and read
// after, so only the latency slots are shared (one writer each).

#include <atomic>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/clock.h"
#include "engine/egress/sink.h"

namespace vigil::bench {

class ProbeSink final : public egress::Sink {
 public:
  ProbeSink(uint32_t probe_elders, uint64_t probes);
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;
  Status flush(int) override { return ok(); }

  //! Called by the feeder just before submitting probe `id`.
  void submitted(uint64_t id, int64_t steady_ns) { submit_ns_[id].store(steady_ns, std::memory_order_relaxed); }
  //! Latencies in microseconds of the probes answered so far, sorted.
  std::vector<double> latencies_us() const;
  //! Every answered probe in submit order: submit time (ms since the first probe), latency (us),
  //! submit time on CLOCK_MONOTONIC (s; perf's timestamps, to line up with `perf sched`).
  void write_timeline(std::ostream& out) const;
  uint64_t records() const { return records_.load(); }
  uint64_t alarms() const { return alarms_.load(); }

 private:
  uint32_t probe_elders_;
  std::unique_ptr<std::atomic<int64_t>[]> submit_ns_;
  std::unique_ptr<std::atomic<int64_t>[]> emit_ns_;
  uint64_t probes_;
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> alarms_{0};
};

//! The q-quantile of sorted values (nearest rank); 0 when empty.
double quantile(const std::vector<double>& sorted, double q);

}  // namespace vigil::bench
