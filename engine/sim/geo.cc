#include "engine/sim/geo.h"

#include <boost/geometry.hpp>
#include <cmath>
#include <numbers>

namespace vigil::sim {

namespace bg = boost::geometry;
using GeoPoint = bg::model::point<double, 2, bg::cs::spherical_equatorial<bg::degree>>;

double distance_m(double lat1, double lon1, double lat2, double lon2) {
  static const bg::strategy::distance::haversine<double> kHaversine(kEarthRadiusM);
  return bg::distance(GeoPoint(lon1, lat1), GeoPoint(lon2, lat2), kHaversine);
}

LatLon offset_km(double lat, double lon, double east_km, double north_km) {
  constexpr double kKmPerDegree = kEarthRadiusM / 1000.0 * std::numbers::pi / 180.0;
  const double cos_lat = std::cos(lat * std::numbers::pi / 180.0);
  return LatLon{lat + north_km / kKmPerDegree, lon + east_km / (kKmPerDegree * cos_lat)};
}

}  // namespace vigil::sim
