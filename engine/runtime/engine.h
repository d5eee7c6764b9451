#pragma once
// The live engine: N shard threads and one dispatch thread, fed by one ingest thread through
// lock-free SPSC rings, with aligned checkpoints to RocksDB.
//
// Threads and ownership
//   ingest thread (the caller of submit/maybe_checkpoint/stop): routes records by key to shard
//     rings (telemetry, calls, elder/device registry) or the dispatch ring (agency, registry
//     agencies, routed `orders`); tracks the next offset of every partition; coordinates
//     checkpoints.
//   With dispatch.routing: kafka, shards put order work on the `orders` topic (as outputs)
//   instead of their ring to the dispatcher (engine/runtime/order_router.h).
//   shard thread i: owns ShardCore i (its elders' state, timers, alarms).
//   dispatch thread: owns DispatchCore (agencies, orders); reads its ingest ring and one ring
//     from each shard (order requests and actions).
//
// Checkpoints (Chandy-Lamport, aligned): every commit interval the ingest thread snapshots the
// offsets and puts a barrier into every ring. A shard at the barrier serialises its dirty state
// and forwards the barrier to the dispatcher, which waits for the barrier on all its rings
// before serialising its own. Then the commit thread writes all of it and the offsets in one
// RocksDB WriteBatch, while the ingest thread goes on filling the rings; the next checkpoint
// begins only after that write. The state on disk therefore always matches the offsets on disk.
//
// Time: rules read each event's own time (event time). Timers fire on the engine's clock
// (the real clock in production) held back by the bounded out-of-orderness, so an event up
// to that late can still cancel a timer; timers that came due while the engine was down fire
// at start-up and their alarms say "late". Per-partition watermarks count late events.
//
// Hot reload: reload() puts the new rule set into every shard ring as a message; each shard
// swaps it between two records (ShardCore::reload). No lock on the hot path.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/alarm/alarm_book.h"
#include "engine/codec/record.h"
#include "engine/core/clock.h"
#include "engine/core/thread_sched.h"
#include "engine/dispatch/dispatch_config.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/pipeline/spsc_ring.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/order_router.h"
#include "engine/runtime/outbox.h"
#include "engine/runtime/task_log.h"
#include "engine/state/state_store.h"

namespace vigil::runtime {

class ShardCore;
class DispatchCore;
struct TaskMarker;

struct EngineOptions {
  uint32_t shards = 2;
  std::string data_dir;                 //!< RocksDB directory (required)
  TimeMs commit_interval_ms = 200;
  //! The most of the time checkpoints may take under load (docs/design.md, "Checkpoint
  //! cadence"): after a checkpoint that took T from its barrier to its commit, the next begins
  //! no sooner than T / commit_max_busy after it began. A checkpoint writes every elder changed
  //! since the last, so at a high event rate each one costs about the same whatever the
  //! interval, and the interval stretches instead of the checkpoints taking the engine's CPU.
  //! 0: the interval alone (the next begins as soon as the last has committed).
  double commit_max_busy = 0.25;
  //! The stretched interval never exceeds this (nor goes below commit_interval_ms). A
  //! checkpoint that took long because it waited (the broker down for a minute, a clock step)
  //! says nothing about what the next one costs, and outputs reach Kafka only at a checkpoint:
  //! without the cap, a minute's outage would hold back everything after it for four more.
  TimeMs commit_max_interval_ms = 5000;
  size_t ring_capacity = 1 << 14;
  dispatch::DispatchConfig dispatch;
  //! Bounded out-of-orderness: timers fire this long after their due time on the clock, and
  //! an event this far behind its partition's newest event time is late (docs/design.md).
  TimeMs max_out_of_order_ms = 2000;
  //! A timer fired at least this long after its due time (plus the out-of-orderness) is late.
  TimeMs late_timer_ms = 1000;
  //! Answer targets (escalation tasks) and flapping of alarms.
  alarm::AlarmConfig alarm;
  //! Exactly-once outputs (engine/state/README.md): outputs reach the sink only after the
  //! checkpoint that produced them is durable, tagged so that a restart delivers the last
  //! checkpoint's outputs again without doubles. Off: each output goes to the sink at once,
  //! and a crash repeats the outputs since the last checkpoint (at-least-once).
  bool exactly_once = true;
  //! Sees every output the moment it is made, before its checkpoint (the API's views, the
  //! bench's latency probes). Must be thread-safe. Not exactly-once: after a crash it sees the
  //! outputs of re-processed records again.
  egress::Sink* observer = nullptr;
  //! The longest a checkpoint waits for the previous one's outputs to be acknowledged (a
  //! broker outage); then the engine stops with an error and a restart resumes safely.
  int delivery_timeout_ms = 300'000;
  //! dispatch.routing: kafka only: an agency update's region, to forward it to its owner
  //! (engine/runtime/order_router.h). Called on the dispatch thread.
  AgencyRegionFn agency_region;
  //! Tasks (docs/design.md "State that moves with its partition"): with a changelog the engine
  //! owns only the tasks given to it by assign_tasks(), restores each from the changelog, and
  //! writes every checkpoint's state and outputs of each task to it. Null: this engine owns
  //! every partition and its state lives in the data directory alone (one instance, replay).
  TaskLog* task_log = nullptr;
  //! After a restart, the shards load their stored elders in the background of their records
  //! (ShardCore::begin_load; engine/runtime/README.md "Background load"), so start() returns
  //! once RocksDB is open and records are processed at once. False: start() loads them all
  //! first (load_shards). Task mode restores from the changelog instead and ignores it.
  bool background_load = true;
  //! Rewrites a task's whole state to the changelog once this many bytes were appended to it
  //! since its last rewrite, so that the log's latest bytes always hold all of it (a broker
  //! that does not compact: the embedded one keeps ~5 MB per partition). 0: never (compaction).
  uint64_t changelog_rewrite_bytes = 0;
  //! A checkpoint of at least this many bytes is written to RocksDB as one ingested table
  //! file instead of a WAL batch (state::StateStore::commit; engine/state/README.md). 0: every
  //! checkpoint; UINT64_MAX: none.
  uint64_t checkpoint_file_min_bytes = state::StateStore::kIngestMinBytes;
  //! Shard threads bound to CPUs (shard_cpus(), engine/core/thread_sched.h): kAuto binds them
  //! when the process has exactly as many CPUs as shards (docs/design.md "Threads and the
  //! scheduler"); kOn always, the CPUs in turn; kOff never.
  PinShards pin_shards = PinShards::kAuto;
  //! Shard threads' nice value (request_latency_sched(), engine/core/thread_sched.h). Below 0,
  //! a woken shard preempts the feeder, dispatcher or commit thread at once more often instead
  //! of at the next tick: -10 halved the in-process p99 at 500k/s, but cost the broker path
  //! 10-20% of its rate and its p99 on a 2-core machine that also runs the embedded broker,
  //! and leaves the commit thread ~1% of a core against a busy shard (docs/design.md "Threads
  //! and the scheduler"). Below 0 needs CAP_SYS_NICE or RLIMIT_NICE; without them the shards
  //! get what RLIMIT_NICE allows, and a warning says so.
  int shard_nice = 0;
};

//! Task work that rides a checkpoint barrier or a restore message (task mode only).
struct TaskWork {
  std::vector<int32_t> rewrite;  //!< barrier: before the snapshot, mark these tasks' state dirty
  std::vector<int32_t> drop;     //!< barrier: after the snapshot, forget these tasks' state
  //! restore: this owner's part of a task's state (store keys and values)
  std::vector<std::pair<std::string, std::string>> kv;
};

//! A message on a shard's ring.
struct ShardMsg {
  enum class Kind : uint8_t { kRecord, kBarrier, kReload, kRestore, kStop };
  Kind kind = Kind::kRecord;
  uint64_t epoch = 0;
  uint64_t key_hash = 0;  //!< kRecord: pipeline::stable_hash(rec.key), for the shard's look-ahead
  InputRecord rec;
  std::shared_ptr<const rules::RuleSet> rules;  //!< kReload only
  std::shared_ptr<const TaskWork> tasks;        //!< kBarrier (may be null), kRestore
};

//! A message on one of the dispatcher's rings.
struct DispatchMsg {
  enum class Kind : uint8_t { kRecord, kOrder, kOrderAction, kBarrier, kRestore, kStop };
  Kind kind = Kind::kRecord;
  uint64_t epoch = 0;
  InputRecord rec;
  dispatch::OrderRequest order;
  dispatch::OrderActionRequest action;
  std::shared_ptr<const TaskWork> tasks;  //!< kBarrier from ingest (may be null), kRestore
};

class Engine {
 public:
  Engine(EngineOptions options, std::shared_ptr<const rules::RuleSet> rules, egress::Sink& sink,
         const Clock& clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  //! Opens RocksDB, loads all state and starts the threads. Returns kIo if the data directory
  //! cannot be used.
  Status start();

  //! The next offset to read per partition, as of the last checkpoint (valid after start()).
  const state::OffsetMap& stored_offsets() const { return stored_offsets_; }
  //! Ingest thread: the next offset to read per partition as submitted so far (the stored
  //! offsets plus everything submitted since start()). Where a partition assigned again within
  //! this run must resume: the engine's state already holds everything before it.
  const state::OffsetMap& submitted_offsets() const { return offsets_; }

  //! Ingest thread: hands one record to its owner. Blocks (spinning) while that ring is full.
  //! In task mode, records of tasks this engine does not own, and records before the position
  //! a restore resumed from, are skipped (counted in skipped_records()).
  void submit(const InputRecord& rec);

  // Tasks (EngineOptions::task_log; engine/runtime/engine_tasks.cc). Ingest thread.
  //! Takes `tasks` over: reads each one's changelog, delivers the outputs of its last
  //! checkpoint that the topics lack, hands its state to the owner threads, and returns where
  //! its input partitions resume (a partition absent from the map: from its beginning).
  Result<state::OffsetMap> assign_tasks(const std::vector<int32_t>& tasks);
  //! Gives `tasks` up: a checkpoint whose changelog and outputs are acknowledged, then their
  //! state is dropped. `lost` (the group took them while this instance was away): no
  //! checkpoint of them, only the drop; their new owner restores from the changelog.
  Status revoke_tasks(const std::vector<int32_t>& tasks, bool lost);
  bool task_mode() const { return options_.task_log != nullptr; }
  //! Task mode: who says whether this instance still owns its tasks (docs/design.md, "Fencing
  //! a zombie"). Set before the first task is assigned; without one nothing is fenced.
  void set_task_fence(TaskFence* fence) { fence_ = fence; }
  uint64_t skipped_records() const { return skipped_records_; }
  //! Whether task `t`'s records are processed here (assigned, not since revoked or lost).
  //! Ingest thread.
  bool owns_task(int32_t t) const {
    return t >= 0 && static_cast<size_t>(t) < owned_.size() && owned_[static_cast<size_t>(t)];
  }
  //! Tasks whose records kept arriving 30 s or more (kUnownedWarnNs, engine_tasks.cc) after
  //! this engine stopped owning them, each warned once per ownership change. Ingest thread.
  uint64_t unowned_warnings() const { return unowned_warnings_; }
  //! Checkpoints whose tasks the fence refused (any thread).
  uint64_t fenced_checkpoints() const { return fenced_checkpoints_.load(); }
  //! Ingest thread: starts a checkpoint when the interval has passed and completes one whose
  //! owners have all reached the barrier. Returns kIo if the commit failed.
  Status maybe_checkpoint();
  //! Ingest thread: final checkpoint, then stops and joins all threads. Idempotent.
  Status stop();
  //! Ingest thread: every shard swaps to `rules` between the records submitted before and
  //! after this call (kept rules keep their state; see ShardCore::reload).
  void reload(std::shared_ptr<const rules::RuleSet> rules);
  //! Rule sets swapped in by every shard so far (any thread).
  uint64_t reloads_applied() const;

  uint64_t checkpoints() const { return committed_epoch_.load(std::memory_order_acquire); }
  //! Any thread: the next checkpoint to commit gives its owners' put buffers back instead of
  //! keeping them for the one after (PutList::clear keeps what the last 64 used). For benches
  //! that read memory at a fixed point (the reload bench): a checkpoint of every elder, ~6 MiB
  //! with 10,000, is otherwise kept or given back depending on where the sample falls.
  void release_checkpoint_buffers() { release_buffers_.store(true, std::memory_order_relaxed); }
  //! Bytes the owners' put buffers kept after the last committed checkpoint (any thread).
  uint64_t checkpoint_buffer_bytes() const {
    return buffer_bytes_.load(std::memory_order_relaxed);
  }
  //! Where one committed checkpoint's time went, each a clock_.steady_ns() (real elapsed time
  //! in production and the bench). The /metrics counters vigil_checkpoint_snapshot_seconds_total
  //! and vigil_checkpoint_durable_seconds_total sum the first and the whole span; the bench
  //! writes these rows next to its latency probes (bench/README.md, "Checkpoint timeline").
  struct CheckpointTiming {
    uint64_t epoch = 0;
    int64_t barrier_ns = 0;   //!< the barrier was handed to the owners
    int64_t snapshot_ns = 0;  //!< every owner had taken its snapshot, as the ingest thread saw it
    //! The commit thread began RocksDB's write: after the wait for the previous checkpoint's
    //! outputs to be acknowledged and the sort of the owners' puts.
    int64_t write_begin_ns = 0;
    int64_t write_end_ns = 0;  //!< the write returned (a hold on a full disk included)
    int64_t durable_ns = 0;    //!< the checkpoint's outputs were handed to the sink
  };
  //! Ingest thread: the last committed checkpoints' timings (at most kTimingsKept), oldest first.
  std::vector<CheckpointTiming> checkpoint_timings() const {
    return {timings_.begin(), timings_.end()};
  }
  static constexpr size_t kTimingsKept = 4096;
  //! How long the start took in its two long parts (elapsed seconds), for the log and the
  //! restart bench: RocksDB's open (after a crash, the WAL replay) and the elders' load. With
  //! a background load, load_s is from start()'s beginning until the last shard finished
  //! loading, and -1 until then (loaded()).
  struct StartTimes {
    double open_s = 0;
    double load_s = 0;
  };
  StartTimes start_times() const;
  //! Every shard has loaded its stored elders (at once after start() without a background
  //! load). Any thread.
  bool loaded() const;
  //! This data directory's engine identity (tags of exactly-once outputs).
  const std::string& instance_id() const { return instance_id_; }
  //! Outputs of the last checkpoint before a crash that start() delivered again (found
  //! missing at the sink), and those it found already delivered.
  uint64_t outputs_redelivered() const { return redelivered_; }
  uint64_t outputs_found_delivered() const { return found_delivered_; }
  //! Answer-time figures of all shards; call after stop() (the shards' threads own them).
  alarm::AnswerTimeReport answer_times() const;
  const state::StateStore* store() const { return store_.get(); }
  //! For benches and tools (flush_memtables); the engine alone writes checkpoints.
  state::StateStore* store() { return store_.get(); }

 private:
  class RingPort;
  void shard_loop(uint32_t i);
  //! Each thread's name and place with the scheduler, set as it starts (engine_threads.cc).
  void enter_shard_thread(uint32_t i);
  void enter_dispatch_thread();
  void enter_commit_thread();
  void dispatch_loop();
  void begin_checkpoint(std::shared_ptr<const TaskWork> work = nullptr);
  bool checkpoint_done() const;
  //! Commit thread, after the write: empties the owners' StateOps and sealed outputs
  //! (release_checkpoint_buffers).
  void release_or_clear_ops();
  //! Ingest thread: hands the checkpoint whose owners all reached the barrier to the commit
  //! thread, which runs write_checkpoint().
  void start_commit();
  //! Ingest thread: whether the commit thread is done with the checkpoint; then its result.
  bool commit_finished() const { return commit_finished_.load(std::memory_order_acquire); }
  Status take_commit_result();
  //! Ingest thread: waits for the checkpoint in flight to be written (starting its commit if
  //! its owners are all at the barrier), returning the commit's result.
  Status finish_in_flight();
  //! Commit thread: waits for the previous epoch's delivery, writes state, offsets and outbox
  //! in one WriteBatch, then hands the outbox to the sink.
  Status write_checkpoint();
  void commit_loop();
  Status load_identity_and_recover();
  //! Loads every shard's elders from the store, the shards in parallel.
  Status load_shards();
  Status wait_delivered();
  //! Commit thread, task mode: appends every owned task's state writes and a marker with its
  //! offsets and outputs to the changelog, and waits until they are acknowledged. `withheld`
  //! gets the indices of outputs of tasks lost since the last checkpoint: their state is not
  //! in the changelog, so their new owner makes them again and they must not be delivered.
  Status write_changelog(const std::vector<OutRecord>& outbox, std::vector<uint32_t>& withheld);
  //! Commit thread, task mode: in doubt (the client saw errors, or this thread stalled for
  //! longer than the fence's lease), asks the fence whether the checkpoint's tasks are still
  //! this instance's. A no marks them fenced: nothing
  //! more of them is written or delivered, and the ingest thread drops them (drop_fenced).
  //! Errors only if no answer came within the delivery timeout. `written`: the checkpoint's
  //! changelog records are already written (the second question, before the outputs).
  Status confirm_tasks(bool written);
  //! Ingest thread, no checkpoint in flight: drops the tasks the commit thread fenced, as lost.
  Status drop_fenced();
  //! Task mode: the outputs of a restored task's last checkpoint that the topics lack.
  Status redeliver(const TaskMarker& marker);
  //! The shards' timer clock: the engine's clock held back by the bounded out-of-orderness.
  TimeMs timer_now() const { return clock_.now_ms() - options_.max_out_of_order_ms; }
  //! Retries `flush` (a sink's or the changelog's) until it succeeds or the delivery timeout.
  Status wait_acknowledged(const char* what, const std::function<Status(int)>& flush);
  //! Emits the records, tagged, except the indices in `skip` (sorted).
  void deliver(const std::vector<OutRecord>& records, uint64_t epoch,
               const std::vector<uint32_t>& skip, egress::Sink& to);
  template <class Ring, class Fill>
  void push(Ring& ring, Fill&& fill);
  //! Task mode, in submit(): false (and counted) for a record of a task not owned here, or one
  //! before `next`, where its partition resumed.
  bool owns(const InputRecord& rec, int64_t next) {
    const auto t = static_cast<size_t>(rec.partition);
    if (t < owned_.size() && owned_[t] && rec.offset >= next) return true;
    ++skipped_records_;
    if (t < owned_.size() && !owned_[t]) note_unowned(t);
    return false;
  }
  //! A record of task `t`, not owned here, was skipped: warns once if such records still
  //! arrive long after the first (engine_tasks.cc).
  void note_unowned(size_t t);
  //! `t` changed hands here (taken over, handed over, lost): its unowned records count anew.
  void reset_unowned(size_t t);

  EngineOptions options_;
  std::shared_ptr<const rules::RuleSet> rules_;
  egress::Sink& sink_;
  const Clock& clock_;
  std::unique_ptr<state::StateStore> store_;
  state::OffsetMap stored_offsets_;
  state::OffsetMap offsets_;           //!< next offset per partition, as submitted
  state::OffsetMap barrier_offsets_;   //!< snapshot taken with the barrier in flight
  static constexpr size_t kOffsetSlots = 64;  //!< partitions per topic with a direct slot
  //! [topic * kOffsetSlots + partition] -> its node's value in offsets_ (submit's fast path).
  //! Valid because offsets_ is only ever added to after start(): never reassign or clear it.
  std::vector<int64_t*> offset_slot_;

  std::unique_ptr<DispatchCore> dispatch_;
  std::vector<std::unique_ptr<dispatch::DispatchPort>> ports_;  //!< RingPort, or RoutedPort
  std::vector<std::unique_ptr<ShardCore>> shards_;
  std::vector<std::unique_ptr<pipeline::SpscRing<ShardMsg>>> shard_rings_;
  std::vector<int> shard_cpus_;  //!< [i]: the CPU shard i binds itself to, -1 for none
  std::unique_ptr<pipeline::SpscRing<DispatchMsg>> dispatch_ring_;  //!< from ingest
  std::vector<std::unique_ptr<pipeline::SpscRing<DispatchMsg>>> shard_to_dispatch_;
  //! Where each shard thread, and the dispatch thread, sleeps with its rings empty; the rings'
  //! producers wake it (engine/pipeline/parker.h).
  std::vector<std::unique_ptr<pipeline::Parker>> shard_parkers_;
  pipeline::Parker dispatch_parker_;
  std::vector<state::StateOps> shard_ops_;
  state::StateOps dispatch_ops_;
  state::StateOps coordinator_ops_;
  //! One per shard, then the dispatcher's; and what each sealed at the barrier in flight.
  std::vector<std::unique_ptr<OwnerSink>> owner_sinks_;
  struct Sealed {
    std::vector<OutRecord> records;
    RecentUse use;  //!< what the owner's last epochs needed (recent_use.h)
  };
  std::vector<Sealed> sealed_;
  std::string instance_id_;
  uint64_t redelivered_ = 0;
  uint64_t found_delivered_ = 0;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> shard_done_;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> shard_reloads_;
  //! Per shard: clock_.steady_ns() when its background load finished, 0 before.
  std::vector<std::unique_ptr<std::atomic<int64_t>>> shard_loaded_ns_;
  int64_t start_ns_ = 0;  //!< start()'s beginning, clock_.steady_ns()
  std::atomic<uint64_t> dispatch_done_{0};

  std::vector<std::thread> threads_;
  uint64_t epoch_ = 0;
  //! Written by the commit thread (and start-up), read by any.
  std::atomic<uint64_t> committed_epoch_{0};
  //! A checkpoint is in flight from begin_checkpoint() until its commit finished; the next
  //! begins only then, so the owners' StateOps and sealed outputs are never written twice.
  bool in_flight_ = false;
  bool committing_ = false;  //!< ingest thread: the commit thread has the checkpoint in flight

  // The commit thread ("vigil-commit"): RocksDB writes and delivery waits off the ingest
  // thread, so records keep flowing into the rings while a checkpoint is written.
  std::thread committer_;
  std::mutex commit_mu_;
  std::condition_variable commit_cv_;
  bool commit_requested_ = false;  //!< guarded by commit_mu_
  bool commit_exit_ = false;       //!< guarded by commit_mu_
  std::atomic<bool> commit_finished_{false};
  Status commit_result_ = ok();    //!< written by the commit thread before commit_finished_
  int64_t commit_done_ns_ = 0;     //!< the same: clock_.steady_ns() when the write finished
  std::atomic<bool> release_buffers_{false};
  std::atomic<uint64_t> buffer_bytes_{0};  //!< commit thread writes
  int64_t commit_end_ns_ = 0;      //!< commit thread only: that time, taken before checkpoints() moves
  int64_t last_checkpoint_ns_ = 0;  //!< clock_.steady_ns() when the last checkpoint began
  CheckpointTiming timing_;         //!< ingest thread: the checkpoint in flight
  CheckpointTiming commit_timing_;  //!< commit thread, read after commit_finished_: its write
  std::deque<CheckpointTiming> timings_;  //!< ingest thread: committed ones, oldest first
  int64_t last_checkpoint_took_ns_ = 0;  //!< its barrier to its commit, once committed
  bool started_ = false;
  StartTimes start_times_;
  bool stopped_ = false;

  // Tasks (task mode). owned_ is the ingest thread's; barrier_owned_ and barrier_work_ are
  // taken with the barrier and read by the commit thread; the rest is the commit thread's.
  std::vector<bool> owned_;
  std::vector<bool> barrier_owned_;
  TaskFence* fence_ = nullptr;
  //! Commit thread while a checkpoint is in flight, else the ingest thread's: tasks the fence
  //! refused, not yet dropped.
  std::vector<bool> fenced_;
  int64_t last_confirm_ns_ = 0;      //!< commit thread: the last confirm_tasks()
  uint64_t troubles_confirmed_ = 0;  //!< commit thread: fence_->troubles() at the last yes
  //! Commit thread: the last answer was kFenced; the next checkpoint with tasks asks again,
  //! whatever troubles() says (a task taken back after a fence, KafkaSource::take_back).
  bool refused_ = false;
  std::shared_ptr<const TaskWork> barrier_work_;
  state::OffsetMap last_marker_offsets_;   //!< commit thread: offsets in the last markers
  std::vector<uint64_t> task_bytes_;       //!< commit thread: appended since the last rewrite
  std::mutex rewrite_mu_;
  std::vector<int32_t> rewrite_due_;       //!< guarded by rewrite_mu_: commit -> ingest
  uint64_t skipped_records_ = 0;
  //! Ingest thread, per task not owned here: when its first record was skipped since it
  //! changed hands (0: none yet), how many since, and whether that was warned about.
  struct Unowned {
    int64_t first_ns = 0;
    uint64_t records = 0;
    bool warned = false;
  };
  std::vector<Unowned> unowned_;
  uint64_t unowned_warnings_ = 0;
  uint64_t untasked_outputs_ = 0;
  std::atomic<uint64_t> fenced_checkpoints_{0};
  vigil::v1::RegistryUpdate registry_;  //!< ingest thread's decode buffer for routing
};

namespace detail {
//! Back-off for a thread with nothing to do: spin briefly, then sleep a little.
void idle(int& spins);
}  // namespace detail

template <class Ring, class Fill>
void Engine::push(Ring& ring, Fill&& fill) {
  auto* slot = ring.try_claim();
  int spins = 0;
  while (slot == nullptr) {
    detail::idle(spins);
    slot = ring.try_claim();
  }
  fill(*slot);
  ring.publish();
}

}  // namespace vigil::runtime
