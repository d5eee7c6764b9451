#pragma once
// The agencies the dispatcher knows, with one Boost.Geometry R-tree per category over their
// locations, so that candidate search visits only agencies of the order's category near the
// elder. Owned by the dispatcher thread.

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
  // Copies of the record.agency() fields ranking reads, beside the load, so that scoring an
  // agency touches this entry and not the separately allocated Agency message.
  int capacity = 0;
  double rating = 0;
  bool active = false;
  bool live = true;  //!< false: erased, its index waits for the next agency

  //! Re-reads the copies; call after changing record.agency().
  void refresh() {
    capacity = record.agency().capacity();
    rating = record.agency().rating();
    active = record.agency().active();
  }
  int committed() const { return record.load() + pending; }
  bool has_room() const { return committed() < capacity; }
};

class AgencyIndex {
 public:
  //! (lon, lat) in degrees. The tree only narrows the search to a box around the circle; the
  //! distance that decides is haversine_km.
  using Point = bg::model::point<double, 2, bg::cs::cartesian>;
  using Box = bg::model::box<Point>;

  //! Adds or replaces an agency from the registry; keeps its load and offer count.
  void upsert(const vigil::v1::Agency& agency);
  //! Restores an agency from state.
  void restore(const vigil::state::AgencyRecord& record);

  AgencyEntry* find(const std::string& agency_id);
  //! Removes an agency (a dispatcher dropping a task's regions); its index is reused by the
  //! next agency added. False if there is none.
  bool erase(const std::string& agency_id);

  //! Agencies offering `category` within `radius_km` of (lat, lon), in no particular order, with
  //! the distance in km, into `out` (cleared first). Capacity is not checked here.
  //! With 0 < search_km < radius_km only the box around the smaller circle of `search_km` is
  //! searched: every agency of the full result that is not returned is farther than search_km,
  //! and those returned carry exactly the distance the full search would give them.
  void within(double lat, double lon, double radius_km, const std::string& category,
              std::vector<std::pair<AgencyEntry*, double>>& out, double search_km = 0);

  template <class Fn>
  void for_each(Fn&& fn) {
    for (auto& e : entries_) {
      if (e.live) fn(e);
    }
  }
  size_t size() const { return by_id_.size(); }

 private:
  using Value = std::pair<Point, uint32_t>;
  using Tree = bgi::rtree<Value, bgi::quadratic<16>>;
  void index(uint32_t idx);
  void unindex(uint32_t idx);

  std::vector<AgencyEntry> entries_;
  std::vector<uint32_t> free_;  //!< indices of erased entries, reused first
  std::unordered_map<std::string, uint32_t> by_id_;
  std::unordered_map<std::string, Tree> trees_;  //!< by category
  std::vector<Value> hits_;                      //!< query scratch, reused
};

}  // namespace vigil::dispatch
