#pragma once
// An input record as it leaves ingest: where it came from, its key and its undecoded payload.
// Decoding happens on the shard that owns the key, not on the ingest thread.

#include <cstdint>
#include <string>

#include "engine/codec/codec.h"
#include "engine/codec/topics.h"

namespace vigil {

struct InputRecord {
  InTopic topic = InTopic::kTelemetry;
  int32_t partition = 0;
  int64_t offset = 0;  //!< Kafka offset, or the line number in a replay file
  std::string key;
  std::string payload;
  codec::Format format = codec::Format::kBinary;
  int64_t ingest_ns = 0;  //!< steady-clock reading when ingest took it (latency figures)
};

}  // namespace vigil
