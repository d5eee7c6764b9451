#include "engine/sim/telemetry_gen.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <numbers>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/core/time_util.h"
#include "engine/sim/geo.h"

namespace vigil::sim {

namespace {

// Shares of the routine stream: how chatty each kind of device is, relative to the others.
constexpr double kWearableWeight = 6;
constexpr double kMotionSensorWeight = 2;
constexpr double kDoorSensorWeight = 1;
constexpr double kBedSensorWeight = 1;
constexpr double kSosButtonWeight = 0.4;
constexpr double kSmokeDetectorWeight = 0.5;
constexpr double kWaterMeterWeight = 0.5;
constexpr double kOtherWeight = 0.2;

// How often a reading is out of the ordinary (per reading of that type).
constexpr double kHeartRateHighP = 0.003;
constexpr double kHeartRateLowP = 0.001;
constexpr double kSpo2LowP = 0.002;
constexpr double kBloodPressureCrisisP = 0.001;
constexpr double kFeverP = 0.0005;
constexpr double kFastBreathingP = 0.002;
constexpr double kAwayFromHomeP = 0.01;
constexpr double kLowBatteryAtStartP = 0.01;
constexpr double kRechargeP = 0.1;  //!< per battery report below kRechargeBelow
constexpr double kRechargeBelow = 12;

// Rare streams space their events 0.75 to 1.25 mean gaps apart: a Poisson stream at 3 per
// minute would leave one one-minute demo in twenty without any sos, one in five with at most one.
constexpr double kRareGapMin = 0.75;
constexpr double kRareGapMax = 1.25;

// Falls: most elders get up again (fall_cancel or motion within 40 s); the others lie still.
constexpr double kFallRecoveredP = 0.75;
constexpr TimeMs kRecoveryMin = 5 * kSecond;
constexpr TimeMs kRecoveryMax = 40 * kSecond;
constexpr TimeMs kStillMin = 3 * kMinute;
constexpr TimeMs kStillMax = 10 * kMinute;

// Daily routine. All elders live in Asia/Shanghai: UTC+8 all year, no daylight saving time.
constexpr TimeMs kLocalOffset = 8 * kHour;
constexpr TimeMs kDay = 24 * kHour;
constexpr double kMedicationOnTimeP = 0.88;  //!< box opened from 10 min before to 45 min after
constexpr double kMedicationLateP = 0.04;    //!< opened 65..120 min after; else never
constexpr double kMealCheckinP = 0.92;       //!< checked in 11:30..13:15 local; else never

// Service requests: most callers ask for something an agency nearby offers.
constexpr double kNearbyCategoryP = 0.8;
constexpr double kNearbyRadiusM = 1000;
constexpr TimeMs kWindowStartAfter = 30 * kMinute;
constexpr TimeMs kWindowEndAfter = 2 * kHour;
constexpr int kOperators = 4;

constexpr double kPerHourToPerMs = 1.0 / kHour;

struct Notes {
  std::string_view category;
  const char* text;
};
constexpr std::array<Notes, 6> kNotes = {{
    {"meal_delivery", "lunch and dinner, low salt"},
    {"bathing", "needs help getting into the shower"},
    {"cleaning", "kitchen and bathroom"},
    {"nursing", "dressing change on the left leg"},
    {"medical_escort", "follow-up appointment at the district hospital"},
    {"repairs", "bathroom light does not work"},
}};

double round_to(double v, double step) { return std::round(v / step) * step; }

//! Minutes after midnight of a local "HH:MM", or nothing if it is not one.
std::optional<int> minute_of_day(std::string_view hhmm) {
  int hours = -1;
  int minutes = -1;
  if (hhmm.size() != 5 || hhmm[2] != ':' ||
      std::from_chars(hhmm.data(), hhmm.data() + 2, hours).ptr != hhmm.data() + 2 ||
      std::from_chars(hhmm.data() + 3, hhmm.data() + 5, minutes).ptr != hhmm.data() + 5 ||
      hours < 0 || hours > 23 || minutes < 0 || minutes > 59) {
    return std::nullopt;
  }
  return hours * 60 + minutes;
}

}  // namespace

TelemetryGenerator::TelemetryGenerator(const Population& population, const SimOptions& options)
    : options_(options), rng_(mix64(options.seed ^ 0x74656c656d6574ULL)) {
  static constexpr std::array<std::pair<std::string_view, DeviceKind>, 7> kKinds = {{
      {"wearable", DeviceKind::kWearable},
      {"sos_button", DeviceKind::kSosButton},
      {"bed_sensor", DeviceKind::kBedSensor},
      {"door_sensor", DeviceKind::kDoorSensor},
      {"motion_sensor", DeviceKind::kMotionSensor},
      {"smoke_detector", DeviceKind::kSmokeDetector},
      {"water_meter", DeviceKind::kWaterMeter},
  }};

  elders_.reserve(population.elders.size());
  devices_.reserve(population.devices.size());
  device_weight_sum_.reserve(population.devices.size());
  double weight_sum = 0;
  for (size_t e = 0; e < population.elders.size(); ++e) {
    const vigil::v1::Elder& elder = population.elders[e];
    ElderState& state = elders_.emplace_back();
    state.elder_id = elder.elder_id();
    state.lat = elder.home_lat();
    state.lon = elder.home_lon();
    state.first_device = static_cast<uint32_t>(devices_.size());
    state.sos_device = state.first_device;
    for (const std::string& hhmm : elder.medication_times()) {
      if (const auto minute = minute_of_day(hhmm)) state.medication_minutes.push_back(*minute);
    }
    state.meal_service = elder.meal_service();
    for (const vigil::v1::Agency& agency : population.agencies) {
      if (!agency.active() ||
          distance_m(state.lat, state.lon, agency.lat(), agency.lon()) > kNearbyRadiusM) {
        continue;
      }
      for (const std::string& category : agency.categories()) {
        if (category != kEmergencyResponse &&
            std::find(state.nearby_categories.begin(), state.nearby_categories.end(), category) ==
                state.nearby_categories.end()) {
          state.nearby_categories.push_back(category);
        }
      }
    }
    std::sort(state.nearby_categories.begin(), state.nearby_categories.end());
    state.heart_rate_base = rng_.uniform(64, 88);
    state.systolic_base = rng_.uniform(110, 145);
    state.temperature_base = rng_.uniform(36.2, 36.8);

    for (const vigil::v1::Device& device : population.devices_of(e)) {
      const auto index = static_cast<uint32_t>(devices_.size());
      DeviceState& d = devices_.emplace_back();
      d.device_id = device.device_id();
      d.elder = static_cast<uint32_t>(e);
      for (const auto& [name, kind] : kKinds) {
        if (device.type() == name) d.kind = kind;
      }
      d.battery = rng_.chance(kLowBatteryAtStartP) ? rng_.uniform(10, 16) : rng_.uniform(35, 100);
      d.battery_drain = rng_.uniform(0.5, 2.0);
      d.meter = rng_.uniform(50, 800);
      d.meter_use = rng_.uniform(0.004, 0.012);
      double weight = kOtherWeight;
      switch (d.kind) {
        case DeviceKind::kWearable:
          weight = kWearableWeight;
          break;
        case DeviceKind::kSosButton:
          weight = kSosButtonWeight;
          if (devices_[state.sos_device].kind != DeviceKind::kSosButton) {
            state.sos_device = index;
          }
          break;
        case DeviceKind::kBedSensor:
          weight = kBedSensorWeight;
          break;
        case DeviceKind::kDoorSensor:
          weight = kDoorSensorWeight;
          break;
        case DeviceKind::kMotionSensor:
          weight = kMotionSensorWeight;
          break;
        case DeviceKind::kSmokeDetector:
          weight = kSmokeDetectorWeight;
          hazard_devices_.push_back(index);
          break;
        case DeviceKind::kWaterMeter:
          weight = kWaterMeterWeight;
          hazard_devices_.push_back(index);
          break;
        case DeviceKind::kOther:
          break;
      }
      weight_sum += weight;
      device_weight_sum_.push_back(weight_sum);
    }
  }

  // The routine stream takes what the rare streams leave of the aggregate rate (daily
  // medication and meal events, a few per elder per day, are left out of the sum).
  sos_gap_ms_ = mean_gap_ms(options_.sos_per_elder_per_hour);
  fall_gap_ms_ = mean_gap_ms(options_.fall_per_elder_per_hour);
  hazard_gap_ms_ = hazard_devices_.empty() ? 0 : mean_gap_ms(options_.hazard_per_elder_per_hour);
  service_gap_ms_ = mean_gap_ms(options_.service_request_per_elder_per_hour);
  const double rare_per_ms =
      static_cast<double>(elders_.size()) * kPerHourToPerMs *
      (options_.sos_per_elder_per_hour + options_.fall_per_elder_per_hour * (1 + kFallRecoveredP) +
       (hazard_devices_.empty() ? 0 : options_.hazard_per_elder_per_hour) +
       options_.service_request_per_elder_per_hour);
  const double routine_per_ms = options_.events_per_s / 1000.0 - rare_per_ms;
  routine_gap_ms_ = routine_per_ms > 0 && weight_sum > 0 ? 1 / routine_per_ms : 0;
}

double TelemetryGenerator::mean_gap_ms(double per_elder_per_hour) const {
  const double per_ms = static_cast<double>(elders_.size()) * per_elder_per_hour * kPerHourToPerMs;
  return per_ms > 0 ? 1 / per_ms : 0;
}

double TelemetryGenerator::rare_gap(double mean_ms) {
  return mean_ms * rng_.uniform(kRareGapMin, kRareGapMax);
}

void TelemetryGenerator::push(double t, Due due, uint32_t target) {
  queue_.push(Pending{t, next_order_++, due, target});
}

void TelemetryGenerator::start(TimeMs from) {
  started_ = true;
  const auto t0 = static_cast<double>(from);
  const std::array<std::pair<double, Due>, 5> streams = {{{routine_gap_ms_, Due::kRoutine},
                                                          {sos_gap_ms_, Due::kSos},
                                                          {fall_gap_ms_, Due::kFall},
                                                          {hazard_gap_ms_, Due::kHazard},
                                                          {service_gap_ms_, Due::kServiceRequest}}};
  for (const auto& [gap, due] : streams) {
    if (gap <= 0 || elders_.empty()) continue;
    push(t0 + (due == Due::kRoutine ? rng_.exponential(gap) : rng_.uniform(0, gap)), due);
  }
  if (!elders_.empty()) plan_day(t0);
}

void TelemetryGenerator::generate(TimeMs from, TimeMs to, std::vector<SimRecord>& out) {
  if (!started_) start(from);
  const auto end = static_cast<double>(to);
  const auto begin = static_cast<double>(from);
  while (!queue_.empty() && queue_.top().t < end) {
    const Pending p = queue_.top();
    queue_.pop();
    const size_t size = out.size();
    fire(p, out);
    if (p.t < begin) out.resize(size);
  }
}

void TelemetryGenerator::plan_day(double not_before) {
  // Local midnight of the day that contains not_before, in UTC ms.
  const auto local = static_cast<TimeMs>(std::floor(not_before)) + kLocalOffset;
  const TimeMs day_start = local - ((local % kDay) + kDay) % kDay - kLocalOffset;
  for (uint32_t e = 0; e < elders_.size(); ++e) {
    for (int minute : elders_[e].medication_minutes) {
      const double planned = static_cast<double>(day_start + minute * kMinute);
      const double draw = rng_.uniform();
      double t = -1;
      if (draw < kMedicationOnTimeP) {
        t = planned + rng_.uniform(-10, 45) * kMinute;
      } else if (draw < kMedicationOnTimeP + kMedicationLateP) {
        t = planned + rng_.uniform(65, 120) * kMinute;
      }
      if (t >= not_before) push(t, Due::kMedication, e);
    }
    if (elders_[e].meal_service && rng_.chance(kMealCheckinP)) {
      const double t = static_cast<double>(day_start + 11 * kHour + 30 * kMinute) +
                       rng_.uniform(0, 105) * kMinute;
      if (t >= not_before) push(t, Due::kMealCheckin, e);
    }
  }
  push(static_cast<double>(day_start + kDay), Due::kDayPlan);
}

vigil::v1::DeviceEvent& TelemetryGenerator::add_device_event(std::vector<SimRecord>& out, double t,
                                                             uint32_t device, const char* type) {
  DeviceState& d = devices_[device];
  const ElderState& elder = elders_[d.elder];
  SimRecord& record = out.emplace_back();
  record.topic = InTopic::kTelemetry;
  record.key = elder.elder_id;
  record.ts = static_cast<TimeMs>(std::floor(t));
  auto& event = std::get<vigil::v1::DeviceEvent>(record.message);  // a fresh record's default
  event.set_event_id("ev-" + std::to_string(next_event_++));
  event.set_device_id(d.device_id);
  event.set_elder_id(elder.elder_id);
  event.set_type(type);
  set_ts(event.mutable_ts(), record.ts);
  event.set_seq(++d.seq);
  return event;
}

void TelemetryGenerator::fire(const Pending& p, std::vector<SimRecord>& out) {
  switch (p.due) {
    case Due::kRoutine: {
      const double pick = rng_.uniform() * device_weight_sum_.back();
      const auto it = std::upper_bound(device_weight_sum_.begin(), device_weight_sum_.end(), pick);
      const auto device = static_cast<uint32_t>(
          std::min<size_t>(it - device_weight_sum_.begin(), devices_.size() - 1));
      add_reading(out, p.t, device);
      push(p.t + rng_.exponential(routine_gap_ms_), Due::kRoutine);
      return;
    }
    case Due::kSos: {
      const ElderState& elder = elders_[rng_.index(elders_.size())];
      auto& event = add_device_event(out, p.t, elder.sos_device, "sos");
      event.set_value(1);
      event.set_lat(elder.lat);
      event.set_lon(elder.lon);
      push(p.t + rare_gap(sos_gap_ms_), Due::kSos);
      return;
    }
    case Due::kFall: {
      const auto e = static_cast<uint32_t>(rng_.index(elders_.size()));
      ElderState& elder = elders_[e];
      auto& event = add_device_event(out, p.t, elder.first_device, "fall");
      event.set_value(1);
      event.set_lat(elder.lat);
      event.set_lon(elder.lon);
      if (rng_.chance(kFallRecoveredP)) {
        const double after = rng_.uniform(kRecoveryMin, kRecoveryMax);
        push(p.t + after, rng_.chance(0.5) ? Due::kFallCancel : Due::kFallMotion, e);
      } else {
        elder.still_until = std::max(elder.still_until, p.t + rng_.uniform(kStillMin, kStillMax));
      }
      push(p.t + rare_gap(fall_gap_ms_), Due::kFall);
      return;
    }
    case Due::kHazard: {
      const uint32_t device = hazard_devices_[rng_.index(hazard_devices_.size())];
      const char* type = "water_leak";
      if (devices_[device].kind == DeviceKind::kSmokeDetector) {
        const double draw = rng_.uniform();
        type = draw < 0.5 ? "smoke" : draw < 0.75 ? "gas" : "co";
      }
      add_device_event(out, p.t, device, type).set_value(1);
      push(p.t + rare_gap(hazard_gap_ms_), Due::kHazard);
      return;
    }
    case Due::kServiceRequest:
      add_service_request(out, p.t);
      push(p.t + rare_gap(service_gap_ms_), Due::kServiceRequest);
      return;
    case Due::kDayPlan:
      plan_day(p.t);
      return;
    case Due::kFallCancel:
      add_device_event(out, p.t, elders_[p.target].first_device, "fall_cancel");
      return;
    case Due::kFallMotion:
      add_device_event(out, p.t, elders_[p.target].first_device, "motion").set_value(1);
      return;
    case Due::kMedication:
      add_device_event(out, p.t, elders_[p.target].first_device, "medication_box_opened")
          .set_value(1);
      return;
    case Due::kMealCheckin:
      add_device_event(out, p.t, elders_[p.target].first_device, "meal_checkin").set_value(1);
      return;
  }
}

void TelemetryGenerator::add_reading(std::vector<SimRecord>& out, double t, uint32_t device) {
  DeviceState& d = devices_[device];
  const double draw = rng_.uniform();
  switch (d.kind) {
    case DeviceKind::kWearable:
      add_wearable_reading(out, t, device);
      return;
    case DeviceKind::kMotionSensor:
      if (draw < 0.85) return add_motion(out, t, device);
      if (draw < 0.97) break;
      return add_battery(out, t, device);
    case DeviceKind::kDoorSensor:
      if (draw < 0.85) {
        d.on = !d.on;
        add_device_event(out, t, device, d.on ? "door_open" : "door_close").set_value(1);
        return;
      }
      if (draw < 0.95) break;
      return add_battery(out, t, device);
    case DeviceKind::kBedSensor:
      if (draw < 0.5) {
        d.on = !d.on;
        add_device_event(out, t, device, d.on ? "bed_exit" : "bed_enter").set_value(1);
        return;
      }
      if (draw < 0.7) {
        add_device_event(out, t, device, "respiration_rate")
            .set_value(static_cast<double>(rng_.uniform_int(12, 20)));
        return;
      }
      if (draw < 0.95) break;
      return add_battery(out, t, device);
    case DeviceKind::kSosButton:
      if (draw < 0.85) break;
      return add_battery(out, t, device);
    case DeviceKind::kSmokeDetector:
      if (draw < 0.5) {
        add_device_event(out, t, device, "room_temperature")
            .set_value(round_to(rng_.uniform(20, 26), 0.1));
        return;
      }
      if (draw < 0.9) break;
      return add_battery(out, t, device);
    case DeviceKind::kWaterMeter:
      if (draw < 0.8) {
        if (d.meter_at > 0) d.meter += d.meter_use * std::max(0.0, t - d.meter_at) / kHour;
        d.meter_at = t;
        add_device_event(out, t, device, "water_meter").set_value(round_to(d.meter, 0.001));
        return;
      }
      if (draw < 0.95) break;
      return add_battery(out, t, device);
    case DeviceKind::kOther:
      break;
  }
  add_device_event(out, t, device, "heartbeat");
}

void TelemetryGenerator::add_wearable_reading(std::vector<SimRecord>& out, double t,
                                              uint32_t device) {
  const ElderState& elder = elders_[devices_[device].elder];
  const double draw = rng_.uniform();
  if (draw < 0.30) {
    double bpm;
    if (rng_.chance(kHeartRateHighP)) {
      bpm = static_cast<double>(rng_.uniform_int(121, 145));
    } else if (rng_.chance(kHeartRateLowP)) {
      bpm = static_cast<double>(rng_.uniform_int(38, 44));
    } else {
      bpm = std::clamp(std::round(rng_.normal(elder.heart_rate_base, 4)), 55.0, 105.0);
    }
    add_device_event(out, t, device, "heart_rate").set_value(bpm);
  } else if (draw < 0.42) {
    const int64_t spo2 =
        rng_.chance(kSpo2LowP) ? rng_.uniform_int(88, 91) : rng_.uniform_int(95, 99);
    add_device_event(out, t, device, "spo2").set_value(static_cast<double>(spo2));
  } else if (draw < 0.47) {
    double systolic;
    double diastolic;
    if (rng_.chance(kBloodPressureCrisisP)) {
      systolic = static_cast<double>(rng_.uniform_int(180, 200));
      diastolic = static_cast<double>(rng_.uniform_int(95, 125));
    } else {
      systolic = std::clamp(std::round(rng_.normal(elder.systolic_base, 7)), 95.0, 175.0);
      diastolic = std::clamp(std::round(systolic * 0.6 + rng_.normal(6, 4)), 55.0, 110.0);
    }
    auto& event = add_device_event(out, t, device, "blood_pressure");
    event.set_value(systolic);
    event.set_value2(diastolic);
  } else if (draw < 0.52) {
    const double celsius = rng_.chance(kFeverP)
                               ? rng_.uniform(38.0, 38.8)
                               : std::clamp(rng_.normal(elder.temperature_base, 0.2), 35.8, 37.5);
    add_device_event(out, t, device, "body_temperature").set_value(round_to(celsius, 0.1));
  } else if (draw < 0.57) {
    const int64_t rate =
        rng_.chance(kFastBreathingP) ? rng_.uniform_int(24, 28) : rng_.uniform_int(12, 20);
    add_device_event(out, t, device, "respiration_rate").set_value(static_cast<double>(rate));
  } else if (draw < 0.79) {
    add_motion(out, t, device);
  } else if (draw < 0.87) {
    // Mostly at home; now and then a walk far enough to leave the 500 m geofence.
    const double km = rng_.chance(kAwayFromHomeP) ? rng_.uniform(0.6, 1.5) : rng_.uniform(0, 0.15);
    const double bearing = rng_.uniform(0, 2 * std::numbers::pi);
    const LatLon at =
        offset_km(elder.lat, elder.lon, km * std::cos(bearing), km * std::sin(bearing));
    auto& event = add_device_event(out, t, device, "location");
    event.set_lat(at.lat);
    event.set_lon(at.lon);
  } else if (draw < 0.975) {
    add_device_event(out, t, device, "heartbeat");
  } else {
    add_battery(out, t, device);
  }
}

void TelemetryGenerator::add_motion(std::vector<SimRecord>& out, double t, uint32_t device) {
  // An elder lying still after a fall moves nothing: the sensor only checks in.
  if (t < elders_[devices_[device].elder].still_until) {
    add_device_event(out, t, device, "heartbeat");
    return;
  }
  add_device_event(out, t, device, "motion").set_value(1);
}

void TelemetryGenerator::add_battery(std::vector<SimRecord>& out, double t, uint32_t device) {
  DeviceState& d = devices_[device];
  if (d.battery_at > 0) d.battery -= d.battery_drain * std::max(0.0, t - d.battery_at) / kHour;
  d.battery_at = t;
  d.battery = std::max(d.battery, 1.0);
  if (d.battery < kRechargeBelow && rng_.chance(kRechargeP)) d.battery = 100;
  add_device_event(out, t, device, "battery").set_value(std::round(d.battery));
}

void TelemetryGenerator::add_service_request(std::vector<SimRecord>& out, double t) {
  const ElderState& elder = elders_[rng_.index(elders_.size())];
  std::string_view category;
  if (!elder.nearby_categories.empty() && rng_.chance(kNearbyCategoryP)) {
    category = elder.nearby_categories[rng_.index(elder.nearby_categories.size())];
  } else {
    category = kNotes[rng_.index(kNotes.size())].category;
  }
  const char* notes = "";
  for (const Notes& n : kNotes) {
    if (n.category == category) notes = n.text;
  }

  SimRecord& record = out.emplace_back();
  record.topic = InTopic::kCalls;
  record.key = elder.elder_id;
  record.ts = static_cast<TimeMs>(std::floor(t));
  auto& call = record.message.emplace<vigil::v1::CallEvent>();
  call.set_call_id("c-" + std::to_string(next_call_++));
  call.set_elder_id(elder.elder_id);
  call.set_operator_id("op-0" + std::to_string(rng_.uniform_int(1, kOperators)));
  set_ts(call.mutable_ts(), record.ts);
  auto* request = call.mutable_service_request();
  request->set_category(std::string(category));
  set_ts(request->mutable_window_start(), record.ts + kWindowStartAfter);
  set_ts(request->mutable_window_end(), record.ts + kWindowEndAfter);
  request->set_notes(notes);
  request->set_priority(vigil::v1::NORMAL);
}

}  // namespace vigil::sim
