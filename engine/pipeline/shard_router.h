#pragma once
// Which shard owns a key. Every record of one elder goes to one shard, so that elder's state is
// touched by one thread and needs no lock. The hash is fixed (FNV-1a), not std::hash, so that
// ownership is the same in every build and every run.

#include <cstdint>
#include <string_view>

namespace vigil::pipeline {

inline uint64_t stable_hash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

//! The shard of a key whose stable_hash() is `hash` (the ingest thread hashes a key once, for
//! its shard and for the shard's look-ahead).
inline uint32_t shard_of_hash(uint64_t hash, uint32_t shards) {
  return static_cast<uint32_t>(hash % shards);
}

inline uint32_t shard_of(std::string_view key, uint32_t shards) {
  return shard_of_hash(stable_hash(key), shards);
}

}  // namespace vigil::pipeline
