#include "engine/sim/agency_sim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <string>

#include "engine/core/time_util.h"
#include "engine/sim/geo.h"

namespace vigil::sim {
namespace {

using Update = vigil::v1::AgencyUpdate;

constexpr TimeMs kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr TimeMs kForever = std::numeric_limits<TimeMs>::max();

class AgencySimTest : public ::testing::Test {
 protected:
  AgencySimTest() : population_(make_population(options_)) {}

  const vigil::v1::Agency& agency_offering(std::string_view category) const {
    for (const auto& a : population_.agencies) {
      if (std::find(a.categories().begin(), a.categories().end(), category) !=
          a.categories().end()) {
        return a;
      }
    }
    throw std::runtime_error("no agency offers " + std::string(category));
  }

  //! The elder living nearest to `agency`: the kind of order dispatch offers it.
  size_t nearest_elder(const vigil::v1::Agency& agency) const {
    size_t best = 0;
    double best_m = 1e12;
    for (size_t e = 0; e < population_.elders.size(); ++e) {
      const auto& elder = population_.elders[e];
      const double m = distance_m(agency.lat(), agency.lon(), elder.home_lat(), elder.home_lon());
      if (m < best_m) {
        best_m = m;
        best = e;
      }
    }
    return best;
  }

  //! An offer from `agency` for the home of elder `elder`, made at `now`.
  vigil::v1::DispatchOffer offer(const std::string& order_id, const vigil::v1::Agency& agency,
                                 std::string_view category, TimeMs now, size_t elder = 0,
                                 uint32_t attempt = 1) const {
    const bool emergency = category == kEmergencyResponse;
    vigil::v1::DispatchOffer o;
    o.set_order_id(order_id);
    o.set_agency_id(agency.agency_id());
    o.set_elder_id(population_.elders[elder].elder_id());
    o.set_category(std::string(category));
    o.set_priority(emergency ? vigil::v1::EMERGENCY : vigil::v1::NORMAL);
    o.set_lat(population_.elders[elder].home_lat());
    o.set_lon(population_.elders[elder].home_lon());
    set_ts(o.mutable_offered_at(), now);
    set_ts(o.mutable_expires_at(), now + (emergency ? 45 * kSecond : 10 * kMinute));
    o.set_attempt(attempt);
    return o;
  }

  static std::vector<Update> updates(const std::vector<SimRecord>& records) {
    std::vector<Update> out;
    for (const SimRecord& r : records) {
      if (r.topic == InTopic::kCalls) continue;  // the elders' CANCEL and RATE calls
      EXPECT_EQ(r.topic, InTopic::kAgency);
      const auto& u = std::get<Update>(r.message);
      EXPECT_EQ(r.key, u.order_id());
      EXPECT_EQ(r.ts, to_ms(u.ts()));
      out.push_back(u);
    }
    return out;
  }

  //! Offers orders "<prefix>-1", "-2", ... one at a time until one is accepted and completed;
  //! returns its updates.
  std::vector<Update> first_completed(AgencySimulator& sim, const vigil::v1::Agency& agency,
                                      std::string_view category, size_t elder) {
    for (int n = 1; n < 100; ++n) {
      const TimeMs now = kStart + n * (10 * kHour);
      sim.on_offer(offer("o-" + std::to_string(n), agency, category, now, elder), now);
      std::vector<SimRecord> out;
      sim.due(kForever, out);
      auto got = updates(out);
      if (!got.empty() && got.back().status() == Update::COMPLETED) return got;
    }
    ADD_FAILURE() << "no offer was accepted and completed";
    return {};
  }

  //! Checks ACCEPTED, EN_ROUTE, ARRIVED, IN_SERVICE, COMPLETED in that order, with increasing
  //! ts, and an arrival consistent with the distance at `kmh`.
  void expect_full_journey(const std::vector<Update>& got, const vigil::v1::Agency& agency,
                           size_t elder, double kmh, TimeMs min_service, TimeMs max_service) {
    ASSERT_EQ(got.size(), 5u);
    const std::vector<Update::Status> expected = {
        Update::ACCEPTED, Update::EN_ROUTE, Update::ARRIVED, Update::IN_SERVICE, Update::COMPLETED};
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].status(), expected[i]) << i;
      EXPECT_EQ(got[i].agency_id(), agency.agency_id());
      if (i > 0) {
        EXPECT_GT(to_ms(got[i].ts()), to_ms(got[i - 1].ts())) << i;
      }
    }
    EXPECT_TRUE(got[0].has_eta());
    EXPECT_TRUE(got[1].has_eta());
    EXPECT_GT(to_ms(got[0].eta()), to_ms(got[1].ts()));

    const auto& home = population_.elders[elder];
    const double meters = distance_m(agency.lat(), agency.lon(), home.home_lat(), home.home_lon());
    const double nominal_ms = std::max(30'000.0, meters / (kmh / 3.6) * 1000);
    const TimeMs travel = to_ms(got[2].ts()) - to_ms(got[1].ts());
    EXPECT_GE(travel, nominal_ms * 0.9 - 1) << meters << " m";
    EXPECT_LE(travel, nominal_ms * 2.5 + 1) << meters << " m";
    EXPECT_NEAR(got[2].lat(), home.home_lat(), 1e-9);
    EXPECT_NEAR(got[1].lat(), agency.lat(), 1e-9);

    const TimeMs service = to_ms(got[4].ts()) - to_ms(got[3].ts());
    EXPECT_GE(service, min_service);
    EXPECT_LE(service, max_service);
  }

  SimOptions options_;
  Population population_;
};

TEST_F(AgencySimTest, EmergencyOrderGoesFromAcceptedToCompletedAtVehicleSpeed) {
  AgencySimulator sim(population_, options_);
  const auto& agency = agency_offering(kEmergencyResponse);
  const size_t elder = 17;
  const auto got = first_completed(sim, agency, kEmergencyResponse, elder);
  expect_full_journey(got, agency, elder, 25, 10 * kMinute, 20 * kMinute);
  // Answered 3-15 s after the offer (made at a whole hour).
  const TimeMs answer = to_ms(got[0].ts()) % kHour;
  EXPECT_GE(answer, 3 * kSecond);
  EXPECT_LE(answer, 15 * kSecond);
  EXPECT_EQ(sim.open_jobs(), 0u) << "completed orders are forgotten";
}

TEST_F(AgencySimTest, EverydayOrderWalksThere) {
  AgencySimulator sim(population_, options_);
  const auto& agency = agency_offering("cleaning");
  const size_t elder = 3;
  const auto got = first_completed(sim, agency, "cleaning", elder);
  expect_full_journey(got, agency, elder, 4, 20 * kMinute, 60 * kMinute);
  const TimeMs answer = to_ms(got[0].ts()) % kHour;
  EXPECT_GE(answer, 10 * kSecond);
  EXPECT_LE(answer, 120 * kSecond);
}

TEST_F(AgencySimTest, OverManyOffersMostAreAcceptedSomeDeclinedSomeIgnored) {
  AgencySimulator sim(population_, options_);
  std::vector<SimRecord> out;
  std::map<Update::Status, int> first_answer;
  std::map<std::string, std::vector<Update::Status>> journeys;
  int elder_cancelled = 0;
  const int kOffers = 1000;
  for (int n = 0; n < kOffers; ++n) {
    // One offer every 10 minutes, round-robin over the agencies: nobody runs out of capacity.
    const TimeMs now = kStart + n * (10 * kMinute);
    sim.due(now, out);
    const auto& agency = population_.agencies[n % population_.agencies.size()];
    sim.on_offer(
        offer("o-" + std::to_string(n), agency, agency.categories(0), now, nearest_elder(agency)),
        now);
  }
  sim.due(kForever, out);
  for (const Update& u : updates(out)) journeys[u.order_id()].push_back(u.status());
  for (const auto& [order, statuses] : journeys) {
    ++first_answer[statuses.front()];
    if (statuses.front() == Update::DECLINED) {
      EXPECT_EQ(statuses.size(), 1u) << order;
    } else {
      ASSERT_EQ(statuses.front(), Update::ACCEPTED) << order;
      const auto last = statuses.back();
      // Only ACCEPTED: the elder cancelled before the agency set out.
      elder_cancelled += statuses.size() == 1;
      EXPECT_TRUE(last == Update::COMPLETED || last == Update::FAILED || statuses.size() == 1)
          << order;
    }
  }
  EXPECT_EQ(sim.stats().elder_cancels, static_cast<uint64_t>(elder_cancelled));
  const int ignored = kOffers - static_cast<int>(journeys.size());
  EXPECT_GT(first_answer[Update::ACCEPTED], kOffers * 0.8);
  EXPECT_LT(first_answer[Update::ACCEPTED], kOffers * 0.95);
  EXPECT_GT(first_answer[Update::DECLINED], 0);
  EXPECT_GT(ignored, 0);
  EXPECT_EQ(sim.stats().offers, static_cast<uint64_t>(kOffers));
  EXPECT_EQ(sim.stats().ignored, static_cast<uint64_t>(ignored));
  EXPECT_EQ(sim.stats().accepted, static_cast<uint64_t>(first_answer[Update::ACCEPTED]));
  EXPECT_EQ(sim.stats().completed + sim.stats().failed + sim.stats().elder_cancels,
            sim.stats().accepted);
  EXPECT_EQ(sim.open_jobs(), 0u);
}

TEST_F(AgencySimTest, UpdatesComeOutInTimeOrderWhenDue) {
  AgencySimulator sim(population_, options_);
  for (int n = 0; n < 40; ++n) {
    const auto& agency = population_.agencies[n % population_.agencies.size()];
    const TimeMs now = kStart + n * kSecond;
    sim.on_offer(offer("o-" + std::to_string(n), agency, agency.categories(0), now, n), now);
  }
  std::vector<SimRecord> out;
  TimeMs last = 0;
  for (TimeMs now = kStart; sim.next_due(); now += kMinute) {
    const size_t before = out.size();
    sim.due(now, out);
    for (size_t i = before; i < out.size(); ++i) {
      EXPECT_LE(out[i].ts, now);
      EXPECT_GE(out[i].ts, last);
      last = out[i].ts;
    }
  }
  EXPECT_GT(out.size(), 40u);
}

TEST_F(AgencySimTest, UnknownAgencyIsIgnored) {
  AgencySimulator sim(population_, options_);
  vigil::v1::Agency stranger;
  stranger.set_agency_id("ag99");
  sim.on_offer(offer("o-1", stranger, "cleaning", kStart), kStart);
  std::vector<SimRecord> out;
  sim.due(kForever, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sim.stats().unknown_agency, 1u);
  EXPECT_FALSE(sim.next_due());
}

TEST_F(AgencySimTest, RedeliveredOfferIsAnsweredOnce) {
  AgencySimulator sim(population_, options_);
  const auto& agency = population_.agencies[0];
  int answered = 0;
  for (int n = 0; n < 20; ++n) {
    const auto o = offer("o-" + std::to_string(n), agency, agency.categories(0), kStart, n);
    sim.on_offer(o, kStart);
    sim.on_offer(o, kStart + kSecond);
    std::vector<SimRecord> out;
    sim.due(kForever, out);
    const auto got = updates(out);
    answered += !got.empty();
    EXPECT_LE(std::count_if(got.begin(), got.end(),
                            [](const Update& u) {
                              return u.status() == Update::ACCEPTED ||
                                     u.status() == Update::DECLINED;
                            }),
              1);
  }
  EXPECT_GT(answered, 10);
  // The redelivery of an ignored offer is ignored again: the decision is the offer's own.
  EXPECT_EQ(sim.stats().duplicates, static_cast<uint64_t>(answered));
  EXPECT_EQ(sim.stats().ignored, 2u * (20 - answered));
}

TEST_F(AgencySimTest, AgencyAtCapacityDeclines) {
  AgencySimulator sim(population_, options_);
  const auto& agency = population_.agencies[1];
  const int offers = agency.capacity() + 10;
  for (int n = 0; n < offers; ++n) {
    sim.on_offer(offer("o-" + std::to_string(n), agency, agency.categories(0), kStart, n), kStart);
  }
  std::vector<SimRecord> out;
  sim.due(kForever, out);
  int accepted = 0;
  int at_capacity = 0;
  for (const Update& u : updates(out)) {
    accepted += u.status() == Update::ACCEPTED;
    at_capacity += u.status() == Update::DECLINED && u.note() == "at capacity";
  }
  EXPECT_EQ(accepted, agency.capacity());
  EXPECT_GT(at_capacity, 0);
}

TEST_F(AgencySimTest, OfferThatWouldExpireBeforeTheAnswerIsIgnored) {
  AgencySimulator sim(population_, options_);
  const auto& agency = agency_offering(kEmergencyResponse);
  auto o = offer("o-1", agency, kEmergencyResponse, kStart);
  set_ts(o.mutable_expires_at(), kStart + kSecond);  // answers take at least 3 s
  sim.on_offer(o, kStart);
  std::vector<SimRecord> out;
  sim.due(kForever, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sim.stats().ignored, 1u);
}

TEST_F(AgencySimTest, CancelledOrderReportsNothingMore) {
  AgencySimulator sim(population_, options_);
  const auto& agency = agency_offering(kEmergencyResponse);
  std::string accepted_order;
  std::vector<SimRecord> out;
  for (int n = 0; n < 20 && accepted_order.empty(); ++n) {
    const std::string id = "o-" + std::to_string(n);
    sim.on_offer(offer(id, agency, kEmergencyResponse, kStart), kStart);
    out.clear();
    sim.due(kStart + 20 * kSecond, out);  // the answer, not yet the arrival
    for (const Update& u : updates(out)) {
      if (u.status() == Update::ACCEPTED) accepted_order = id;
    }
  }
  ASSERT_FALSE(accepted_order.empty());
  sim.on_cancel(accepted_order);
  out.clear();
  sim.due(kForever, out);
  for (const Update& u : updates(out)) EXPECT_NE(u.order_id(), accepted_order);
  EXPECT_EQ(sim.stats().cancelled, 1u);
  EXPECT_EQ(sim.open_jobs(), 0u);
}

TEST_F(AgencySimTest, CancelFreesTheCapacityTheOrderTook) {
  AgencySimulator sim(population_, options_);
  const auto& agency = population_.agencies[1];
  std::vector<std::string> accepted;
  std::vector<SimRecord> out;
  TimeMs now = kStart;
  // Fill the agency: offer orders one at a time until it has accepted `capacity` of them.
  for (int n = 0; n < 200 && accepted.size() < static_cast<size_t>(agency.capacity()); ++n) {
    const std::string id = "fill-" + std::to_string(n);
    sim.on_offer(offer(id, agency, agency.categories(0), now, n), now);
    now += 3 * kMinute;  // answers come within 2 min; the accepted are still on their way
    out.clear();
    sim.due(now, out);
    for (const Update& u : updates(out)) {
      if (u.status() == Update::ACCEPTED) accepted.push_back(u.order_id());
    }
  }
  ASSERT_EQ(accepted.size(), static_cast<size_t>(agency.capacity()));
  auto answer_to = [&](const std::string& id) {
    sim.on_offer(offer(id, agency, agency.categories(0), now, 0), now);
    now += 3 * kMinute;
    out.clear();
    sim.due(now, out);
    for (const Update& u : updates(out)) {
      if (u.order_id() == id) return u;
    }
    return Update();
  };
  const Update full = answer_to("while-full");
  EXPECT_EQ(full.status(), Update::DECLINED);
  EXPECT_EQ(full.note(), "at capacity");
  sim.on_cancel(accepted[0]);
  // With a place free again, some of the next offers are accepted (85% each).
  bool took_one = false;
  for (int n = 0; n < 10 && !took_one; ++n) {
    took_one = answer_to("after-cancel-" + std::to_string(n)).status() == Update::ACCEPTED;
  }
  EXPECT_TRUE(took_one);
}

TEST_F(AgencySimTest, EldersCancelSomeOrdersBeforeDepartureAndRateFinishedVisits) {
  options_.elder_cancel_p = 0.2;
  options_.elder_rate_p = 1;
  AgencySimulator sim(population_, options_);
  const auto& agency = agency_offering("meal_delivery");
  std::vector<SimRecord> out;
  for (int n = 0; n < 40; ++n) {
    const TimeMs now = kStart + n * 10 * kHour;  // one at a time: never at capacity
    sim.on_offer(offer("o-" + std::to_string(n), agency, "meal_delivery", now, n), now);
    sim.due(now + 9 * kHour, out);
  }
  std::map<std::string, std::vector<std::string>> steps;  // order -> statuses and calls
  std::map<std::string, TimeMs> last_ts;
  for (const SimRecord& r : out) {
    std::string order, step;
    if (r.topic == InTopic::kCalls) {
      const auto& call = std::get<vigil::v1::CallEvent>(r.message);
      ASSERT_TRUE(call.has_order_action());
      order = call.order_action().order_id();
      step = vigil::v1::OrderAction::Action_Name(call.order_action().action());
      EXPECT_EQ(r.key, call.elder_id());
      EXPECT_EQ(call.call_id(), (step == "CANCEL" ? "cancel-" : "rate-") + order);
      if (step == "RATE") {
        EXPECT_GE(call.order_action().rating(), 1);
        EXPECT_LE(call.order_action().rating(), 5);
      }
    } else {
      const auto& u = std::get<Update>(r.message);
      order = u.order_id();
      step = Update::Status_Name(u.status());
    }
    EXPECT_GE(r.ts, last_ts[order]) << order;
    last_ts[order] = r.ts;
    steps[order].push_back(step);
  }
  size_t cancelled = 0, rated = 0;
  for (const auto& [order, s] : steps) {
    if (s.back() == "CANCEL") {
      ++cancelled;  // right after ACCEPTED: the agency had not set out, and reports nothing more
      EXPECT_EQ(s, (std::vector<std::string>{"ACCEPTED", "CANCEL"})) << order;
    }
    if (s.back() == "RATE") {
      ++rated;
      EXPECT_EQ(s[s.size() - 2], "COMPLETED") << order;
    }
  }
  EXPECT_GT(cancelled, 0u);
  EXPECT_GT(rated, 0u);
  EXPECT_EQ(sim.stats().elder_cancels, cancelled);
  EXPECT_EQ(sim.stats().ratings, rated);
  EXPECT_EQ(sim.stats().completed, rated);  // every completed visit was rated (p = 1)
  EXPECT_EQ(sim.open_jobs(), 0u);
}

TEST_F(AgencySimTest, SameOffersSameAnswersInAnyOrderOtherSeedOtherAnswers) {
  // One offer per agency for each of two orders per agency: capacity (2 or more) never binds,
  // so the arrival order of the offers is all that differs between the runs.
  std::vector<vigil::v1::DispatchOffer> offers;
  for (size_t n = 0; n < 2 * population_.agencies.size(); ++n) {
    const auto& agency = population_.agencies[n % population_.agencies.size()];
    offers.push_back(offer("o-" + std::to_string(n), agency, agency.categories(0), kStart, n));
  }
  auto answers = [&](const SimOptions& options, bool reversed) {
    AgencySimulator sim(population_, options);
    auto ordered = offers;
    if (reversed) std::reverse(ordered.begin(), ordered.end());
    for (const auto& o : ordered) sim.on_offer(o, kStart);
    std::vector<SimRecord> out;
    sim.due(kForever, out);
    std::map<std::string, std::string> by_order;
    for (const Update& u : updates(out)) by_order[u.order_id()] += u.SerializeAsString();
    return by_order;
  };
  const auto forward = answers(options_, false);
  EXPECT_FALSE(forward.empty());
  EXPECT_EQ(forward, answers(options_, true));
  SimOptions other = options_;
  other.seed = 1;
  EXPECT_NE(forward, answers(other, false));
}

TEST_F(AgencySimTest, TimeScaleShortensEveryDelay) {
  SimOptions fast = options_;
  fast.time_scale = 0.1;
  AgencySimulator sim(population_, fast);
  const auto& agency = agency_offering(kEmergencyResponse);
  const auto got = first_completed(sim, agency, kEmergencyResponse, 5);
  ASSERT_EQ(got.size(), 5u);
  const TimeMs offered = kStart + ((to_ms(got[0].ts()) - kStart) / kHour) * kHour;
  EXPECT_LE(to_ms(got[0].ts()) - offered, 1500);                    // 3-15 s scaled
  EXPECT_LE(to_ms(got[4].ts()) - to_ms(got[3].ts()), 2 * kMinute);  // 10-20 min scaled
}

}  // namespace
}  // namespace vigil::sim
