// The commit thread's side of a checkpoint (engine.h, "checkpoints"): the hand-over from the
// ingest thread, the RocksDB write with its hold on a full disk, and the delivery of the
// epoch's outputs once they are durable (exactly-once, engine/state/README.md).

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/runtime/engine.h"

namespace vigil::runtime {
namespace {
using detail::idle;
}  // namespace

void Engine::commit_loop() {
  enter_commit_thread();  // name and nice (engine_threads.cc)
  std::unique_lock lock(commit_mu_);
  for (;;) {
    commit_cv_.wait(lock, [&] { return commit_requested_ || commit_exit_; });
    if (commit_requested_) {
      commit_requested_ = false;
      lock.unlock();
      commit_end_ns_ = 0;
      Status s = write_checkpoint();
      // The end as write_checkpoint saw it before checkpoints() moved, not now: a caller that
      // saw checkpoints() move and then advanced a clock (a test's, or a stall) must not have
      // that time counted as the commit's (it stretched the next interval past the test's
      // 100 ms steps under TSan: EngineFenceTest.ALongSilenceIsDoubtEvenWithoutTrouble).
      const int64_t end_ns = commit_end_ns_ != 0 ? commit_end_ns_ : clock_.steady_ns();
      lock.lock();
      commit_done_ns_ = end_ns;
      commit_result_ = std::move(s);
      commit_finished_.store(true, std::memory_order_release);
      continue;
    }
    return;  // commit_exit_, nothing pending
  }
}

void Engine::start_commit() {
  timing_.snapshot_ns = clock_.steady_ns();
  committing_ = true;
  commit_finished_.store(false, std::memory_order_relaxed);
  {
    std::lock_guard lock(commit_mu_);
    commit_requested_ = true;
  }
  commit_cv_.notify_one();
}

Status Engine::take_commit_result() {
  std::lock_guard lock(commit_mu_);  // pairs with the commit thread's write of the result
  committing_ = false;
  in_flight_ = false;
  if (commit_result_) {
    timing_.write_begin_ns = commit_timing_.write_begin_ns;
    timing_.write_end_ns = commit_timing_.write_end_ns;
    timing_.durable_ns = commit_done_ns_;
    auto us = [](int64_t from, int64_t to) {
      return static_cast<uint64_t>(std::max<int64_t>(to - from, 0) / 1000);
    };
    metrics().checkpoint_snapshot_us.add(us(timing_.barrier_ns, timing_.snapshot_ns));
    metrics().checkpoint_durable_us.add(us(timing_.barrier_ns, timing_.durable_ns));
    if (timings_.size() == kTimingsKept) timings_.pop_front();
    timings_.push_back(timing_);
  }
  return std::exchange(commit_result_, ok());
}

Status Engine::finish_in_flight() {
  int spins = 0;
  while (in_flight_ && !committing_ && !checkpoint_done()) idle(spins);
  if (!in_flight_) return ok();
  if (!committing_) start_commit();
  while (!commit_finished()) idle(spins);
  return take_commit_result();
}

// --- Disk full or unwritable data directory mid-run (docs/operations.md) -------------------
// The batch stays in memory and is written again until the disk takes it; RocksDB applied none
// of it, and the previous checkpoint stays whole. This waits on the commit thread: no new
// checkpoint begins, the ingest thread fills the rings and then waits on them (back-pressure).
// Outputs of the epoch are in the batch's outbox and reach the sink only after it is durable,
// so nothing is lost or doubled.
// Errors that waiting cannot heal (corruption) stop the engine as before.
namespace {
Status hold_until_committed(state::StateStore& store, const Clock& clock,
                            const std::vector<const state::StateOps*>& ops,
                            const state::OffsetMap& offsets, uint64_t epoch, Status first) {
  if (!store.last_failure_retryable()) return first;
  constexpr int kRetryMs = 2000;
  log::error("engine", "data dir ", store.dir(), ": ", first.error().message,
             "; holding input, retrying every ", kRetryMs / 1000, " s");
  const int64_t since = clock.steady_ns();
  for (int attempt = 1;; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs));
    Status s = store.recover();
    if (s) s = store.commit(ops, offsets);
    if (s) {
      log::info("engine", "data dir ", store.dir(), ": checkpoint ", epoch, " written after ",
                (clock.steady_ns() - since) / 1'000'000'000, " s on hold; resuming input");
      return s;
    }
    if (!store.last_failure_retryable()) return s;
    if (attempt % 30 == 0) {  // once a minute: still waiting, and why
      log::error("engine", "data dir ", store.dir(), ": still holding input: ", s.error().message);
    }
  }
}
}  // namespace
// --- end of the disk-full handling ----------------------------------------------------------

Status Engine::write_checkpoint() {
  // Exactly-once (engine/state/README.md): the previous epoch's outputs must be acknowledged
  // before this batch says so and takes the sink's positions; this epoch's outputs go into the
  // batch (the outbox) and reach the sink only after it is durable.
  std::vector<OutRecord> outbox;
  const uint64_t previous = committed_epoch_.load(std::memory_order_relaxed);
  if (options_.exactly_once) {
    if (auto s = wait_delivered(); !s) return s;
    // The dispatcher's outputs first: with routed dispatch they forward registry agencies to
    // their region's owner, and an order request a shard made in the same epoch (an SOS read
    // right after the registry) must reach that owner after the agency, not before it.
    // (Emptied with the ops, release_or_clear_ops; no owner seals again before then.)
    auto take = [&](Sealed& sealed) {
      for (auto& r : sealed.records) outbox.push_back(std::move(r));
    };
    take(sealed_.back());
    for (size_t owner = 0; owner + 1 < sealed_.size(); ++owner) take(sealed_[owner]);
    coordinator_ops_.put(state::kEpochKey, std::to_string(epoch_));
    coordinator_ops_.put(state::kDeliveredKey, std::to_string(previous));
    coordinator_ops_.put(state::kOutboxKey, encode_outbox(outbox));
    coordinator_ops_.put(state::kOutputPositionsKey, encode_positions(sink_.positions()));
  }
  std::vector<const state::StateOps*> ops;
  for (auto& o : shard_ops_) {
    // Here, on the commit thread, not at the end of the shard's snapshot, where sorting a
    // checkpoint of every elder held the shard's records back for milliseconds.
    o.puts.sort_by_key();
    ops.push_back(&o);
  }
  dispatch_ops_.puts.sort_by_key();  // ~10,000 orders a checkpoint in the bench
  ops.push_back(&dispatch_ops_);
  ops.push_back(&coordinator_ops_);
  commit_timing_.write_begin_ns = clock_.steady_ns();
  auto s = store_->commit(ops, barrier_offsets_);
  if (!s) s = hold_until_committed(*store_, clock_, ops, barrier_offsets_, epoch_, std::move(s));
  commit_timing_.write_end_ns = clock_.steady_ns();
  // Task mode: the checkpoint reaches the changelog before any of its outputs reach a topic,
  // so whoever restores a task finds every output it could find on the topics in a marker.
  // Fenced: a zombie (the group gave its tasks to another instance) writes none of them.
  std::vector<uint32_t> withheld;
  if (s && task_mode()) s = confirm_tasks(false);
  if (s && task_mode()) s = write_changelog(outbox, withheld);
  release_or_clear_ops();
  if (!s) return s;
  if (task_mode()) {
    // The changelog took long (a broker outage): ask again before the outputs go out.
    if (s = confirm_tasks(true); !s) return s;
    withheld.clear();
    for (uint32_t i = 0; i < outbox.size(); ++i) {
      const int32_t t = outbox[i].task;
      if (t >= 0 && (static_cast<size_t>(t) >= barrier_owned_.size() || !barrier_owned_[t])) {
        withheld.push_back(i);
      }
    }
  }
  if (options_.exactly_once) deliver(outbox, epoch_, withheld, sink_);
  metrics().checkpoints.add();
  commit_end_ns_ = clock_.steady_ns();
  // Last: whoever sees checkpoints() move also sees the epoch's outputs handed to the sink.
  committed_epoch_.store(epoch_, std::memory_order_release);
  return ok();
}

void Engine::release_or_clear_ops() {
  const bool release = release_buffers_.exchange(false, std::memory_order_relaxed);
  uint64_t kept = 0;
  for (auto& [records, use] : sealed_) {
    release ? release_vector(records, use) : clear_keeping_recent(records, use);
    kept += records.capacity() * sizeof(OutRecord);
  }
  auto done = [&](state::StateOps& o) {
    release ? o.release() : o.clear();
    kept += o.capacity_bytes();
  };
  for (auto& o : shard_ops_) done(o);
  done(dispatch_ops_);
  done(coordinator_ops_);
  buffer_bytes_.store(kept, std::memory_order_relaxed);
}

Status Engine::wait_delivered() {
  return wait_acknowledged("the outputs", [&](int ms) { return sink_.flush(ms); });
}

Status Engine::wait_acknowledged(const char* what, const std::function<Status(int)>& flush) {
  const int64_t deadline = clock_.steady_ns() + int64_t{options_.delivery_timeout_ms} * 1'000'000;
  int64_t next_log = clock_.steady_ns() + 10'000'000'000;
  for (;;) {
    Status s = flush(1000);
    if (s) return s;
    const int64_t now = clock_.steady_ns();
    if (now >= deadline) {
      return make_error(Errc::kBroker, log::cat(what, " of checkpoint ", committed_epoch_.load(),
                                                " not acknowledged within ",
                                                options_.delivery_timeout_ms, " ms: ",
                                                s.error().message));
    }
    if (now >= next_log) {  // a broker outage: processing waits here (back-pressure)
      log::warn("engine", "waiting for ", what, " of checkpoint ", committed_epoch_.load(),
                " to be acknowledged: ", s.error().message);
      next_log = now + 10'000'000'000;
    }
  }
}

void Engine::deliver(const std::vector<OutRecord>& records, uint64_t epoch,
                     const std::vector<uint32_t>& skip, egress::Sink& to) {
  size_t k = 0;
  for (uint32_t i = 0; i < records.size(); ++i) {
    while (k < skip.size() && skip[k] < i) ++k;
    if (k < skip.size() && skip[k] == i) continue;
    to.emit_serialized(records[i].topic, records[i].key, records[i].bytes,
                       egress::OutputTag{instance_id_, epoch, i});
  }
}

}  // namespace vigil::runtime
