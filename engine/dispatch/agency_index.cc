#include "engine/dispatch/agency_index.h"

#include <algorithm>
#include <cmath>

namespace vigil::dispatch {

double haversine_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthKm = 6371.0088;
  constexpr double kRad = M_PI / 180.0;
  double dlat = (lat2 - lat1) * kRad;
  double dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(lat1 * kRad) *
                                                           std::cos(lat2 * kRad) *
                                                           std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthKm * std::asin(std::min(1.0, std::sqrt(a)));
}

void AgencyIndex::index(uint32_t idx) {
  const auto& a = entries_[idx].record.agency();
  for (const auto& c : a.categories()) trees_[c].insert(Value(Point(a.lon(), a.lat()), idx));
}

void AgencyIndex::unindex(uint32_t idx) {
  const auto& a = entries_[idx].record.agency();
  for (const auto& c : a.categories()) {
    if (auto it = trees_.find(c); it != trees_.end())
      it->second.remove(Value(Point(a.lon(), a.lat()), idx));
  }
}

void AgencyIndex::upsert(const vigil::v1::Agency& agency) {
  auto it = by_id_.find(agency.agency_id());
  if (it == by_id_.end()) {
    vigil::state::AgencyRecord record;
    *record.mutable_agency() = agency;
    restore(record);
    entries_[by_id_.at(agency.agency_id())].dirty = true;
    return;
  }
  AgencyEntry& e = entries_[it->second];
  unindex(it->second);
  *e.record.mutable_agency() = agency;
  e.refresh();
  index(it->second);
  e.dirty = true;
}

void AgencyIndex::restore(const vigil::state::AgencyRecord& record) {
  if (by_id_.count(record.agency().agency_id()) != 0) erase(record.agency().agency_id());
  uint32_t idx;
  if (free_.empty()) {
    idx = static_cast<uint32_t>(entries_.size());
    entries_.push_back(AgencyEntry{record});
  } else {
    idx = free_.back();
    free_.pop_back();
    entries_[idx] = AgencyEntry{record};
  }
  entries_[idx].refresh();
  by_id_[record.agency().agency_id()] = idx;
  index(idx);
}

bool AgencyIndex::erase(const std::string& agency_id) {
  auto it = by_id_.find(agency_id);
  if (it == by_id_.end()) return false;
  const uint32_t idx = it->second;
  unindex(idx);
  by_id_.erase(it);
  entries_[idx] = AgencyEntry{};
  entries_[idx].live = false;
  free_.push_back(idx);
  return true;
}

AgencyEntry* AgencyIndex::find(const std::string& agency_id) {
  auto it = by_id_.find(agency_id);
  return it == by_id_.end() ? nullptr : &entries_[it->second];
}

void AgencyIndex::within(double lat, double lon, double radius_km, const std::string& category,
                         std::vector<std::pair<AgencyEntry*, double>>& out, double search_km) {
  out.clear();
  auto tree = trees_.find(category);
  if (tree == trees_.end()) return;
  // The box around the circle: a degree of latitude is ~111.2 km, one of longitude shrinks
  // with cos(lat). 1% margin so the box never cuts the circle; haversine decides.
  constexpr double kKmPerDegree = 111.19508;
  const double box_km = search_km > 0 && search_km < radius_km ? search_km : radius_km;
  const double dlat = box_km / kKmPerDegree * 1.01;
  const double dlon = dlat / std::max(0.01, std::cos(lat * M_PI / 180.0));
  hits_.clear();
  tree->second.query(
      bgi::intersects(Box(Point(lon - dlon, lat - dlat), Point(lon + dlon, lat + dlat))),
      std::back_inserter(hits_));
  // Equirectangular distance is within 0.01% of haversine at service-circle sizes and needs no
  // trigonometry per agency; haversine decides near the edge so the boundary stays exact.
  constexpr double kRad = M_PI / 180.0;
  const double kx = kKmPerDegree * std::cos(lat * kRad);
  for (const Value& v : hits_) {
    AgencyEntry& e = entries_[v.second];
    const double x = (bg::get<0>(v.first) - lon) * kx;
    const double y = (bg::get<1>(v.first) - lat) * kKmPerDegree;
    double d = std::sqrt(x * x + y * y);
    if (std::abs(d - radius_km) <= radius_km * 0.01) {
      d = haversine_km(lat, lon, e.record.agency().lat(), e.record.agency().lon());
    }
    if (d <= radius_km) out.emplace_back(&e, d);
  }
}

}  // namespace vigil::dispatch
