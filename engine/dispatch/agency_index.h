#pragma once
// The agencies the dispatcher knows, with a Boost.Geometry R-tree over their locations so that
// candidate search visits only agencies near the elder, nearest first. Owned by the dispatcher
// thread.

#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>

#include <string>
#include <unordered_map>
#include <vector>

#include "schemas/state.pb.h"

namespace vigil::dispatch {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

//! Great-circle distance in km.
double haversine_km(double lat1, double lon1, double lat2, double lon2);

struct AgencyEntry {
  vigil::state::AgencyRecord record;
  int pending = 0;  //!< offers out and unanswered: reserved capacity
  bool dirty = false;
  int committed() const { return record.load() + pending; }
  bool has_room() const { return committed() < record.agency().capacity(); }
  bool offers(const std::string& category) const;
};

class AgencyIndex {
 public:
  using Point = bg::model::point<double, 2, bg::cs::spherical_equatorial<bg::degree>>;

  //! Adds or replaces an agency from the registry; keeps its load and offer count.
  void upsert(const vigil::v1::Agency& agency);
  //! Restores an agency from state.
  void restore(const vigil::state::AgencyRecord& record);

  AgencyEntry* find(const std::string& agency_id);

  //! Agencies offering `category` within `radius_km` of (lat, lon), nearest first, with the
  //! distance in km. Capacity is not checked here.
  std::vector<std::pair<AgencyEntry*, double>> within(double lat, double lon, double radius_km,
                                                      const std::string& category);

  template <class Fn>
  void for_each(Fn&& fn) {
    for (auto& e : entries_) fn(e);
  }
  size_t size() const { return entries_.size(); }

 private:
  using Value = std::pair<Point, uint32_t>;
  std::vector<AgencyEntry> entries_;
  std::unordered_map<std::string, uint32_t> by_id_;
  bgi::rtree<Value, bgi::quadratic<16>> tree_;
};

}  // namespace vigil::dispatch
