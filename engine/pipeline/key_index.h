#pragma once
// Key -> dense index for a shard's table (elder id -> elder slot): open addressing with linear
// probing over 8-byte slots (a 32-bit hash tag and the index), power-of-two capacity, at most
// half full. A lookup is usually one cache line of this table plus the key's own record, which
// the caller reads next anyway; std::unordered_map walked a chain of heap nodes per lookup and
// was 11% of the engine's CPU in the standard bench (bench/README.md, 2026-11-23).
//
// The keys are not stored: `key_of(index)` gives the key of an index (the elder's own id), so
// the table costs 16 bytes per key on average (8 to 32: a quarter to half full). erase() removes
// a key (a shard dropping a task's elders) by backward-shift deletion, so no tombstones pile up.

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/prefetch.h"
#include "engine/pipeline/shard_router.h"

namespace vigil::pipeline {

class KeyIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  //! The table position of a key whose stable_hash() is `hash` (see prefetch()).
  static uint32_t tag_of_hash(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<uint32_t>(h);
  }
  static uint32_t tag_of(std::string_view key) { return tag_of_hash(stable_hash(key)); }

  // Prefetching (the shard's loop hides the cache misses of lookups a few records ahead):
  //! Asks the CPU for the table line where the key with this tag starts its probe.
  void prefetch(uint32_t tag) const {
    if (!slots_.empty()) vigil::prefetch(&slots_[tag & mask_]);
  }
  //! The index of the first entry with this tag (most likely the key's own), or kNone. Reads
  //! no key: a guess to prefetch the record by, never an answer.
  uint32_t candidate(uint32_t tag) const {
    if (slots_.empty()) return kNone;
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index_plus_1 == 0) return kNone;
      if (s.tag == tag) return s.index_plus_1 - 1;
    }
  }

  //! The index of `key`, or kNone.
  template <class KeyOf>
  uint32_t find(std::string_view key, KeyOf&& key_of) const {
    if (slots_.empty()) return kNone;
    const uint32_t tag = tag_of(key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index_plus_1 == 0) return kNone;
      if (s.tag == tag && key_of(s.index_plus_1 - 1) == key) return s.index_plus_1 - 1;
    }
  }

  //! The index of `key`, inserting it with `index` if absent; second = inserted.
  template <class KeyOf>
  std::pair<uint32_t, bool> insert(std::string_view key, uint32_t index, KeyOf&& key_of) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const uint32_t tag = tag_of(key);
    for (size_t i = tag & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.index_plus_1 == 0) {
        s = Slot{tag, index + 1};
        ++size_;
        return {index, true};
      }
      if (s.tag == tag && key_of(s.index_plus_1 - 1) == key) return {s.index_plus_1 - 1, false};
    }
  }

  //! Removes `key` (call while key_of still gives its key); false if it is absent.
  template <class KeyOf>
  bool erase(std::string_view key, KeyOf&& key_of) {
    if (slots_.empty()) return false;
    const uint32_t tag = tag_of(key);
    size_t i = tag & mask_;
    for (;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index_plus_1 == 0) return false;
      if (s.tag == tag && key_of(s.index_plus_1 - 1) == key) break;
    }
    // Backward shift: move later entries of the probe run into the hole unless their home
    // position lies cyclically in (hole, their position].
    for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (slots_[j].index_plus_1 == 0) break;
      const size_t home = slots_[j].tag & mask_;
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
    return true;
  }

  size_t size() const { return size_; }
  size_t heap_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t index_plus_1 = 0;  //!< 0: empty
  };

  // tag_of(): shard_of() took FNV-1a modulo the shard count, so within a shard its low bits
  // are not random: they are mixed (MurmurHash3's finaliser) before use as a position.

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {  // tags are whole hashes: no key is read again
      if (s.index_plus_1 == 0) continue;
      size_t i = s.tag & mask_;
      while (slots_[i].index_plus_1 != 0) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace vigil::pipeline
