#pragma once
// Kafka in: a consumer-group member reading the input topics. Offsets are never committed to
// Kafka; they live in the engine's RocksDB next to the state they produced (SPEC section 7), and
// the engine tells the source where to resume through `stored_offset`.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/record.h"
#include "engine/codec/topics.h"
#include "engine/core/metrics.h"
#include "engine/core/result.h"
#include "engine/runtime/task_log.h"

namespace vigil::ingest {

//! The next offset to read for a partition of an input topic, as checkpointed in the engine's
//! store, or nullopt to read the partition from its beginning.
using StoredOffsetFn = std::function<std::optional<int64_t>(InTopic topic, int32_t partition)>;

//! Task mode (docs/design.md "State that moves with its partition"): the group assigns
//! `telemetry` partitions only, with cooperative-sticky; owning telemetry p is owning task p,
//! and the source adds partition p of calls, agency, registry and orders itself.
struct TaskHooks {
  using Offsets = std::map<std::pair<InTopic, int32_t>, int64_t>;
  //! Called on the ingest thread inside poll_batch() before the tasks' partitions are read:
  //! takes the tasks over and says where each partition resumes (absent: its beginning). An
  //! error leaves the tasks unread; the source keeps it for task_error().
  std::function<Result<Offsets>(const std::vector<int32_t>& tasks)> assign;
  //! Called before the tasks' partitions are given up; `lost` if the group already moved them.
  std::function<Status(const std::vector<int32_t>& tasks, bool lost)> revoke;
  //! Whether the engine processes task `t`'s records now (ingest thread). With it, a task the
  //! engine gave up on its own (a fenced checkpoint) while this member kept its partitions is
  //! taken back (KafkaSource::take_back_kept_tasks). Optional.
  std::function<bool(int32_t task)> owns;
};

//! Drops from out[0, n) the records of the `moved` (topic, partition)s, keeps the others in
//! their order, and returns how many are kept; the dropped slots move past it, so the pool
//! keeps its size and buffers. poll_batch() calls it when a rebalance callback ran while it
//! collected a batch: the records taken before were fetched before the move. A revoked
//! partition's belong to its next owner (who reads them from its checkpoint), and a partition
//! revoked and assigned again within the batch is read again from where the engine resumes
//! it: handing them out as well would apply them twice, or, in task mode, move the engine's
//! offset past records it would then skip (tests/fault/README.md, "way 2").
size_t drop_records_of(std::vector<InputRecord>& out, size_t n,
                       const std::vector<std::pair<InTopic, int32_t>>& moved);

//! Reads telemetry, calls, agency and registry as one consumer-group member, read_committed.
//!
//! Rebalancing uses the eager protocol by default (range,roundrobin assignors): every rebalance
//! revokes the whole assignment and assigns anew, so each assigned partition starts from
//! stored_offset() read at that moment, after the engine has checkpointed what it revoked. If
//! the extra conf picks cooperative-sticky, partitions are added and removed incrementally
//! instead, with the same rule for the added ones.
//!
//! Registry first: Kafka orders records within a partition only, so after an assignment the
//! backlog of telemetry could be read before the registry records (elders, devices, agencies)
//! written before it. The source therefore holds the other input partitions paused until every
//! assigned registry partition has been read to its end (or kRegistryCatchUpMs passed).
//!
//! Owned by the ingest thread, which alone calls poll_batch(); stored_offset is called on that
//! thread from inside poll_batch(). assignment() and the counters may be read from any thread.
//!
//! Task mode: it is also the engine's TaskFence (engine/ingest/group_fence.cc): confirm() is an
//! offset commit whose generation the group coordinator checks, called on the commit thread.
class KafkaSource final : public runtime::TaskFence {
 public:
  //! Joins group `group_id` on `brokers` and subscribes to the four input topics under
  //! `topics`' prefix, and to the internal `orders` topic if `routed_orders` (dispatch.routing:
  //! kafka: owning an `orders` partition is owning those regions' dispatch). `extra_conf` is
  //! put over vigil's consumer settings, except that offset commits stay disabled. Returns
  //! kConfig for a rejected property, kBroker if the consumer cannot be created or subscribe.
  static Result<std::unique_ptr<KafkaSource>> start(std::string_view brokers,
                                                    std::string_view group_id,
                                                    const TopicNames& topics,
                                                    const broker::ConfMap& extra_conf,
                                                    StoredOffsetFn stored_offset,
                                                    bool routed_orders = false,
                                                    TaskHooks tasks = {});
  //! Leaves the group (close()) and destroys the consumer.
  ~KafkaSource();
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  //! Waits up to timeout_ms for a first record, then takes whatever else is already fetched, up
  //! to `max` records in all, and writes them into out[0, n), returning n. `out` is a pool of
  //! slots: it grows when a batch needs more but never shrinks, and its elements are assigned
  //! in place, so their strings keep their capacity and steady polling allocates nothing.
  //! Elements from n on are stale; read only the first n. Records of one partition come in
  //! offset order. Consumer errors are counted and logged once per kind, never returned.
  //! Rebalances are handled in here.
  size_t poll_batch(std::vector<InputRecord>& out, size_t max, int timeout_ms);

  //! The partitions this member owns now.
  std::vector<std::pair<InTopic, int32_t>> assignment() const;

  //! Leaves the consumer group so its partitions move to other members at once. Idempotent.
  //! Returns kBroker if the consumer could not leave cleanly.
  Status close();

  //! Records handed out by poll_batch() so far.
  uint64_t records() const { return records_.get(); }
  //! Consumer errors seen so far (of every kind).
  uint64_t errors() const { return errors_.total(); }
  //! Rebalances (assign or revoke) handled so far.
  uint64_t rebalances() const { return rebalances_.get(); }
  //! True while the other input partitions wait for the registry to catch up.
  bool holding_for_registry() const { return !held_.empty(); }
  //! Task mode: the first error a task hook returned (the engine cannot go on), else ok.
  const Status& task_error() const { return task_error_; }
  //! Records a poll_batch() had taken before a rebalance in the same call moved their
  //! partition, and dropped from that batch (drop_moved) so far.
  uint64_t stale_records() const { return stale_.get(); }
  //! Task mode: tasks taken back by take_back_kept_tasks() so far.
  uint64_t tasks_taken_back() const { return taken_back_.get(); }

  // runtime::TaskFence (task mode; engine/ingest/group_fence.cc). Any thread.
  Answer confirm(const std::map<int32_t, int64_t>& next, int timeout_ms) override;
  int lease_ms() const override { return session_timeout_ms_ / 2; }
  //! The client's errors, and one more while librdkafka holds the assignment lost (a session
  //! timeout it noticed itself is logged, not reported as an error).
  uint64_t troubles() const override {
    return errors_.total() + (rd_kafka_assignment_lost(consumer_.get()) != 0 ? 1 : 0);
  }

  //! The longest the other input partitions wait for the registry after an assignment.
  static constexpr int kRegistryCatchUpMs = 30'000;
  //! How often poll_batch() looks for tasks the engine gave up while this member kept them.
  static constexpr int kKeptCheckMs = 500;

 private:
  KafkaSource(TopicNames topics, StoredOffsetFn stored_offset, bool routed_orders, TaskHooks tasks);
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  //! Task mode's rebalance: telemetry p in `partitions` stands for every partition p.
  void rebalance_tasks(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void refresh_assignment();
  //! After a rebalance callback ran inside poll_batch(): drop_records_of(out, n, moved_),
  //! counted and logged.
  size_t drop_moved(std::vector<InputRecord>& out, size_t n);
  //! Partition p of each of these topics makes task p.
  std::vector<InTopic> task_topics() const;
  //! Task mode, from poll_batch() every kKeptCheckMs: a task whose telemetry partition this
  //! member still holds (its assignment not lost) while the engine has not owned it for
  //! lease_ms() is taken back (take_back). The engine drops a task when a checkpoint is fenced
  //! and expects librdkafka to mark the assignment lost and the group to hand the task out
  //! again; with cooperative-sticky a member that keeps its partitions across the new
  //! generation gets no callback for them, and the task's records would be read and skipped
  //! for good (tests/fault/README.md, TwoInstancesSigkillThenBrokerDownAndUp).
  void take_back_kept_tasks();
  //! As an assignment would: the engine takes the tasks over from the changelog, and every
  //! partition of each is sought to where the engine resumes it (registry first). A failure
  //! is kept in task_error_: the engine's offsets and the consumer's positions would differ.
  void take_back(const std::vector<int32_t>& tasks);
  //! After partitions were added: pauses the added non-registry ones if registry partitions
  //! were added too.
  void hold_for_registry(const rd_kafka_topic_partition_list_t* added);
  //! Notes that a registry partition reached its end; resumes the held partitions when all have
  //! or when the wait is over.
  void registry_caught_up(int32_t partition);
  void release_held(const char* why);
  std::optional<InTopic> input_topic(std::string_view full_name) const;

  TopicNames topics_;
  StoredOffsetFn stored_offset_;
  bool routed_orders_ = false;
  TaskHooks tasks_;
  Status task_error_ = ok();
  broker::ClientPtr consumer_;
  bool closed_ = false;
  int session_timeout_ms_ = 10'000;  //!< the consumer's session.timeout.ms
  mutable std::mutex assignment_mu_;
  std::vector<std::pair<InTopic, int32_t>> assignment_;
  //! Registry partitions not yet read to their end since they were assigned.
  std::vector<int32_t> registry_pending_;
  //! Paused partitions (full topic name, partition) waiting for registry_pending_ to empty.
  std::vector<std::pair<std::string, int32_t>> held_;
  int64_t hold_deadline_ns_ = 0;
  //! Task mode: when each held telemetry partition was first seen not owned by the engine.
  std::map<int32_t, int64_t> kept_since_;
  //! Task mode: partitions take_back() offered the engine that it did not take (no such task).
  std::set<int32_t> not_taken_;
  int64_t next_kept_check_ns_ = 0;
  Counter taken_back_;
  //! Partitions a rebalance callback moved (assigned or revoked) since poll_batch() last
  //! looked (drop_moved).
  std::vector<std::pair<InTopic, int32_t>> moved_;
  Counter stale_;
  Counter records_;
  Counter rebalances_;
  broker::ErrorTally errors_{"ingest"};
};

}  // namespace vigil::ingest
