#pragma once
// Tasks: the unit of ownership when several engine instances share the input partitions
// (docs/design.md, "State that moves with its partition"). Task p is partition p of the
// co-partitioned input topics; an elder belongs to the task its key hashes to, a region (for
// dispatch) to the task its `orders` key hashes to.

#include <cstdint>
#include <string_view>

namespace vigil::state {

//! The partition librdkafka's default partitioner (consistent_random) picks for a non-empty
//! key among `partitions`: CRC-32 (IEEE, zlib's crc32) of the key bytes, modulo `partitions`.
//! `partitions` must be > 0. (An empty key would be spread at random by librdkafka; vigil keys
//! are never empty, and this returns the CRC of "" = 0 for it.)
int32_t task_of(std::string_view key, int32_t partitions);

}  // namespace vigil::state
