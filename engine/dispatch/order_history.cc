#include "engine/dispatch/order_history.h"

#include <algorithm>

#include "engine/core/time_util.h"

namespace vigil::dispatch {

using vigil::state::OrderRecord;

Result<std::optional<OrderRecord>> find_order(const state::StateStore& store,
                                              const std::string& order_id) {
  auto v = store.get(order_key(order_id));
  if (!v) return v.error();
  if (!v.value()) return std::optional<OrderRecord>();
  OrderRecord o;
  if (!o.ParseFromString(*v.value())) {
    return make_error(Errc::kInvalidInput,
                      "stored order " + order_key(order_id) + " does not parse");
  }
  return std::optional<OrderRecord>(std::move(o));
}

Result<std::vector<OrderRecord>> orders_of_elder(const state::StateStore& store,
                                                 const std::string& elder_id, size_t limit) {
  std::vector<std::string> ids;
  const std::string prefix = elder_order_key(elder_id, "");
  auto s = store.scan(prefix, [&](std::string_view k, std::string_view) {
    ids.emplace_back(k);  // scan passes the key without the prefix: the order id
  });
  if (!s) return s.error();
  std::vector<OrderRecord> out;
  for (const auto& id : ids) {
    auto o = find_order(store, id);
    if (!o) return o.error();
    // An elder id holding '/' can share a key prefix with another elder: check the record.
    if (o.value() && o.value()->elder_id() == elder_id) out.push_back(std::move(*o.value()));
  }
  auto created = [](const OrderRecord& o) {
    return o.history_size() ? to_ms(o.history(0).ts()) : 0;
  };
  std::sort(out.begin(), out.end(), [&](const OrderRecord& a, const OrderRecord& b) {
    return created(a) != created(b) ? created(a) < created(b) : a.order_id() < b.order_id();
  });
  if (out.size() > limit) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(limit));
  return out;
}

}  // namespace vigil::dispatch
