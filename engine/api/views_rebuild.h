#pragma once
// Views after a restart (issue 7 gap E): the API's read models live in memory, so at start they
// are rebuilt from what is durable, the tail of the output topics (alarms, dispatch, tracking,
// operator) read with a read_committed consumer from max(low, high - tail_per_partition) to the
// high watermark, through the same ViewStore::apply() the tee uses. docs/design.md "Console and
// API" has the reasoning; the RocksDB order history still answers for older orders (find_order).

#include <cstdint>
#include <string_view>

#include "engine/api/views.h"
#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/result.h"

namespace vigil::api {

struct RebuildStats {
  uint64_t records = 0;       //!< output records folded into the views
  uint64_t undecodable = 0;   //!< records that were not the topic's message (skipped)
  int partitions = 0;         //!< partitions read
};

//! Reads the newest `tail_per_partition` records of each partition of the alarms, dispatch,
//! tracking and operator topics into `views`, oldest first per partition. Call before the engine
//! emits (before Engine::start). Returns kBroker if the cluster cannot be read within
//! `timeout_ms`; the views may then hold part of the tail.
Result<RebuildStats> rebuild_views(std::string_view brokers, const TopicNames& topics,
                                   ViewStore& views, int64_t tail_per_partition = 20'000,
                                   int timeout_ms = 30'000,
                                   const broker::ConfMap& extra_conf = {});

}  // namespace vigil::api
