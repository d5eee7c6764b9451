#pragma once
// Process-wide counters for the run summary and, later, /metrics. A Counter is one relaxed
// atomic on its own cache line, so shards bump it without sharing a line with others.

#include <atomic>
#include <cstdint>

namespace vigil {

//! A monotonically increasing count; add() from any thread.
class alignas(64) Counter {
 public:
  void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

//! The engine's counters. One instance per process (metrics()); tests read deltas.
struct Metrics {
  Counter events_in;          //!< input records taken from any topic
  Counter records_out;        //!< output records handed to egress
  Counter deadletters;        //!< inputs that could not be used
  Counter alarms_raised;      //!< new alarms (not repeats)
  Counter alarm_repeats;      //!< repeats of an active alarm
  Counter alarms_cleared;
  Counter orders_created;
  Counter orders_offered;     //!< offers sent (every attempt)
  Counter orders_accepted;
  Counter orders_completed;
  Counter orders_escalated;
  Counter checkpoints;        //!< RocksDB commits of state + offsets
  Counter checkpoint_bytes;   //!< bytes those commits wrote (keys and values, RocksDB's batch size)
  Counter checkpoint_write_us;  //!< time in RocksDB's write of those commits (WAL and memtables)
  Counter checkpoint_files;     //!< of those commits, the ones written as a table file
  //! Of the engine's checkpoints: the barrier to every owner's snapshot taken, and the barrier
  //! to the checkpoint durable with its outputs handed over (Engine::CheckpointTiming).
  Counter checkpoint_snapshot_us;
  Counter checkpoint_durable_us;
  Counter timers_fired;
  Counter timers_fired_late;  //!< fired a while after their due time (engine down or behind)
  Counter late_events;        //!< events behind their partition's watermark (still applied)
  Counter rule_reloads;       //!< rule sets swapped in while running
};

Metrics& metrics();

}  // namespace vigil
