#pragma once
// The ids of the orders the dispatcher has closed and let go of (engine/dispatch/README.md,
// "Closed orders"): 8 bytes an order instead of its ~2 KB record, so that a request repeating a
// closed order's id is still a duplicate, and an update for it is refused as closed rather
// than unknown. An id is kept as a 64-bit hash: two different ids share one with a chance of
// about n / 2^64 per new id (n ids closed; 5e-13 at ten million), and a false match would
// drop a new request as a duplicate. The record itself stays in the store (d/<order_id>) and
// on `tracking`.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace vigil::dispatch {

class ClosedOrders {
 public:
  void add(std::string_view order_id);
  bool contains(std::string_view order_id) const;
  size_t size() const { return sorted_.size() + recent_.size(); }
  size_t heap_bytes() const { return (sorted_.capacity() + recent_.capacity()) * sizeof(uint64_t); }

 private:
  static uint64_t key(std::string_view order_id);
  //! Ids closed since the last merge, unsorted; merged into sorted_ at kRecent (a lookup scans
  //! them: orders are created a few per second at most).
  static constexpr size_t kRecent = 1024;
  std::vector<uint64_t> sorted_;
  std::vector<uint64_t> recent_;
};

}  // namespace vigil::dispatch
