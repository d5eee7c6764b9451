// Candidate selection with 10,000 agencies (issue 5: under 20 us per dispatch decision).
//
// The world: 10,000 agencies spread uniformly over a 40 km x 40 km city centred on Shanghai,
// each offering one or two of the seven categories (emergency_response about one in ten),
// capacity 1-5, rating 3-5. Orders come from 1,024 elders placed uniformly over the same area.
// Fixed seed, so every run measures the same world.
//
//   BM_RankCandidates/<category>  R-tree search of the service circle, scoring and ranking
//                                 (meal_delivery: 1 km walking circle; emergency_response:
//                                 10 km vehicle circle).
//   BM_DispatchDecision           a whole decision: create_order (rank, first offer, tracking
//                                 records into a null sink), then CANCEL to free the place.

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/snapshot_util.h"
#include "engine/dispatch/dispatcher.h"

namespace vigil::dispatch {
namespace {

constexpr double kCenterLat = 31.2304;
constexpr double kCenterLon = 121.4737;
constexpr double kHalfSideKm = 20;
constexpr double kDegLatPerKm = 1 / 111.195;
constexpr int kAgencies = 10'000;
constexpr int kElders = 1'024;
constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z

const char* const kCategories[] = {"meal_delivery",  "bathing", "cleaning",          "nursing",
                                   "medical_escort", "repairs", "emergency_response"};

class NullSink final : public egress::Sink {
 public:
  void emit(OutTopic, std::string_view, const google::protobuf::Message&) override {}
  Status flush(int) override { return ok(); }
};

struct World {
  NullSink sink;
  Dispatcher dispatcher{DispatchConfig{}, sink};
  std::vector<std::pair<double, double>> elders;

  World() {
    std::mt19937_64 rng(20260301);
    std::uniform_real_distribution<double> km(-kHalfSideKm, kHalfSideKm);
    const double deg_lon_per_km = kDegLatPerKm / std::cos(kCenterLat * M_PI / 180);
    auto place = [&] {
      return std::make_pair(kCenterLat + km(rng) * kDegLatPerKm,
                            kCenterLon + km(rng) * deg_lon_per_km);
    };
    std::uniform_int_distribution<int> everyday(0, 5), cap(1, 5);
    std::uniform_real_distribution<double> rating(3, 5), unit(0, 1);
    for (int i = 0; i < kAgencies; ++i) {
      vigil::v1::Agency a;
      a.set_agency_id("ag-" + std::to_string(i));
      a.set_name(a.agency_id());
      a.set_region("r1");
      if (unit(rng) < 0.1) {
        a.add_categories("emergency_response");
      } else {
        const int first = everyday(rng);
        a.add_categories(kCategories[first]);
        if (unit(rng) < 0.5) a.add_categories(kCategories[(first + 1 + everyday(rng) % 5) % 6]);
      }
      auto [lat, lon] = place();
      a.set_lat(lat);
      a.set_lon(lon);
      a.set_capacity(cap(rng));
      a.set_rating(rating(rng));
      a.set_active(unit(rng) < 0.95);
      dispatcher.upsert_agency(a);
    }
    for (int i = 0; i < kElders; ++i) elders.push_back(place());
  }

  OrderRequest request(int i, const char* category) const {
    OrderRequest r;
    r.order_id = "o-" + std::to_string(i);
    r.elder_id = "e-" + std::to_string(i % kElders);
    r.category = category;
    r.priority = std::string_view(category) == "emergency_response" ? vigil::v1::EMERGENCY
                                                                    : vigil::v1::NORMAL;
    r.has_location = true;
    r.lat = elders[static_cast<size_t>(i % kElders)].first;
    r.lon = elders[static_cast<size_t>(i % kElders)].second;
    r.created = kT0;
    r.window_start = kT0;
    return r;
  }
};

World& world() {
  static World w;
  return w;
}

void BM_RankCandidates(benchmark::State& state, const char* category) {
  World& w = world();
  std::vector<OrderRequest> requests;
  for (int i = 0; i < kElders; ++i) requests.push_back(w.request(i, category));
  size_t i = 0, candidates = 0;
  for (auto _ : state) {
    auto ranked = w.dispatcher.rank_candidates(requests[i++ % requests.size()]);
    candidates += ranked.size();
    benchmark::DoNotOptimize(ranked.data());
  }
  state.counters["candidates"] =
      benchmark::Counter(static_cast<double>(candidates) / static_cast<double>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_RankCandidates, meal_delivery, "meal_delivery")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RankCandidates, emergency_response, "emergency_response")
    ->Unit(benchmark::kMicrosecond);

void BM_DispatchDecision(benchmark::State& state, const char* category) {
  World& w = world();
  static int serial = 0;
  OrderActionRequest cancel;
  cancel.action.set_action(vigil::v1::OrderAction::CANCEL);
  for (auto _ : state) {
    OrderRequest r = w.request(serial++, category);
    w.dispatcher.create_order(r, kT0);
    cancel.elder_id = r.elder_id;
    cancel.action.set_order_id(r.order_id);
    benchmark::DoNotOptimize(w.dispatcher.on_order_action(cancel, kT0));
  }
}
// Every decision keeps its order in memory, so the iteration count is bounded.
BENCHMARK_CAPTURE(BM_DispatchDecision, meal_delivery, "meal_delivery")
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20'000);
BENCHMARK_CAPTURE(BM_DispatchDecision, emergency_response, "emergency_response")
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(20'000);

//! A checkpoint's snapshot on the dispatch thread: 10,000 orders created since the last (the
//! standard bench's order rate, its event time compressed, gives ~10,000 a checkpoint), each
//! with its offer and tracking history, then collect_dirty() serialises every one of them.
void BM_SnapshotDirtyOrders(benchmark::State& state) {
  World& w = world();
  static int serial = 1'000'000;
  const int orders = static_cast<int>(state.range(0));
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < orders; ++i) {
      w.dispatcher.create_order(w.request(serial++, kCategories[i % 7]), kT0);
    }
    bytes += vigil::bench::timed_collect(state, w.dispatcher);
    state.ResumeTiming();
  }
  vigil::bench::per_item_counters(state, "order", orders, bytes);
}
BENCHMARK(BM_SnapshotDirtyOrders)->Arg(10'000)->Iterations(10)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::dispatch
