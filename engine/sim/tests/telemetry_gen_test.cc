#include "engine/sim/telemetry_gen.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "engine/codec/codec.h"
#include "engine/core/time_util.h"

namespace vigil::sim {
namespace {

constexpr TimeMs kStart = 1'767'225'600'000;  // 2026-01-01T00:00:00Z, 08:00 in Shanghai

std::string serialized(const std::vector<SimRecord>& records) {
  std::string out;
  for (const SimRecord& r : records) {
    out += std::to_string(static_cast<int>(r.topic)) + "|" + r.key + "|" + std::to_string(r.ts) +
           "|" + r.proto().SerializeAsString() + "\n";
  }
  return out;
}

std::vector<SimRecord> run(const SimOptions& options, TimeMs duration, TimeMs step) {
  const Population population = make_population(options);
  TelemetryGenerator generator(population, options);
  std::vector<SimRecord> out;
  for (TimeMs t = kStart; t < kStart + duration; t += step) {
    generator.generate(t, std::min(t + step, kStart + duration), out);
  }
  return out;
}

SimOptions small() {
  SimOptions options;
  options.elders = 30;
  options.events_per_s = 50;
  return options;
}

TEST(TelemetryGenerator, SameSeedSameBytes) {
  const auto a = run(small(), 10 * kMinute, 10 * kMinute);
  const auto b = run(small(), 10 * kMinute, 10 * kMinute);
  ASSERT_GT(a.size(), 20'000u);
  EXPECT_EQ(serialized(a), serialized(b));
}

TEST(TelemetryGenerator, OutputDoesNotDependOnHowTimeIsCutIntoWindows) {
  const auto whole = run(small(), 10 * kMinute, 10 * kMinute);
  const auto pieces = run(small(), 10 * kMinute, 7 * kSecond + 3);
  EXPECT_EQ(serialized(whole), serialized(pieces));
}

TEST(TelemetryGenerator, OtherSeedOtherSequence) {
  SimOptions other = small();
  other.seed = 7;
  EXPECT_NE(serialized(run(small(), kMinute, kMinute)), serialized(run(other, kMinute, kMinute)));
}

TEST(TelemetryGenerator, GapBetweenWindowsIsSkippedNotReplayed) {
  const SimOptions options = small();
  const Population population = make_population(options);
  TelemetryGenerator generator(population, options);
  std::vector<SimRecord> out;
  generator.generate(kStart, kStart + kMinute, out);
  const size_t first = out.size();
  generator.generate(kStart + 2 * kMinute, kStart + 3 * kMinute, out);
  ASSERT_GT(out.size(), first);
  for (size_t i = first; i < out.size(); ++i) {
    EXPECT_GE(out[i].ts, kStart + 2 * kMinute);
    EXPECT_LT(out[i].ts, kStart + 3 * kMinute);
  }
  // Same records as an unbroken run, minus the gap.
  auto unbroken = run(options, 3 * kMinute, kMinute);
  std::erase_if(unbroken, [](const SimRecord& r) {
    return r.ts >= kStart + kMinute && r.ts < kStart + 2 * kMinute;
  });
  EXPECT_EQ(serialized(out), serialized(unbroken));
}

TEST(TelemetryGenerator, RecordsAreValidOrderedAndConsistent) {
  const SimOptions options = small();
  const Population population = make_population(options);
  std::map<std::string, std::string> elder_of_device;
  for (const auto& d : population.devices) elder_of_device[d.device_id()] = d.elder_id();

  const auto records = run(options, 30 * kMinute, kMinute);
  std::set<std::string> event_ids;
  std::map<std::string, uint64_t> last_seq;
  TimeMs last_ts = kStart;
  for (const SimRecord& r : records) {
    ASSERT_GE(r.ts, last_ts);
    ASSERT_LT(r.ts, kStart + 30 * kMinute);
    last_ts = r.ts;
    if (r.topic == InTopic::kTelemetry) {
      const auto& e = std::get<vigil::v1::DeviceEvent>(r.message);
      ASSERT_TRUE(codec::validate(e));
      EXPECT_EQ(to_ms(e.ts()), r.ts);
      EXPECT_EQ(r.key, e.elder_id());
      EXPECT_EQ(elder_of_device.at(e.device_id()), e.elder_id());
      EXPECT_TRUE(event_ids.insert(e.event_id()).second) << e.event_id();
      EXPECT_GT(e.seq(), last_seq[e.device_id()]) << e.device_id();
      last_seq[e.device_id()] = e.seq();
    } else {
      ASSERT_EQ(r.topic, InTopic::kCalls);
      const auto& c = std::get<vigil::v1::CallEvent>(r.message);
      ASSERT_TRUE(codec::validate(c));
      EXPECT_EQ(to_ms(c.ts()), r.ts);
      EXPECT_EQ(r.key, c.elder_id());
    }
  }
  EXPECT_EQ(*event_ids.begin(), "ev-1");
}

// One simulated hour of the demo world, counted by type.
struct HourCounts {
  int64_t total = 0;
  int64_t heart_rate_in_range = 0;
  std::map<std::string, int> types;
  std::vector<vigil::v1::CallEvent> calls;
  std::vector<std::pair<std::string, TimeMs>> falls;      //!< (elder, ts)
  std::map<std::string, std::vector<TimeMs>> recoveries;  //!< fall_cancel and motion, by elder

  int count(const std::string& type) const {
    const auto it = types.find(type);
    return it == types.end() ? 0 : it->second;
  }
};

HourCounts count_demo_hour() {
  const SimOptions options;
  const Population population = make_population(options);
  TelemetryGenerator generator(population, options);
  HourCounts counts;
  std::vector<SimRecord> out;
  for (TimeMs t = kStart; t < kStart + kHour; t += kMinute) {
    out.clear();
    generator.generate(t, t + kMinute, out);
    for (const SimRecord& r : out) {
      ++counts.total;
      if (r.topic == InTopic::kCalls) {
        counts.calls.push_back(std::get<vigil::v1::CallEvent>(r.message));
        continue;
      }
      const auto& e = std::get<vigil::v1::DeviceEvent>(r.message);
      ++counts.types[e.type()];
      if (e.type() == "heart_rate") {
        counts.heart_rate_in_range += e.value() >= 55 && e.value() <= 105;
      }
      if (e.type() == "fall") counts.falls.emplace_back(e.elder_id(), r.ts);
      if (e.type() == "fall_cancel" || e.type() == "motion") {
        counts.recoveries[e.elder_id()].push_back(r.ts);
      }
    }
  }
  return counts;
}

//! Counted once for all the DemoHour tests.
const HourCounts& demo_hour() {
  static const HourCounts kCounts = count_demo_hour();
  return kCounts;
}

TEST(DemoHour, AggregateRateIsAsConfigured) {
  const HourCounts& h = demo_hour();
  // 200 events/s for 3600 s; Poisson sd ~850.
  EXPECT_NEAR(h.total, 720'000, 720'000 * 0.02);
}

TEST(DemoHour, RareEventsComeAtTheirPerElderRates) {
  const HourCounts& h = demo_hour();
  // Expected per hour with 200 elders: sos 180, falls 120, service requests 180, hazards 2.
  EXPECT_GT(h.count("sos"), 180 * 0.85);
  EXPECT_LT(h.count("sos"), 180 * 1.15);
  EXPECT_GT(h.count("fall"), 120 * 0.85);
  EXPECT_LT(h.count("fall"), 120 * 1.15);
  EXPECT_GT(h.calls.size(), 180 * 0.85);
  EXPECT_LT(h.calls.size(), 180 * 1.15);
  EXPECT_LE(h.count("smoke") + h.count("gas") + h.count("co") + h.count("water_leak"), 12);
  EXPECT_GT(h.count("fall_cancel"), 0);
}

TEST(DemoHour, RoutineReadingsDominateTheMix) {
  const HourCounts& h = demo_hour();
  const int vitals = h.count("heart_rate") + h.count("spo2") + h.count("blood_pressure") +
                     h.count("body_temperature") + h.count("respiration_rate");
  EXPECT_GT(vitals, h.total / 4);
  for (const char* type : {"heart_rate", "spo2", "blood_pressure", "body_temperature", "motion",
                           "heartbeat", "battery", "location", "door_open", "door_close",
                           "bed_exit", "bed_enter", "water_meter", "room_temperature"}) {
    EXPECT_GT(h.count(type), 100) << type;
  }
  EXPECT_GT(h.count("heart_rate"), 20 * h.count("sos"));
  // Normal heart rates, with rare excursions.
  EXPECT_GT(h.heart_rate_in_range, h.count("heart_rate") * 0.99);
  EXPECT_LT(h.heart_rate_in_range, h.count("heart_rate"));
}

TEST(DemoHour, MostFallsRecoverWithinAMinuteSomeDoNot) {
  const HourCounts& h = demo_hour();
  int recovered = 0;
  for (const auto& [elder, at] : h.falls) {
    const auto it = h.recoveries.find(elder);
    if (it == h.recoveries.end()) continue;
    recovered += std::any_of(it->second.begin(), it->second.end(),
                             [at = at](TimeMs t) { return t > at && t <= at + kMinute; });
  }
  ASSERT_FALSE(h.falls.empty());
  EXPECT_GT(recovered, static_cast<int>(h.falls.size() * 0.6));
  EXPECT_LT(recovered, static_cast<int>(h.falls.size()));
}

TEST(DemoHour, ServiceRequestsAreWellFormed) {
  const HourCounts& h = demo_hour();
  std::set<std::string> call_ids;
  for (const auto& call : h.calls) {
    EXPECT_TRUE(call_ids.insert(call.call_id()).second);
    EXPECT_EQ(call.call_id().rfind("c-", 0), 0u);
    ASSERT_TRUE(call.has_service_request());
    const auto& request = call.service_request();
    EXPECT_NE(request.category(), kEmergencyResponse);
    EXPECT_NE(std::find(kCategories.begin(), kCategories.end(), request.category()),
              kCategories.end());
    EXPECT_EQ(to_ms(request.window_start()), to_ms(call.ts()) + 30 * kMinute);
    EXPECT_EQ(to_ms(request.window_end()), to_ms(call.ts()) + 2 * kHour);
    EXPECT_EQ(request.priority(), vigil::v1::NORMAL);
  }
  EXPECT_TRUE(call_ids.count("c-1"));
}

TEST(TelemetryGenerator, EveryOneMinuteDemoShowsAFewSosFallsAndServiceRequests) {
  // Expected per minute with the defaults: 3 sos, 2 falls, 3 service requests.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimOptions options;
    options.seed = seed;
    int sos = 0;
    int falls = 0;
    int calls = 0;
    for (const SimRecord& r : run(options, kMinute, kMinute)) {
      if (r.topic == InTopic::kCalls) {
        ++calls;
        continue;
      }
      const std::string& type = std::get<vigil::v1::DeviceEvent>(r.message).type();
      sos += type == "sos";
      falls += type == "fall";
    }
    EXPECT_GE(sos, 2) << "seed " << seed;
    EXPECT_LE(sos, 4) << "seed " << seed;
    EXPECT_GE(falls, 1) << "seed " << seed;
    EXPECT_LE(falls, 3) << "seed " << seed;
    EXPECT_GE(calls, 2) << "seed " << seed;
    EXPECT_LE(calls, 4) << "seed " << seed;
  }
}

TEST(TelemetryGenerator, DailyMedicationAndMealEventsFollowTheLocalSchedule) {
  SimOptions options;
  options.elders = 40;
  options.events_per_s = 2;
  const Population population = make_population(options);
  std::map<std::string, const vigil::v1::Elder*> elders;
  for (const auto& e : population.elders) elders[e.elder_id()] = &e;

  const auto records = run(options, 24 * kHour, kHour);
  int medication = 0;
  int meals = 0;
  int scheduled_doses = 0;
  for (const auto& e : population.elders) scheduled_doses += e.medication_times_size();
  for (const SimRecord& r : records) {
    if (r.topic != InTopic::kTelemetry) continue;
    const auto& e = std::get<vigil::v1::DeviceEvent>(r.message);
    const TimeMs local_minute = ((r.ts + 8 * kHour) % (24 * kHour)) / kMinute;
    const vigil::v1::Elder& elder = *elders.at(e.elder_id());
    if (e.type() == "medication_box_opened") {
      ++medication;
      bool near_a_dose = false;
      for (const std::string& hhmm : elder.medication_times()) {
        const int dose = std::stoi(hhmm.substr(0, 2)) * 60 + std::stoi(hhmm.substr(3, 2));
        near_a_dose |= local_minute >= dose - 10 && local_minute <= dose + 120;
      }
      EXPECT_TRUE(near_a_dose) << e.elder_id() << " at local minute " << local_minute;
    } else if (e.type() == "meal_checkin") {
      ++meals;
      EXPECT_TRUE(elder.meal_service());
      EXPECT_GE(local_minute, 11 * 60 + 30);
      EXPECT_LE(local_minute, 13 * 60 + 15);
    }
  }
  // The run covers one day (08:00 to 08:00 local): about one opening per scheduled dose, less
  // the 12% missed.
  EXPECT_GT(medication, scheduled_doses / 2);
  EXPECT_LT(medication, scheduled_doses * 1.2);
  EXPECT_GT(meals, 0);
}

}  // namespace
}  // namespace vigil::sim
