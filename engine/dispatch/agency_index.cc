#include "engine/dispatch/agency_index.h"

#include <algorithm>
#include <cmath>

namespace vigil::dispatch {

double haversine_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kEarthKm = 6371.0088;
  constexpr double kRad = M_PI / 180.0;
  double dlat = (lat2 - lat1) * kRad;
  double dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthKm * std::asin(std::min(1.0, std::sqrt(a)));
}

bool AgencyEntry::offers(const std::string& category) const {
  const auto& cats = record.agency().categories();
  return std::find(cats.begin(), cats.end(), category) != cats.end();
}

void AgencyIndex::upsert(const vigil::v1::Agency& agency) {
  auto it = by_id_.find(agency.agency_id());
  if (it == by_id_.end()) {
    vigil::state::AgencyRecord record;
    *record.mutable_agency() = agency;
    restore(record);
    entries_.back().dirty = true;
    return;
  }
  AgencyEntry& e = entries_[it->second];
  const auto& old = e.record.agency();
  if (old.lat() != agency.lat() || old.lon() != agency.lon()) {
    tree_.remove(Value(Point(old.lon(), old.lat()), it->second));
    tree_.insert(Value(Point(agency.lon(), agency.lat()), it->second));
  }
  *e.record.mutable_agency() = agency;
  e.dirty = true;
}

void AgencyIndex::restore(const vigil::state::AgencyRecord& record) {
  const auto& a = record.agency();
  auto idx = static_cast<uint32_t>(entries_.size());
  entries_.push_back(AgencyEntry{record, 0, false});
  by_id_[a.agency_id()] = idx;
  tree_.insert(Value(Point(a.lon(), a.lat()), idx));
}

AgencyEntry* AgencyIndex::find(const std::string& agency_id) {
  auto it = by_id_.find(agency_id);
  return it == by_id_.end() ? nullptr : &entries_[it->second];
}

std::vector<std::pair<AgencyEntry*, double>> AgencyIndex::within(double lat, double lon,
                                                                 double radius_km,
                                                                 const std::string& category) {
  std::vector<std::pair<AgencyEntry*, double>> out;
  const Point center(lon, lat);
  // Nearest-first iteration: stop at the first agency beyond the circle.
  for (auto it = tree_.qbegin(bgi::nearest(center, static_cast<unsigned>(tree_.size())));
       it != tree_.qend(); ++it) {
    AgencyEntry& e = entries_[it->second];
    double d = haversine_km(lat, lon, e.record.agency().lat(), e.record.agency().lon());
    if (d > radius_km) break;
    if (e.offers(category)) out.emplace_back(&e, d);
  }
  return out;
}

}  // namespace vigil::dispatch
