// The source as the engine's fence (docs/design.md, "Fencing a zombie"): an instance asks the
// group coordinator whether it still owns its tasks by committing their telemetry offsets.
// The coordinator checks the member id and generation of every OffsetCommit (Kafka, and the
// embedded broker alike): a member the group evicted, or one still on an old generation, is
// refused. librdkafka marks the assignment lost on such a refusal, and the rebalance that
// follows hands the tasks to their new owner.

#include "engine/ingest/kafka_source.h"

namespace vigil::ingest {
namespace {
using Verdict = runtime::TaskFence::Verdict;

//! What an OffsetCommit error says about ownership.
Verdict verdict_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
    // The group is rebalancing and knows this member at its generation: its tasks stay its
    // own until it revokes them itself (cooperative), which waits for this checkpoint.
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return Verdict::kOwner;
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:  // evicted: its session timed out
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
    case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
    // The group is at a newer generation than this member. A member still in the group sees
    // that only for a moment in a rebalance, before its JoinGroup answer arrives; asked again,
    // it would wait on that rebalance, which may wait on this instance's rebalance callback,
    // which waits on this checkpoint (a deadlock seen in the fault suite). Asked only in doubt,
    // the safe answer is to give the tasks up: librdkafka marks the assignment lost on it too.
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
      return Verdict::kFenced;
    default:
      return Verdict::kUnknown;
  }
}
}  // namespace

runtime::TaskFence::Answer KafkaSource::confirm(const std::map<int32_t, int64_t>& next,
                                                int timeout_ms) {
  rd_kafka_t* rk = consumer_.get();
  if (rd_kafka_assignment_lost(rk) != 0) {
    return {Verdict::kFenced, "the consumer lost its assignment"};
  }
  rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
  const std::string& telemetry = topics_.of(InTopic::kTelemetry);
  for (const auto& [task, offset] : next) {
    rd_kafka_topic_partition_list_add(offsets, telemetry.c_str(), task)->offset = offset;
  }
  rd_kafka_queue_t* replies = rd_kafka_queue_new(rk);
  rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, offsets, replies, nullptr, nullptr);
  rd_kafka_topic_partition_list_destroy(offsets);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(replies, timeout_ms);
    if (ev == nullptr) {
      rd_kafka_queue_destroy(replies);  // the pending commit holds its own reference
      return {Verdict::kUnknown, "no answer from the group coordinator"};
    }
    err = rd_kafka_event_error(ev);
    if (const rd_kafka_topic_partition_list_t* parts = rd_kafka_event_topic_partition_list(ev);
        err == RD_KAFKA_RESP_ERR_NO_ERROR && parts != nullptr) {
      for (int i = 0; i < parts->cnt && err == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        err = parts->elems[i].err;
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(replies);
  Verdict v = verdict_of(err);
  // The commit may have raced the consumer noticing the loss: the flag settles it.
  if (v == Verdict::kOwner && rd_kafka_assignment_lost(rk) != 0) v = Verdict::kFenced;
  if (v != Verdict::kOwner) errors_.record(err, "task fence (offset commit)");
  return {v, rd_kafka_err2str(err)};
}

}  // namespace vigil::ingest
