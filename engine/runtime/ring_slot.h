#pragma once
// How a record is copied into a ring slot (engine.h, ShardMsg/DispatchMsg). A slot keeps its
// strings' buffers from one lap of the ring to the next, so the hand-off allocates nothing once
// a slot's buffer is as large as the records it carries. Two bounds on what a slot keeps:
// - the shard rings' slots start with kSlotPayloadBytes reserved (the standard workload's
//   records are 48-143 bytes, 99% under 80), so a slot's memory is fixed from the start rather
//   than creeping up for as long as a slot has not yet carried the largest record of the mix
//   (bench/README.md, "Reload", session 18: ~0.9 MiB over 100,000 reloads with 10k elders);
// - a buffer grown past kSlotKeepBytes by a rare large record is given back when the slot's
//   next record is small again, so a burst of large records (up to Kafka's message.max.bytes)
//   does not stay in the ring for good: without the bound that is up to ring size x the largest
//   record, 16 GiB for 16,384 slots of 1 MiB.

#include <algorithm>
#include <cstddef>
#include <string>

#include "engine/codec/record.h"

namespace vigil::runtime {

inline constexpr size_t kSlotPayloadBytes = 128;
inline constexpr size_t kSlotKeepBytes = 4096;

//! A new slot's record: its payload buffer reserved (shard rings).
inline void reserve_slot(InputRecord& slot) { slot.payload.reserve(kSlotPayloadBytes); }

//! `to = from` for one string of a slot, with the bound above.
inline void assign_kept(std::string& to, const std::string& from) {
  if (to.capacity() > kSlotKeepBytes && from.size() <= kSlotKeepBytes) {
    std::string fresh;
    fresh.reserve(std::max(from.size(), kSlotPayloadBytes));
    to.swap(fresh);
  }
  to.assign(from);
}

//! `slot = from`, keeping the slot's buffers within the bound above.
inline void copy_to_slot(const InputRecord& from, InputRecord& slot) {
  slot.topic = from.topic;
  slot.partition = from.partition;
  slot.offset = from.offset;
  assign_kept(slot.key, from.key);
  assign_kept(slot.payload, from.payload);
  slot.format = from.format;
  slot.ingest_ns = from.ingest_ns;
}

}  // namespace vigil::runtime
