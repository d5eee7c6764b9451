#include "engine/dispatch/closed_orders.h"

#include <algorithm>

#include "engine/pipeline/shard_router.h"

namespace vigil::dispatch {

uint64_t ClosedOrders::key(std::string_view order_id) {
  // FNV-1a (fixed across builds), then MurmurHash3's finaliser so that every bit depends on
  // every byte.
  uint64_t h = pipeline::stable_hash(order_id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

void ClosedOrders::add(std::string_view order_id) {
  if (contains(order_id)) return;
  recent_.push_back(key(order_id));
  if (recent_.size() < kRecent) return;
  std::sort(recent_.begin(), recent_.end());
  const auto mid = static_cast<std::ptrdiff_t>(sorted_.size());
  sorted_.insert(sorted_.end(), recent_.begin(), recent_.end());
  std::inplace_merge(sorted_.begin(), sorted_.begin() + mid, sorted_.end());
  recent_.clear();
}

bool ClosedOrders::contains(std::string_view order_id) const {
  const uint64_t k = key(order_id);
  return std::binary_search(sorted_.begin(), sorted_.end(), k) ||
         std::find(recent_.begin(), recent_.end(), k) != recent_.end();
}

}  // namespace vigil::dispatch
