#pragma once
// The dispatcher's driver: decodes agency updates and registry agencies, applies them and the
// shards' order requests to the Dispatcher, and turns refusals into deadletters.
// Owned by one thread (the dispatch thread live, the replay loop in replay). In replay it is
// also the shards' DispatchPort: requests are applied at once, in order.
//
// Routed mode (dispatch.routing: kafka, engine/runtime/order_router.h): the agency and registry
// agency records this instance reads are forwarded to their region's owner through `orders`,
// and the `orders` records this instance reads (it owns those regions) are applied here.

#include "engine/codec/record.h"
#include "engine/dispatch/dispatcher.h"
#include "engine/egress/sink.h"
#include "engine/runtime/order_router.h"

namespace vigil::runtime {

class DispatchCore final : public dispatch::DispatchPort {
 public:
  DispatchCore(dispatch::DispatchConfig config, egress::Sink& sink)
      : dispatcher_(std::move(config), sink), sink_(sink) {}

  //! Applies an `agency` record, or a `registry` record that carries an Agency (forwards
  //! either in routed mode), or an `orders` record.
  void process(const InputRecord& rec, TimeMs now);
  //! Switches to routed mode; `agency_region` finds an agency update's region (may be empty:
  //! then every agency update is deadlettered, as its owner cannot be found).
  void route_through_kafka(AgencyRegionFn agency_region) {
    routed_ = true;
    agency_region_ = std::move(agency_region);
  }
  void advance_to(TimeMs now) {
    now_ = std::max(now_, now);
    dispatcher_.advance_to(now);
  }
  TimeMs next_due() const { return dispatcher_.next_due(); }

  // dispatch::DispatchPort — called on this core's own thread.
  void request_order(const dispatch::OrderRequest& request) override;
  void order_action(const dispatch::OrderActionRequest& request) override;

  dispatch::Dispatcher& dispatcher() { return dispatcher_; }

  // Tasks (DispatchConfig::task_partitions > 0): a record's work is the task of its partition,
  // a request or action from a shard's ring that of its order's region, a timer's that of its
  // order's region (the dispatcher sets it). See dispatch::Dispatcher for these two.
  void drop_task(int32_t task) { dispatcher_.drop_task(task); }
  void mark_task_dirty(int32_t task) { dispatcher_.mark_task_dirty(task); }
  void restore(const std::vector<std::pair<std::string, std::string>>& kv, TimeMs now) {
    dispatcher_.restore(kv, now);
  }

 private:
  //! The pre-routing path: applies an agency or registry-agency record to this dispatcher.
  void apply(const InputRecord& rec, TimeMs now);
  void forward(const InputRecord& rec, TimeMs now);
  void apply_routed(const InputRecord& rec, TimeMs now);

  dispatch::Dispatcher dispatcher_;
  egress::Sink& sink_;
  bool routed_ = false;
  AgencyRegionFn agency_region_;
  vigil::v1::RoutedOrder routed_msg_;
  TimeMs now_ = 0;
  bool in_record_ = false;  //!< inside process(): the record's partition is the task
  vigil::v1::AgencyUpdate update_;
  vigil::v1::RegistryUpdate registry_;
};

}  // namespace vigil::runtime
