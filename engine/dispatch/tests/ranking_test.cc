// Candidate ranking with pruning (Dispatcher::rank_candidates scores only the agencies that can
// still make the list) gives exactly the list of scoring every agency in the service circle:
// checked against a brute-force ranking on random worlds with many ties (grid positions, few
// distinct ratings, capacities, loads and offer counts).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/dispatch/dispatcher.h"
#include "engine/egress/sink.h"

namespace vigil::dispatch {
namespace {

constexpr double kLat = 31.2304;
constexpr double kLon = 121.4737;
constexpr double kDegPerKm = 1.0 / 111.19508;
const char* const kCategories[] = {"meal_delivery", "nursing", "emergency_response"};

std::vector<std::string> brute_force(Dispatcher& d, const DispatchConfig& c, const OrderRequest& r) {
  std::vector<std::pair<AgencyEntry*, double>> near;
  const double radius = c.radius_km(r.category);
  d.agencies().within(r.lat, r.lon, radius, r.category, near);
  std::vector<std::tuple<double, uint64_t, std::string>> all;
  for (auto [e, dist] : near) {
    if (!e->active || e->capacity <= 0) continue;
    double score = c.weight_distance * (dist / radius) +
                   c.weight_load * (double(e->committed()) / e->capacity) +
                   c.weight_rating * ((5.0 - std::clamp(e->rating, 0.0, 5.0)) / 5.0);
    all.emplace_back(std::round(score * 1e6) / 1e6, e->record.offers(),
                     e->record.agency().agency_id());
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < all.size() && i < static_cast<size_t>(c.max_candidates); ++i) {
    out.push_back(std::get<2>(all[i]));
  }
  return out;
}

void check_world(uint64_t seed, const DispatchConfig& config, int agencies, double half_km) {
  egress::CollectingSink sink;
  Dispatcher d(config, sink);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> cell(-40, 40), cat(0, 2), cap(0, 4), load(0, 3), offers(0, 2);
  std::uniform_int_distribution<int> rating(3, 5), active(0, 9);
  const double step = half_km / 40;
  for (int i = 0; i < agencies; ++i) {
    vigil::v1::Agency a;
    a.set_agency_id("ag-" + std::to_string(i));
    a.add_categories(kCategories[cat(rng)]);
    a.set_lat(kLat + cell(rng) * step * kDegPerKm);
    a.set_lon(kLon + cell(rng) * step * kDegPerKm / std::cos(kLat * M_PI / 180));
    a.set_capacity(cap(rng));
    a.set_rating(rating(rng));
    a.set_active(active(rng) != 0);
    d.upsert_agency(a);
    AgencyEntry* e = d.agencies().find(a.agency_id());
    e->record.set_load(load(rng));
    e->record.set_offers(static_cast<uint64_t>(offers(rng)));
  }
  size_t compared = 0, nonempty = 0;
  for (int i = 0; i < 300; ++i) {
    OrderRequest r;
    r.order_id = "o" + std::to_string(i);
    r.category = kCategories[i % 3];
    r.has_location = true;
    r.lat = kLat + cell(rng) * step * kDegPerKm;
    r.lon = kLon + cell(rng) * step * kDegPerKm / std::cos(kLat * M_PI / 180);
    auto want = brute_force(d, config, r);
    EXPECT_EQ(d.rank_candidates(r), want) << "seed " << seed << " order " << i;
    ++compared;
    if (!want.empty()) ++nonempty;
  }
  EXPECT_EQ(compared, 300u);
  EXPECT_GT(nonempty, 100u) << "the world should give most orders candidates";
}

TEST(Ranking, PrunedEqualsBruteForceDenseCity) {
  for (uint64_t seed = 1; seed <= 4; ++seed) check_world(seed, DispatchConfig{}, 4000, 12);
}

TEST(Ranking, PrunedEqualsBruteForceOtherWeightsAndListSizes) {
  DispatchConfig c;
  c.weight_distance = 0.1;  // load and rating dominate: the bound prunes little
  c.weight_load = 0.6;
  c.weight_rating = 0.3;
  c.max_candidates = 3;
  check_world(7, c, 3000, 8);
  c.max_candidates = 1;
  check_world(8, c, 3000, 8);
  DispatchConfig zero;
  zero.weight_distance = 0;  // every agency's bound is 0: nothing pruned, still the same list
  check_world(9, zero, 2000, 8);
}

}  // namespace
}  // namespace vigil::dispatch
