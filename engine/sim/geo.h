#pragma once
// Distances and offsets on the Earth's surface for placing elders and agencies and timing
// journeys. Pure functions; any thread.

namespace vigil::sim {

inline constexpr double kEarthRadiusM = 6'371'008.8;  //!< mean Earth radius (IUGG)

//! A WGS84 position in degrees.
struct LatLon {
  double lat = 0;
  double lon = 0;
};

//! Great-circle (haversine) distance in metres between two WGS84 points given in degrees.
double distance_m(double lat1, double lon1, double lat2, double lon2);

//! The point `east_km` east and `north_km` north of (lat, lon), on a local flat approximation
//! (good to well under 1% over a city district).
LatLon offset_km(double lat, double lon, double east_km, double north_km);

}  // namespace vigil::sim
