#pragma once
// The measured phases of the bench harness, each on its own fresh state directory.

#include <memory>
#include <optional>
#include <string>

#include "bench/harness/workload.h"
#include "engine/broker/embedded_broker.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/engine.h"

namespace vigil::bench {

struct PhaseResult {
  bool ran = false;
  std::string note;             //!< why it did not run, or a caveat
  uint64_t events = 0;
  double seconds = 0;
  double events_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  uint64_t probes = 0;
  uint64_t outputs = 0;
  uint64_t state_bytes = 0;     //!< bytes of elder state (in-process) or live data (RocksDB)
  uint64_t state_records = 0;   //!< elders with stored state
  //! CPU seconds the whole process used during the phase (every thread: feeder, engine,
  //! RocksDB; in the broker phases also the embedded broker and the producer). Per event it is
  //! the figure that other work on the machine does not move, unlike events/s.
  double cpu_s = 0;
  //! The engine's checkpoints during the phase (in-process): how many, the bytes they wrote and
  //! the time in RocksDB's write (metrics(): checkpoints, checkpoint_bytes, checkpoint_write_us).
  uint64_t checkpoints = 0;
  uint64_t checkpoint_bytes = 0;
  double checkpoint_write_s = 0;
  //! Summed over those checkpoints: barrier to every owner's snapshot, and barrier to durable
  //! (checkpoint_snapshot_us, checkpoint_durable_us; runtime::Engine::CheckpointTiming).
  double checkpoint_snapshot_s = 0;
  double checkpoint_durable_s = 0;
};

//! CPU seconds (user + system) the process has used so far.
double process_cpu_s();

struct PhaseContext {
  const Workload* workload;
  std::shared_ptr<const rules::RuleSet> rules;
  std::string dir;              //!< a fresh directory for this phase
  uint32_t shards = 2;
  int partitions = 4;
  double duration_s = 20;
  uint32_t probe_elders = 64;
  //! EngineOptions::commit_max_busy for the engine's phases; negative: the engine's default.
  double commit_max_busy = -1;
  //! EngineOptions::shard_nice for the engine's phases; unset: the engine's default.
  std::optional<int> shard_nice;
};

class ProbeSink;

//! The engine's options for a phase: its shard count, its fresh state directory and
//! commit_max_busy. `probes` observe every output when it is made; the durable sink (a
//! DiscardSink in the phases) gets them at checkpoints, as exactly-once delivery does
//! (engine/state/README.md).
runtime::EngineOptions engine_options(const PhaseContext& ctx, egress::Sink* probes = nullptr);
//! Returns once everything submitted so far is processed and committed: a checkpoint begun
//! after the last submit has committed (its barrier follows every record in the rings). The
//! phases load the registry this way before their clock starts, so they measure events only.
Status settle(runtime::Engine& engine);
//! Copies the probes' latency percentiles and the output count into `r`. With
//! VIGIL_BENCH_PROBE_LOG=DIR set, also writes DIR/<phase>.tsv: each probe in submit order, its
//! submit time (ms since the first) and latency (us), to see when the slow ones happened.
void take_latencies(const PhaseContext& ctx, const ProbeSink& sink, PhaseResult& r);
//! With VIGIL_BENCH_PROBE_LOG=DIR set, writes DIR/<phase>-checkpoints.tsv: each checkpoint
//! whose barrier came at or after `from_ns`, its barrier on the probes' clock (seconds, as
//! their submit_monotonic_s) and, in ms after it, its snapshot, write and durable points. Laid
//! next to <phase>.tsv it shows which slow probes fell inside a checkpoint (bench/README.md,
//! "Checkpoint timeline").
void take_checkpoint_timeline(const PhaseContext& ctx, const runtime::Engine& engine,
                              int64_t from_ns);
//! A fresh embedded broker with the phase's partitions, or null with the reason in r.note.
std::unique_ptr<broker::EmbeddedBroker> start_broker(const PhaseContext& ctx, PhaseResult& r);

//! The engine fed in-process by submit(); pace_per_s 0 = as fast as it takes them.
PhaseResult run_inprocess(const PhaseContext& ctx, double pace_per_s);
//! The engine fed by KafkaSource from the embedded broker, a paced producer in front. pace_per_s > 0 paces the producer at that many
//! events per second (latency at a rate the engine sustains); 0 produces as fast as the engine
//! reads (throughput; the latency then includes the backlog the producer builds up).
PhaseResult run_broker(const PhaseContext& ctx, double pace_per_s = 0);
//! A bare librdkafka consumer on the embedded broker with the same records.
PhaseResult run_raw_consumer(const PhaseContext& ctx);
//! RocksDB batched writes of elder-sized values with the engine's options: keys/s.
PhaseResult run_rocksdb(const PhaseContext& ctx, uint64_t keys, size_t value_bytes);

}  // namespace vigil::bench
