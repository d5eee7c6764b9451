#pragma once
// Exactly-once delivery of the engine's outputs (engine/state/README.md, "Exactly-once
// outputs"): every owner thread (a shard, the dispatcher) writes its outputs into its own
// OwnerSink; at a checkpoint barrier the owner seals them, the coordinator writes them with the
// state and offsets they came from in one RocksDB batch (the outbox), and only then hands them
// to the real sink, each tagged (instance, epoch, index). After a crash the last epoch's
// outbox is delivered again, except the records the sink can show it already has.

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/recent_use.h"
#include "engine/egress/sink.h"

namespace vigil::runtime {

//! One output record, serialised, waiting for its checkpoint.
struct OutRecord {
  OutTopic topic = OutTopic::kAlarms;
  std::string key;
  std::string bytes;
  //! The task whose work emitted it (OwnerSink::set_task), -1 without tasks. Not in the outbox
  //! encoding on disk: a record delivered again after a crash has -1.
  int32_t task = -1;
};

//! An owner thread's sink. Every record goes to the observer (if any) at once, for views and
//! latency probes; then either straight to `direct` (outputs not held for checkpoints), or into
//! this epoch's records until seal(). Used by its owner thread only; the observer must be
//! thread-safe.
class OwnerSink final : public egress::Sink {
 public:
  OwnerSink(egress::Sink* observer, egress::Sink* direct) : observer_(observer), direct_(direct) {}
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;
  Status flush(int) override { return ok(); }
  //! Stamps the records collected from now on with `task` (not passed on to the observer or
  //! `direct`, which other owners share).
  void set_task(int32_t task) override { task_ = task; }
  //! Appends this epoch's records to `out` and starts the next epoch. Owner thread, at a barrier.
  void seal(std::vector<OutRecord>& out);

 private:
  egress::Sink* observer_;
  egress::Sink* direct_;
  std::vector<OutRecord> records_;
  RecentUse recent_;  //!< records the last epochs held (a burst's capacity is given back)
  int32_t task_ = -1;
};

//! The outbox's RocksDB value: records as (topic u8, key, bytes) with varint lengths.
std::string encode_outbox(const std::vector<OutRecord>& records);
//! False if `value` is not an outbox.
bool decode_outbox(std::string_view value, std::vector<OutRecord>* records);
//! Output positions as "topic/partition=offset" lines.
std::string encode_positions(const egress::OutputPositions& positions);
egress::OutputPositions decode_positions(std::string_view value);

}  // namespace vigil::runtime
