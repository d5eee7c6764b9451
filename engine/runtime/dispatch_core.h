#pragma once
// The dispatcher's driver: decodes agency updates and registry agencies, applies them and the
// shards' order requests to the Dispatcher, and turns refusals into deadletters.
// Owned by one thread (the dispatch thread live, the replay loop in replay). In replay it is
// also the shards' DispatchPort: requests are applied at once, in order.

#include "engine/codec/record.h"
#include "engine/dispatch/dispatcher.h"
#include "engine/egress/sink.h"

namespace vigil::runtime {

class DispatchCore final : public dispatch::DispatchPort {
 public:
  DispatchCore(dispatch::DispatchConfig config, egress::Sink& sink)
      : dispatcher_(std::move(config), sink), sink_(sink) {}

  //! Applies an `agency` record, or a `registry` record that carries an Agency.
  void process(const InputRecord& rec, TimeMs now);
  void advance_to(TimeMs now) {
    now_ = std::max(now_, now);
    dispatcher_.advance_to(now);
  }
  TimeMs next_due() const { return dispatcher_.next_due(); }

  // dispatch::DispatchPort — called on this core's own thread.
  void request_order(const dispatch::OrderRequest& request) override;
  void order_action(const dispatch::OrderActionRequest& request) override;

  dispatch::Dispatcher& dispatcher() { return dispatcher_; }

 private:
  dispatch::Dispatcher dispatcher_;
  egress::Sink& sink_;
  TimeMs now_ = 0;
  vigil::v1::AgencyUpdate update_;
  vigil::v1::RegistryUpdate registry_;
};

}  // namespace vigil::runtime
