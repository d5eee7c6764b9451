#include "engine/sim/population.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/sim/geo.h"
#include "engine/sim/random.h"

namespace vigil::sim {

namespace {

constexpr std::array<const char*, 20> kFamilyNames = {
    "Wang", "Li",  "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu",  "Zhou",
    "Xu",   "Sun", "Ma",    "Zhu", "Hu",   "Guo",  "He",    "Lin",  "Gao", "Luo"};
constexpr std::array<const char*, 20> kGivenNames = {
    "Xiuying", "Guiying",  "Yulan",    "Shufen",  "Guilan",  "Fengying", "Lanying",
    "Jianguo", "Guoqiang", "Zhiqiang", "Jianhua", "Deming",  "Baoshan",  "Yongfu",
    "Meiling", "Huifang",  "Qiming",   "Wenhua",  "Shuzhen", "Changfu"};
constexpr std::array<const char*, 8> kAreas = {"Huangpu", "Jing'an", "Xuhui",  "Changning",
                                               "Putuo",   "Hongkou", "Yangpu", "Pudong"};
constexpr std::array<const char*, 4> kAgencyKinds = {"Home Care", "Community Care", "Care Services",
                                                     "Elder Services"};

//! Medication schedules and how common each is.
struct MedicationPlan {
  double share;
  std::vector<const char*> times;
};
const std::array<MedicationPlan, 4>& medication_plans() {
  static const std::array<MedicationPlan, 4> kPlans = {{
      {0.15, {}},
      {0.20, {"08:00"}},
      {0.45, {"08:00", "20:00"}},
      {0.20, {"07:30", "12:00", "18:30"}},
  }};
  return kPlans;
}

//! How likely each non-wearable device type is to be installed (wearable is always first).
constexpr std::array<double, 7> kInstallWeight = {0, 3, 2, 2, 3, 1.5, 1};

constexpr double kMealServiceShare = 0.3;

//! prefix + n zero-padded to `width` digits: numbered("e", 7, 4) == "e0007".
std::string numbered(const char* prefix, int n, int width) {
  const std::string digits = std::to_string(n);
  const size_t pad = digits.size() < static_cast<size_t>(width) ? width - digits.size() : 0;
  return prefix + std::string(pad, '0') + digits;
}

//! "r1".."r3": the 120-degree compass sector a point lies in, seen from the centre.
std::string region_of(double east_km, double north_km) {
  double angle = std::atan2(north_km, east_km);
  if (angle < 0) angle += 2 * std::numbers::pi;
  const int sector = std::min(2, static_cast<int>(angle / (2 * std::numbers::pi / 3)));
  return "r" + std::to_string(sector + 1);
}

//! Device types for one elder: the wearable, then the others without repeats in a weighted
//! random order (Efraimidis-Spirakis keys), then uniformly random once all seven are used.
std::vector<std::string_view> pick_device_types(int count, SimRandom& rng) {
  std::vector<std::pair<double, std::string_view>> keyed;
  for (size_t t = 1; t < kDeviceTypes.size(); ++t) {
    keyed.emplace_back(rng.exponential(1.0) / kInstallWeight[t], kDeviceTypes[t]);
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::string_view> types = {kDeviceTypes[0]};
  for (const auto& [key, type] : keyed) types.push_back(type);
  types.resize(std::min<size_t>(types.size(), count));
  while (static_cast<int>(types.size()) < count) {
    types.push_back(kDeviceTypes[rng.index(kDeviceTypes.size())]);
  }
  return types;
}

void add_elder(int index, const SimOptions& options, SimRandom& rng, Population& population) {
  vigil::v1::Elder& elder = population.elders.emplace_back();
  const int width = std::max(4, static_cast<int>(std::to_string(options.elders).size()));
  elder.set_elder_id(numbered("e", index + 1, width));
  elder.set_name(std::string(kFamilyNames[rng.index(kFamilyNames.size())]) + " " +
                 kGivenNames[rng.index(kGivenNames.size())]);

  // Uniform over the disk: the radius goes with the square root of a uniform draw.
  const double r = options.district_radius_km * std::sqrt(rng.uniform());
  const double theta = rng.uniform(0, 2 * std::numbers::pi);
  const double east = r * std::cos(theta);
  const double north = r * std::sin(theta);
  const LatLon home = offset_km(options.center_lat, options.center_lon, east, north);
  elder.set_home_lat(home.lat);
  elder.set_home_lon(home.lon);
  elder.set_timezone(std::string(kTimezone));
  elder.set_region(region_of(east, north));

  double draw = rng.uniform();
  for (const MedicationPlan& plan : medication_plans()) {
    draw -= plan.share;
    if (draw < 0) {
      for (const char* time : plan.times) elder.add_medication_times(time);
      break;
    }
  }
  elder.set_meal_service(rng.chance(kMealServiceShare));

  int d = 0;
  for (std::string_view type : pick_device_types(population.devices_per_elder, rng)) {
    vigil::v1::Device& device = population.devices.emplace_back();
    device.set_device_id(elder.elder_id() + "-d" + std::to_string(++d));
    device.set_elder_id(elder.elder_id());
    device.set_type(std::string(type));
  }
}

void add_agency(int index, const SimOptions& options, double rotation, SimRandom& rng,
                Population& population) {
  vigil::v1::Agency& agency = population.agencies.emplace_back();
  agency.set_agency_id(numbered("ag", index + 1, 2));
  std::string name = std::string(kAreas[index % kAreas.size()]) + " " +
                     kAgencyKinds[(index / kAreas.size()) % kAgencyKinds.size()];
  const size_t combos = kAreas.size() * kAgencyKinds.size();
  if (static_cast<size_t>(index) >= combos) name += " " + std::to_string(index / combos + 1);
  agency.set_name(std::move(name));

  // Vogel's sunflower spiral covers a disk evenly with any number of points; the jitter (a
  // fifth of the spacing) keeps it from looking drawn by hand.
  const int n = options.agencies;
  const double golden_angle = std::numbers::pi * (3 - std::sqrt(5.0));
  const double spacing = options.district_radius_km * std::sqrt(std::numbers::pi / n);
  const double r = options.district_radius_km * std::sqrt((index + 0.5) / n);
  const double theta = rotation + index * golden_angle;
  const double east = r * std::cos(theta) + rng.uniform(-0.2, 0.2) * spacing;
  const double north = r * std::sin(theta) + rng.uniform(-0.2, 0.2) * spacing;
  const LatLon at = offset_km(options.center_lat, options.center_lon, east, north);
  agency.set_lat(at.lat);
  agency.set_lon(at.lon);
  agency.set_region(region_of(east, north));

  // Two to four everyday services in random order; every third agency also answers emergencies.
  std::array<std::string_view, kCategories.size() - 1> everyday;
  std::copy(kCategories.begin(), kCategories.end() - 1, everyday.begin());
  for (size_t i = everyday.size() - 1; i > 0; --i) {
    std::swap(everyday[i], everyday[rng.index(i + 1)]);
  }
  const int count = static_cast<int>(rng.uniform_int(2, 4));
  for (int i = 0; i < count; ++i) agency.add_categories(std::string(everyday[i]));
  if (index % 3 == 0) agency.add_categories(std::string(kEmergencyResponse));

  agency.set_capacity(static_cast<int32_t>(rng.uniform_int(2, 6)));
  agency.set_rating(std::round(rng.uniform(3.5, 5.0) * 10) / 10);
  agency.set_active(true);
}

}  // namespace

std::vector<std::pair<std::string, vigil::v1::RegistryUpdate>> Population::registry_updates()
    const {
  std::vector<std::pair<std::string, vigil::v1::RegistryUpdate>> out;
  out.reserve(agencies.size() + elders.size() + devices.size());
  for (const vigil::v1::Agency& agency : agencies) {
    *out.emplace_back(agency.agency_id(), vigil::v1::RegistryUpdate()).second.mutable_agency() =
        agency;
  }
  for (size_t i = 0; i < elders.size(); ++i) {
    *out.emplace_back(elders[i].elder_id(), vigil::v1::RegistryUpdate()).second.mutable_elder() =
        elders[i];
    for (const vigil::v1::Device& device : devices_of(i)) {
      *out.emplace_back(device.elder_id(), vigil::v1::RegistryUpdate()).second.mutable_device() =
          device;
    }
  }
  return out;
}

Population make_population(const SimOptions& options) {
  Population population;
  population.devices_per_elder = std::max(1, options.devices_per_elder);
  const int elders = std::max(0, options.elders);
  const int agencies = std::max(0, options.agencies);
  population.elders.reserve(elders);
  population.devices.reserve(static_cast<size_t>(elders) * population.devices_per_elder);
  population.agencies.reserve(agencies);

  // Elders and agencies draw from separate streams so that changing the number of agencies
  // leaves the elders where they were.
  SimRandom elder_rng(mix64(options.seed ^ 0x656c64657273ULL));
  for (int i = 0; i < elders; ++i) add_elder(i, options, elder_rng, population);
  SimRandom agency_rng(mix64(options.seed ^ 0x6167656e63ULL));
  const double rotation = agency_rng.uniform(0, 2 * std::numbers::pi);
  for (int i = 0; i < agencies; ++i) add_agency(i, options, rotation, agency_rng, population);
  return population;
}

}  // namespace vigil::sim
