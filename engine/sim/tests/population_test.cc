#include "engine/sim/population.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "engine/sim/geo.h"

namespace vigil::sim {
namespace {

bool offers(const vigil::v1::Agency& agency, std::string_view category) {
  return std::find(agency.categories().begin(), agency.categories().end(), category) !=
         agency.categories().end();
}

std::string serialized(const Population& population) {
  std::string out;
  for (const auto& [key, update] : population.registry_updates()) {
    out += key;
    out += update.SerializeAsString();
  }
  return out;
}

TEST(Population, DefaultCountsAndIds) {
  const Population p = make_population(SimOptions{});
  ASSERT_EQ(p.elders.size(), 200u);
  ASSERT_EQ(p.devices.size(), 800u);
  ASSERT_EQ(p.agencies.size(), 12u);
  EXPECT_EQ(p.elders.front().elder_id(), "e0001");
  EXPECT_EQ(p.elders.back().elder_id(), "e0200");
  EXPECT_EQ(p.agencies.front().agency_id(), "ag01");
  EXPECT_EQ(p.agencies.back().agency_id(), "ag12");

  std::set<std::string> device_ids;
  for (size_t e = 0; e < p.elders.size(); ++e) {
    const auto devices = p.devices_of(e);
    ASSERT_EQ(devices.size(), 4u);
    EXPECT_EQ(devices[0].type(), "wearable");
    for (size_t d = 0; d < devices.size(); ++d) {
      EXPECT_EQ(devices[d].elder_id(), p.elders[e].elder_id());
      EXPECT_EQ(devices[d].device_id(), p.elders[e].elder_id() + "-d" + std::to_string(d + 1));
      EXPECT_NE(std::find(kDeviceTypes.begin(), kDeviceTypes.end(), devices[d].type()),
                kDeviceTypes.end())
          << devices[d].type();
      device_ids.insert(devices[d].device_id());
    }
  }
  EXPECT_EQ(device_ids.size(), 800u);
}

TEST(Population, ElderIdsWidenBeyondNineThousandNineHundredNinetyNine) {
  SimOptions options;
  options.elders = 12000;
  options.devices_per_elder = 1;
  const Population p = make_population(options);
  EXPECT_EQ(p.elders.front().elder_id(), "e00001");
  EXPECT_EQ(p.elders.back().elder_id(), "e12000");
}

TEST(Population, EldersLiveInTheDistrictWithPlausibleAttributes) {
  const SimOptions options;
  const Population p = make_population(options);
  std::set<std::string> regions;
  int meal_service = 0;
  int with_medication = 0;
  for (const auto& elder : p.elders) {
    EXPECT_LE(
        distance_m(options.center_lat, options.center_lon, elder.home_lat(), elder.home_lon()),
        options.district_radius_km * 1000 * 1.01);
    EXPECT_EQ(elder.timezone(), "Asia/Shanghai");
    EXPECT_FALSE(elder.name().empty());
    regions.insert(elder.region());
    meal_service += elder.meal_service();
    with_medication += elder.medication_times_size() > 0;
    for (const std::string& hhmm : elder.medication_times()) {
      EXPECT_EQ(hhmm.size(), 5u);
      EXPECT_EQ(hhmm[2], ':');
    }
  }
  EXPECT_EQ(regions, (std::set<std::string>{"r1", "r2", "r3"}));
  EXPECT_GT(meal_service, 20);
  EXPECT_LT(meal_service, 120);
  EXPECT_GT(with_medication, 100);
}

TEST(Population, AgenciesAreValidAndAThirdAnswerEmergencies) {
  const Population p = make_population(SimOptions{});
  int emergency = 0;
  for (const auto& agency : p.agencies) {
    EXPECT_TRUE(agency.active());
    EXPECT_GE(agency.capacity(), 2);
    EXPECT_LE(agency.capacity(), 6);
    EXPECT_GE(agency.rating(), 3.5);
    EXPECT_LE(agency.rating(), 5.0);
    EXPECT_FALSE(agency.name().empty());
    EXPECT_GE(agency.categories_size(), 2);
    for (const std::string& category : agency.categories()) {
      EXPECT_NE(std::find(kCategories.begin(), kCategories.end(), category), kCategories.end())
          << category;
    }
    emergency += offers(agency, kEmergencyResponse);
  }
  EXPECT_GE(emergency * 3, static_cast<int>(p.agencies.size()));
}

TEST(Population, EveryElderHasEmergencyResponseWithinTenKmAndMostAnAgencyWithinOneKm) {
  const Population p = make_population(SimOptions{});
  int within_1km = 0;
  for (const auto& elder : p.elders) {
    double nearest_emergency = 1e12;
    double nearest_any = 1e12;
    for (const auto& agency : p.agencies) {
      const double d = distance_m(elder.home_lat(), elder.home_lon(), agency.lat(), agency.lon());
      nearest_any = std::min(nearest_any, d);
      if (offers(agency, kEmergencyResponse)) nearest_emergency = std::min(nearest_emergency, d);
    }
    EXPECT_LE(nearest_emergency, 10'000) << elder.elder_id();
    within_1km += nearest_any <= 1000;
  }
  EXPECT_GE(within_1km, 140) << "of 200 elders have an agency within 1 km";
}

TEST(Population, SameSeedSameWorldOtherSeedOtherWorld) {
  SimOptions options;
  const std::string a = serialized(make_population(options));
  EXPECT_EQ(a, serialized(make_population(options)));
  options.seed = 43;
  EXPECT_NE(a, serialized(make_population(options)));
}

TEST(Population, RegistryUpdatesCoverEverythingWithTheirKeys) {
  const Population p = make_population(SimOptions{});
  const auto updates = p.registry_updates();
  ASSERT_EQ(updates.size(), 12u + 200u + 800u);
  int elders = 0;
  int devices = 0;
  int agencies = 0;
  for (const auto& [key, update] : updates) {
    switch (update.entry_case()) {
      case vigil::v1::RegistryUpdate::kElder:
        ++elders;
        EXPECT_EQ(key, update.elder().elder_id());
        break;
      case vigil::v1::RegistryUpdate::kDevice:
        ++devices;
        EXPECT_EQ(key, update.device().elder_id());
        break;
      case vigil::v1::RegistryUpdate::kAgency:
        ++agencies;
        EXPECT_EQ(key, update.agency().agency_id());
        break;
      case vigil::v1::RegistryUpdate::ENTRY_NOT_SET:
        ADD_FAILURE() << "empty update for " << key;
    }
  }
  EXPECT_EQ(elders, 200);
  EXPECT_EQ(devices, 800);
  EXPECT_EQ(agencies, 12);
}

}  // namespace
}  // namespace vigil::sim
