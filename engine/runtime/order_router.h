#pragma once
// Region-owned dispatch across engine instances (`dispatch.routing: kafka`; docs/design.md,
// "Several instances"). Order work does not go straight to this instance's dispatcher: it
// becomes a record of the internal topic `<prefix>orders`, keyed by region, and the engine
// instance that owns that partition of `orders` (the consumer group assigns it like any input)
// applies it. So every agency's load is decided by one dispatcher, whichever instance's shard
// asked. The records are outputs of their owner thread (its OwnerSink), hence produced only
// after the checkpoint of the inputs that caused them: exactly once relative to the input
// offsets, like every other output.
//
// What goes through `orders`, all keyed by region_key(region):
//   - a shard's OrderRequest and OrderActionRequest (RoutedPort), keyed by the elder's region;
//   - a `registry` agency a dispatcher read, keyed by the agency's region;
//   - an `agency` update a dispatcher read, keyed by its agency's region (AgencyRegionFn).

#include <functional>
#include <optional>
#include <string>

#include "engine/codec/record.h"
#include "engine/core/result.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "schemas/orders.pb.h"

namespace vigil::runtime {

//! agency_id -> the agency's region as the registry says, or nullopt if the registry has no
//! such agency. Called on the dispatch thread only; may block briefly to catch up with the
//! registry (ingest::AgencyRegions).
using AgencyRegionFn = std::function<std::optional<std::string>(const std::string& agency_id)>;

//! The `orders` key of a region (defined beside the requests: the dispatcher's tasks use it).
using dispatch::region_key;

void to_routed(const dispatch::OrderRequest& in, vigil::v1::RoutedRequest* out);
void to_routed(const dispatch::OrderActionRequest& in, vigil::v1::RoutedAction* out);
void to_routed(const InputRecord& in, vigil::v1::RoutedInput* out);
dispatch::OrderRequest from_routed(const vigil::v1::RoutedRequest& in);
//! The action, with its source record; kInvalidInput if the source names no input topic.
Result<dispatch::OrderActionRequest> from_routed(const vigil::v1::RoutedAction& in);
//! kInvalidInput if the record names no Kafka input topic or an unknown format.
Result<InputRecord> from_routed(const vigil::v1::RoutedInput& in);

//! A shard's DispatchPort in routed mode: each request or action becomes an `orders` record
//! keyed by the elder's region, written into the shard's own sink. Used by its shard's thread.
class RoutedPort final : public dispatch::DispatchPort {
 public:
  //! elder_id -> region ("" if unknown), read from the shard's registry state.
  using ElderRegionFn = std::function<std::string(const std::string& elder_id)>;
  RoutedPort(egress::Sink& sink, ElderRegionFn elder_region)
      : sink_(sink), elder_region_(std::move(elder_region)) {}

  void request_order(const dispatch::OrderRequest& request) override;
  void order_action(const dispatch::OrderActionRequest& request) override;

 private:
  egress::Sink& sink_;
  ElderRegionFn elder_region_;
  vigil::v1::RoutedOrder msg_;  //!< reused
};

}  // namespace vigil::runtime
