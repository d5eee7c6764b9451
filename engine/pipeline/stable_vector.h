#pragma once
// A growing array whose elements never move (references stay valid as it grows), in chunks of
// kChunk elements: the shard's elder records (ShardCore::elders_), the timer wheel's node pool
// (growing it never copies what is there, so no append stalls on a large copy). A std::deque did the same,
// but in 512-byte nodes: two 232-byte elder records per node, so 264 bytes an elder with
// malloc's header, and any record over 170 bytes still took half a node. Here an elder costs
// its sizeof, and the last chunk's unused tail (< kChunk records) per shard.

#include <cstddef>
#include <memory>
#include <vector>

namespace vigil::pipeline {

template <class T, size_t kChunk = 256>
class StableVector {
  static_assert((kChunk & (kChunk - 1)) == 0, "a power of two");

 public:
  //! Appends a value-initialised element and returns it.
  T& emplace_back() {
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<T[]>(kChunk));
    T& t = chunks_[size_ / kChunk][size_ % kChunk];
    ++size_;
    return t;
  }
  T& operator[](size_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const T& operator[](size_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  size_t size() const { return size_; }
  //! Elements the chunks allocated so far hold.
  size_t capacity() const { return chunks_.size() * kChunk; }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace vigil::pipeline
