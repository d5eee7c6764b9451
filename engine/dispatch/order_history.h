#pragma once
// Read-only queries over the order history the dispatcher checkpoints to RocksDB: one order by
// id, or an elder's orders. Safe from any thread (RocksDB is); what it returns is as of the last
// checkpoint (at most commit_interval_ms old). The HTTP console is its intended caller.
//
// Keys: `d/<order_id>` holds the OrderRecord with its whole history; `do/<elder_id>/<order_id>`
// (empty value) indexes an elder's orders.

#include <optional>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/state/state_store.h"
#include "schemas/state.pb.h"

namespace vigil::dispatch {

inline std::string order_key(const std::string& order_id) { return "d/" + order_id; }
inline std::string elder_order_key(const std::string& elder_id, const std::string& order_id) {
  return "do/" + elder_id + "/" + order_id;
}

//! Returns the order with its history, std::nullopt if there is no such order, or kIo
//! (RocksDB's reason) / kInvalidInput (a record that does not parse, naming its key).
Result<std::optional<vigil::state::OrderRecord>> find_order(const state::StateStore& store,
                                                            const std::string& order_id);

//! Returns the elder's orders, oldest first (by creation time, then order id), at most `limit`
//! of the newest, or kIo / kInvalidInput as find_order. An unknown elder has no orders.
Result<std::vector<vigil::state::OrderRecord>> orders_of_elder(const state::StateStore& store,
                                                               const std::string& elder_id,
                                                               size_t limit = 100);

}  // namespace vigil::dispatch
