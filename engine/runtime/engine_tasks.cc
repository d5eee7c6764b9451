// The engine's tasks (docs/design.md, "State that moves with its partition"): taking a task
// over from the changelog, handing one over, and writing each checkpoint to the changelog.

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "engine/core/log.h"
#include "engine/pipeline/shard_router.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/shard_core.h"
#include "engine/runtime/task_marker.h"

namespace vigil::runtime {
namespace {

//! The input topics whose partition p makes task p.
constexpr InTopic kTaskTopics[] = {InTopic::kTelemetry, InTopic::kCalls, InTopic::kAgency,
                                   InTopic::kRegistry, InTopic::kOrders};

//! The elder of a shard's key (`p/<id>`, `e/<id>`), or empty for the dispatcher's keys.
std::string_view elder_of(std::string_view key) {
  if (key.size() > 2 && (key[0] == 'p' || key[0] == 'e') && key[1] == '/') return key.substr(2);
  return {};
}

}  // namespace

Result<state::OffsetMap> Engine::assign_tasks(const std::vector<int32_t>& tasks) {
  state::OffsetMap resume;
  if (!task_mode() || !started_ || stopped_) return resume;
  // The commit thread must be idle: restores add deletes to the coordinator's ops.
  if (auto s = finish_in_flight(); !s) return s.error();
  if (auto s = drop_fenced(); !s) return s.error();
  const int32_t n = options_.task_log->partitions();
  for (int32_t t : tasks) {
    if (t < 0 || t >= n || owned_[static_cast<size_t>(t)]) continue;
    const int64_t began = clock_.steady_ns();
    auto entries = options_.task_log->read(t, options_.delivery_timeout_ms);
    if (!entries) return entries.error();
    auto folded = fold_changelog(entries.value());
    if (!folded) {
      return make_error(Errc::kIo, log::cat("task ", t, ": ", folded.error().message));
    }
    FoldedTask& f = folded.value();
    if (f.marker) {
      if (auto s = redeliver(*f.marker); !s) return s.error();
    }
    // The state, to its owners: one restore message per shard and one for the dispatcher.
    std::vector<std::shared_ptr<TaskWork>> parts(shards_.size() + 1);
    for (auto& p : parts) p = std::make_shared<TaskWork>();
    size_t elders = 0;
    for (auto& kv : f.state) {
      const std::string_view elder = elder_of(kv.first);
      const size_t owner = elder.empty() ? shards_.size() : pipeline::shard_of(elder, options_.shards);
      if (!elder.empty() && kv.first[0] == 'e') ++elders;
      parts[owner]->kv.push_back(std::move(kv));
    }
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (parts[i]->kv.empty()) continue;
      push(*shard_rings_[i], [&](ShardMsg& m) {
        m.kind = ShardMsg::Kind::kRestore;
        m.tasks = parts[i];
      });
    }
    if (!parts.back()->kv.empty()) {
      push(*dispatch_ring_, [&](DispatchMsg& m) {
        m.kind = DispatchMsg::Kind::kRestore;
        m.tasks = parts.back();
      });
    }
    // Keys only an unfinished checkpoint wrote: deleted by the next checkpoint (the restored
    // keys are all written again by it: the owners mark what they restore dirty).
    for (const auto& key : f.orphans) coordinator_ops_.del(key, t);
    for (InTopic topic : kTaskTopics) {
      int64_t next = 0;
      if (f.marker) {
        if (auto it = f.marker->offsets.find({topic, t}); it != f.marker->offsets.end()) {
          next = it->second;
          resume[{topic, t}] = next;
        }
      }
      offsets_[{topic, t}] = next;  // the node stays: submit's slots point at it
    }
    owned_[static_cast<size_t>(t)] = true;
    reset_unowned(static_cast<size_t>(t));
    log::info("engine", "task ", t, ": restored ", f.state.size(), " keys (", elders,
              " elders' rule state) from ", f.records, " changelog records",
              f.marker ? log::cat(", checkpoint ", f.marker->epoch, " of ", f.marker->instance)
                       : std::string(", never checkpointed"),
              f.discarded > 0 ? log::cat("; ", f.discarded, " records of an unfinished checkpoint "
                                         "discarded")
                              : std::string(),
              " in ", (clock_.steady_ns() - began) / 1'000'000, " ms");
  }
  return resume;
}

Status Engine::revoke_tasks(const std::vector<int32_t>& tasks, bool lost) {
  if (!task_mode() || !started_ || stopped_) return ok();
  Status s = finish_in_flight();
  if (s) s = drop_fenced();
  auto work = std::make_shared<TaskWork>();
  for (int32_t t : tasks) {
    if (t < 0 || static_cast<size_t>(t) >= owned_.size() || !owned_[static_cast<size_t>(t)]) continue;
    work->drop.push_back(t);
    // Lost: another instance may already have restored it; write nothing more of it.
    if (lost) owned_[static_cast<size_t>(t)] = false;
  }
  if (work->drop.empty()) return s;
  begin_checkpoint(work);
  if (auto c = finish_in_flight(); !c && s) s = c;
  for (int32_t t : work->drop) {
    owned_[static_cast<size_t>(t)] = false;
    reset_unowned(static_cast<size_t>(t));
  }
  if (s && !lost) s = wait_delivered();
  for (int32_t t : work->drop) {
    log::info("engine", "task ", t, lost ? ": lost (the group moved it while this instance was "
                                           "away); its state dropped"
                                         : ": handed over at checkpoint ",
              lost ? std::string() : std::to_string(committed_epoch_.load()));
  }
  return s;
}

namespace {
//! How long after the first skipped record of a task this instance no longer owns its records
//! may still come before that is warned about: the consumer stops fetching a partition once
//! the group's revoke or loss is served, within seconds (records it had fetched drain first);
//! three session timeouts (10 s) later it is still fetching it.
constexpr int64_t kUnownedWarnNs = 30'000'000'000;
}  // namespace

void Engine::reset_unowned(size_t t) {
  if (t < unowned_.size()) unowned_[t] = Unowned{};
}

void Engine::note_unowned(size_t t) {
  if (unowned_.size() <= t) unowned_.resize(t + 1);
  Unowned& u = unowned_[t];
  ++u.records;
  const int64_t now = std::max<int64_t>(clock_.steady_ns(), 1);
  if (u.first_ns == 0) u.first_ns = now;
  if (u.warned || now - u.first_ns < kUnownedWarnNs) return;
  u.warned = true;
  ++unowned_warnings_;
  // The engine dropped the task (fenced, or lost) while the consumer kept its partitions, no
  // rebalance gave it back, and KafkaSource::take_back_kept_tasks did not either (it does
  // within the fence's lease): its records are read and skipped and make no outputs.
  log::warn("engine", "task ", t, ": its records still arrive ", (now - u.first_ns) / 1'000'000'000,
            " s after this instance stopped owning it (", u.records, " skipped): the consumer "
            "holds its partitions but the engine does not own the task, so they are not "
            "processed, and the source did not take the task back (ingest: tasks taken back); "
            "restart this instance to have the group assign it afresh "
            "(docs/operations.md, \"Records of a task this instance does not own\")");
}

Status Engine::drop_fenced() {
  std::vector<int32_t> fenced;
  for (size_t t = 0; t < fenced_.size(); ++t) {
    if (!fenced_[t]) continue;
    fenced_[t] = false;
    if (owned_[t]) fenced.push_back(static_cast<int32_t>(t));
  }
  if (fenced.empty()) return ok();
  return revoke_tasks(fenced, /*lost=*/true);
}

Status Engine::confirm_tasks(bool written) {
  if (fence_ == nullptr) return ok();
  // Asked only in doubt. A question is an offset commit, and one that meets the generation
  // change of an ordinary rebalance makes librdkafka mark the assignment lost: asking at every
  // checkpoint turned every rebalance into the loss of every task. Without trouble the tasks
  // are this instance's: the group moves them away only after the member was silent for its
  // session timeout, or after it revoked them itself (revoke_tasks, which waits for this
  // checkpoint). In doubt: the client saw errors since the last yes, or this thread did not
  // run for longer than the lease (a stalled process, a changelog write through an outage),
  // or the last answer was no (tasks taken back after it are asked about at once).
  const int64_t now = clock_.steady_ns();
  const uint64_t troubles = fence_->troubles();
  const bool doubt = refused_ || troubles != troubles_confirmed_ ||
                     (last_confirm_ns_ != 0 &&
                      now - last_confirm_ns_ > int64_t{fence_->lease_ms()} * 1'000'000);
  last_confirm_ns_ = now;
  if (!doubt) return ok();
  std::map<int32_t, int64_t> next;
  for (size_t t = 0; t < barrier_owned_.size(); ++t) {
    if (!barrier_owned_[t]) continue;
    auto it = barrier_offsets_.find({InTopic::kTelemetry, static_cast<int32_t>(t)});
    next[static_cast<int32_t>(t)] = it != barrier_offsets_.end() ? it->second : 0;
  }
  if (next.empty()) return ok();
  const int64_t began = clock_.steady_ns();
  const int64_t deadline = began + int64_t{options_.delivery_timeout_ms} * 1'000'000;
  int64_t next_log = began + 10'000'000'000;
  for (;;) {
    const TaskFence::Answer a = fence_->confirm(next, 1000);
    if (a.verdict == TaskFence::Verdict::kOwner) {
      log::info("engine", "checkpoint ", epoch_, ": the group confirmed this instance's ",
                next.size(), " tasks after ", troubles - troubles_confirmed_,
                " client errors, in ", (clock_.steady_ns() - began) / 1'000'000, " ms");
      troubles_confirmed_ = fence_->troubles();
      refused_ = false;
      last_confirm_ns_ = clock_.steady_ns();
      return ok();
    }
    if (a.verdict == TaskFence::Verdict::kFenced) break;
    const int64_t now = clock_.steady_ns();
    if (now >= deadline) {
      return make_error(Errc::kBroker, log::cat("the group did not confirm this instance's tasks "
                                                "within ", options_.delivery_timeout_ms,
                                                " ms: ", a.why));
    }
    if (now >= next_log) {
      log::warn("engine", "checkpoint ", epoch_, ": waiting for the group to confirm this "
                "instance's tasks: ", a.why);
      next_log = now + 10'000'000'000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string list;
  for (const auto& [t, offset] : next) {
    barrier_owned_[static_cast<size_t>(t)] = false;
    fenced_[static_cast<size_t>(t)] = true;
    list += " " + std::to_string(t);
  }
  ++fenced_checkpoints_;
  refused_ = true;
  log::warn("engine", "checkpoint ", epoch_, ": fenced: the group no longer counts this instance "
            "as the owner of tasks", list,
            written ? "; their changelog records are written, their outputs withheld (whoever "
                      "restores them delivers them), and they are dropped as lost"
                    : "; none of their state or outputs is written, and they are dropped as lost");
  return ok();
}

Status Engine::write_changelog(const std::vector<OutRecord>& outbox,
                               std::vector<uint32_t>& withheld) {
  TaskLog& log = *options_.task_log;
  const auto n = static_cast<size_t>(log.partitions());
  std::vector<bool> touched(n, false);
  auto owned = [&](int32_t t) { return t >= 0 && static_cast<size_t>(t) < n && barrier_owned_[t]; };
  auto append_ops = [&](const state::StateOps& ops) {
    for (size_t i = 0; i < ops.puts.size(); ++i) {
      const int32_t t = ops.puts.task(i);
      if (!owned(t)) continue;
      const auto [key, value] = ops.puts[i];
      log.append(t, key, &value);
      task_bytes_[t] += key.size() + value.size();
      touched[t] = true;
    }
    for (size_t i = 0; i < ops.deletes.size(); ++i) {
      const int32_t t = ops.del_tasks[i];
      if (!owned(t)) continue;
      log.append(t, ops.deletes[i], nullptr);
      task_bytes_[t] += ops.deletes[i].size();
      touched[t] = true;
    }
  };
  for (const auto& o : shard_ops_) append_ops(o);
  append_ops(dispatch_ops_);
  append_ops(coordinator_ops_);

  std::vector<TaskMarker> markers(n);
  for (uint32_t i = 0; i < outbox.size(); ++i) {
    const int32_t t = outbox[i].task;
    if (t >= 0 && !owned(t)) {  // a lost task's: made again by its new owner
      withheld.push_back(i);
      continue;
    }
    if (!owned(t)) {
      ++untasked_outputs_;  // delivered below; not found again after a crash (logged once)
      if (untasked_outputs_ == 1) {
        log::warn("engine", "an output without an owned task (topic ", name(outbox[i].topic),
                  ", key ", outbox[i].key, ") is not in the changelog");
      }
      continue;
    }
    markers[t].outputs.push_back(outbox[i]);
    markers[t].indices.push_back(i);
  }
  for (const auto& [tp, next] : barrier_offsets_) {
    if (owned(tp.second)) markers[tp.second].offsets[tp] = next;
  }
  const egress::OutputPositions positions = sink_.positions();
  std::vector<int32_t> rewrite;
  for (size_t t = 0; t < n; ++t) {
    if (!barrier_owned_[t]) continue;
    TaskMarker& m = markers[t];
    bool moved = false;
    for (const auto& [tp, next] : m.offsets) {
      auto& last = last_marker_offsets_[tp];
      moved |= last != next;
      last = next;
    }
    if (!touched[t] && !moved && m.outputs.empty()) continue;
    m.instance = instance_id_;
    m.epoch = epoch_;
    m.positions = positions;
    const std::string marker = encode_marker(m);
    const std::string_view value = marker;
    log.append(static_cast<int32_t>(t), kMarkerKey, &value);
    task_bytes_[t] += value.size();
    if (options_.changelog_rewrite_bytes > 0 && task_bytes_[t] >= options_.changelog_rewrite_bytes) {
      task_bytes_[t] = 0;
      rewrite.push_back(static_cast<int32_t>(t));
    }
  }
  if (!rewrite.empty()) {
    std::lock_guard lock(rewrite_mu_);
    rewrite_due_.insert(rewrite_due_.end(), rewrite.begin(), rewrite.end());
  }
  return wait_acknowledged("the changelog", [&](int ms) { return log.flush(ms); });
}

Status Engine::redeliver(const TaskMarker& marker) {
  if (marker.outputs.empty()) return ok();
  // This instance's own outputs still in flight (a task lost and taken back within a broker
  // outage) must land before the search, or they would be sent twice.
  if (auto s = wait_delivered(); !s) return s;
  std::vector<uint32_t> present;
  if (sink_.can_find_tagged()) {
    auto found = sink_.find_tagged(marker.positions, marker.instance, marker.epoch,
                                   options_.delivery_timeout_ms);
    if (!found) {
      return make_error(Errc::kBroker, log::cat("cannot tell which outputs of checkpoint ",
                                                marker.epoch, " of ", marker.instance,
                                                " were delivered: ", found.error().message));
    }
    present = std::move(found).value();
  }
  uint64_t sent = 0;
  for (size_t k = 0; k < marker.outputs.size(); ++k) {
    const uint32_t index = marker.indices[k];
    if (std::binary_search(present.begin(), present.end(), index)) continue;
    const OutRecord& r = marker.outputs[k];
    const egress::OutputTag tag{marker.instance, marker.epoch, index};
    sink_.emit_serialized(r.topic, r.key, r.bytes, tag);
    if (options_.observer != nullptr) options_.observer->emit_serialized(r.topic, r.key, r.bytes, tag);
    ++sent;
  }
  redelivered_ += sent;
  found_delivered_ += marker.outputs.size() - sent;
  if (sent > 0) {
    log::info("engine", "checkpoint ", marker.epoch, " of ", marker.instance, ": ", sent,
              " outputs delivered again, ", marker.outputs.size() - sent, " found delivered");
  }
  return sent > 0 ? wait_delivered() : ok();
}

}  // namespace vigil::runtime
