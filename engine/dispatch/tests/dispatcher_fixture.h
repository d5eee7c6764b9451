#pragma once
// The dispatcher tests' fixtures (dispatcher_test.cc, closed_orders_test.cc): agencies north of
// a home in Shanghai, requests, agency updates, and a Dispatcher with a collecting sink.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/core/time_util.h"
#include "engine/dispatch/dispatcher.h"

namespace vigil::dispatch::testing {

using vigil::state::OrderRecord;
using vigil::v1::AgencyUpdate;
using vigil::v1::DispatchOffer;
using vigil::v1::OrderAction;
using vigil::v1::OrderEvent;
using vigil::v1::OrderState;

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z
constexpr double kHomeLat = 31.2304;
constexpr double kHomeLon = 121.4737;
// Degrees of latitude per km on the sphere haversine_km uses.
constexpr double kDegPerKm = 1.0 / 111.19508;

template <class M>
std::vector<M> decoded(const egress::CollectingSink& sink, OutTopic topic) {
  std::vector<M> out;
  for (const auto& rec : sink.of(topic)) {
    M m;
    auto s = codec::decode(rec.json, codec::Format::kJson, &m);
    EXPECT_TRUE(s) << rec.json;
    out.push_back(m);
  }
  return out;
}

inline vigil::v1::Agency make_agency(const std::string& id, double km_north, const std::string& category,
                              int capacity = 3, double rating = 5, bool active = true) {
  vigil::v1::Agency a;
  a.set_agency_id(id);
  a.set_name(id);
  a.add_categories(category);
  a.set_lat(kHomeLat + km_north * kDegPerKm);
  a.set_lon(kHomeLon);
  a.set_capacity(capacity);
  a.set_rating(rating);
  a.set_active(active);
  return a;
}

inline OrderRequest make_request(const std::string& order_id, const std::string& category,
                          vigil::v1::Priority priority = vigil::v1::NORMAL, TimeMs ts = kT0) {
  OrderRequest r;
  r.order_id = order_id;
  r.elder_id = "e1";
  r.category = category;
  r.priority = priority;
  r.has_location = true;
  r.lat = kHomeLat;
  r.lon = kHomeLon;
  r.created = ts;
  r.window_start = ts;
  return r;
}

inline AgencyUpdate update(const std::string& agency, const std::string& order, AgencyUpdate::Status s,
                    TimeMs ts) {
  AgencyUpdate u;
  u.set_agency_id(agency);
  u.set_order_id(order);
  u.set_status(s);
  set_ts(u.mutable_ts(), ts);
  return u;
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : d_(DispatchConfig{}, sink_) {}

  std::vector<DispatchOffer> offers() const {
    return decoded<DispatchOffer>(sink_, OutTopic::kDispatch);
  }
  std::vector<OrderEvent> tracking() const {
    return decoded<OrderEvent>(sink_, OutTopic::kTracking);
  }
  std::vector<vigil::v1::OperatorTask> tasks() const {
    return decoded<vigil::v1::OperatorTask>(sink_, OutTopic::kOperator);
  }
  std::vector<OrderState> states(const std::string& order_id) const {
    std::vector<OrderState> out;
    for (const auto& e : tracking()) {
      if (e.order_id() == order_id) out.push_back(e.state());
    }
    return out;
  }
  std::vector<std::string> offered_to(const std::string& order_id) const {
    std::vector<std::string> out;
    for (const auto& o : offers()) {
      if (o.order_id() == order_id) out.push_back(o.agency_id());
    }
    return out;
  }
  const AgencyEntry& agency(const std::string& id) {
    const AgencyEntry* a = d_.agencies().find(id);
    EXPECT_NE(a, nullptr) << id;
    return *a;
  }
  //! Checks the invariant: no agency has more committed orders than its capacity.
  void expect_no_agency_over_capacity() {
    d_.agencies().for_each([](AgencyEntry& a) {
      EXPECT_LE(a.committed(), a.record.agency().capacity()) << a.record.agency().agency_id();
      EXPECT_GE(a.pending, 0);
      EXPECT_GE(a.record.load(), 0);
    });
  }
  OrderActionRequest action(const std::string& order_id, OrderAction::Action a, int rating = 0,
                            const std::string& elder = "e1") {
    OrderActionRequest r;
    r.elder_id = elder;
    r.call_id = "call-" + order_id;
    r.action.set_order_id(order_id);
    r.action.set_action(a);
    r.action.set_rating(rating);
    return r;
  }
  //! Creates an order and has `agency` accept it (it must be the first offer).
  void accepted_order(const std::string& order_id, const std::string& agency_id, TimeMs ts) {
    d_.create_order(make_request(order_id, "meal_delivery", vigil::v1::NORMAL, ts), ts);
    ASSERT_EQ(d_.order(order_id)->agency_id(), agency_id);
    ASSERT_TRUE(d_.on_agency_update(update(agency_id, order_id, AgencyUpdate::ACCEPTED, ts), ts));
  }

  egress::CollectingSink sink_;
  Dispatcher d_;
};

class DispatcherStoreTest : public DispatcherTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_dispatch_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

}  // namespace vigil::dispatch::testing
