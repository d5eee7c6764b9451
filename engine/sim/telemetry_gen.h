#pragma once
// The device and call-center side of the simulated world: what the elders' devices report and
// which services the elders phone in for, as records for the telemetry and calls topics.

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

#include "engine/core/clock.h"
#include "engine/sim/population.h"
#include "engine/sim/random.h"
#include "engine/sim/sim_options.h"
#include "engine/sim/sim_record.h"

namespace vigil::sim {

//! Generates DeviceEvents (topic telemetry) and service-request CallEvents (topic calls) for a
//! Population in event time, at SimOptions::events_per_s in all. Routine readings (vitals,
//! motion, location, door and bed, heartbeat, battery, water meter, room temperature) are a
//! Poisson stream spread over the devices; sos, falls, hazards and service requests are rare
//! streams at their per-elder rates, spaced 0.75 to 1.25 mean gaps apart so that a one-minute
//! demo shows close to the expected count; medication-box openings and meal check-ins follow
//! each elder's daily schedule (sometimes missed). A fall is usually followed within 40 s by a
//! fall_cancel or motion; otherwise the elder lies still (no motion) for a few minutes.
//!
//! Deterministic: the same population, options and first `from` give the same records,
//! however the time after it is cut into windows. Owned and used by one thread (the producer
//! loop of `vigil demo` / `vigil simulate`, or a test); it keeps its own copy of what it needs
//! from the Population.
class TelemetryGenerator {
 public:
  TelemetryGenerator(const Population& population, const SimOptions& options);

  //! Appends to `out`, in event-time order, the records whose ts lies in [from, to). The first
  //! call starts the world at `from`; each later call continues where the previous one ended,
  //! so windows are meant to be contiguous. Records due before `from` that were not produced
  //! yet (a gap between windows) are drawn and dropped, which keeps the sequence independent
  //! of the windowing; events are never produced twice.
  void generate(TimeMs from, TimeMs to, std::vector<SimRecord>& out);

 private:
  enum class DeviceKind : uint8_t {
    kWearable,
    kSosButton,
    kBedSensor,
    kDoorSensor,
    kMotionSensor,
    kSmokeDetector,
    kWaterMeter,
    kOther,
  };

  //! What is due next. Streams (routine, sos, fall, hazard, service request, day plan) always
  //! have exactly one entry in the queue; one-off events are pushed when they are decided.
  enum class Due : uint8_t {
    kRoutine,
    kSos,
    kFall,
    kHazard,
    kServiceRequest,
    kDayPlan,
    kFallCancel,   //!< target: elder
    kFallMotion,   //!< target: elder
    kMedication,   //!< target: elder
    kMealCheckin,  //!< target: elder
  };

  struct Pending {
    double t = 0;        //!< event time in ms, fractional so that high rates stay exact
    uint64_t order = 0;  //!< insertion order: breaks ties deterministically
    Due due = Due::kRoutine;
    uint32_t target = 0;
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const {
      return a.t != b.t ? a.t > b.t : a.order > b.order;
    }
  };

  struct ElderState {
    std::string elder_id;
    double lat = 0;
    double lon = 0;
    uint32_t first_device = 0;
    uint32_t sos_device = 0;              //!< an sos_button if installed, else the wearable
    std::vector<int> medication_minutes;  //!< local minutes after midnight
    bool meal_service = false;
    std::vector<std::string> nearby_categories;  //!< everyday services within 1 km
    double heart_rate_base = 0;
    double systolic_base = 0;
    double temperature_base = 0;
    double still_until = 0;  //!< after a fall without recovery: no motion before this time
  };

  struct DeviceState {
    std::string device_id;
    uint32_t elder = 0;
    DeviceKind kind = DeviceKind::kOther;
    uint64_t seq = 0;
    double battery = 100;      //!< percent
    double battery_drain = 0;  //!< percent per hour
    double battery_at = 0;     //!< time of the last battery report, 0 before
    double meter = 0;          //!< water meter reading, m3
    double meter_use = 0;      //!< m3 per hour
    double meter_at = 0;       //!< time of the last meter reading, 0 before
    bool on = false;           //!< door open / out of bed
  };

  void start(TimeMs from);
  void push(double t, Due due, uint32_t target = 0);
  void fire(const Pending& p, std::vector<SimRecord>& out);
  void plan_day(double not_before);
  double mean_gap_ms(double per_elder_per_hour) const;
  double rare_gap(double mean_ms);

  vigil::v1::DeviceEvent& add_device_event(std::vector<SimRecord>& out, double t, uint32_t device,
                                           const char* type);
  void add_reading(std::vector<SimRecord>& out, double t, uint32_t device);
  void add_wearable_reading(std::vector<SimRecord>& out, double t, uint32_t device);
  void add_motion(std::vector<SimRecord>& out, double t, uint32_t device);
  void add_battery(std::vector<SimRecord>& out, double t, uint32_t device);
  void add_service_request(std::vector<SimRecord>& out, double t);

  SimOptions options_;
  std::vector<ElderState> elders_;
  std::vector<DeviceState> devices_;
  std::vector<double> device_weight_sum_;  //!< cumulative routine weight, for picking a device
  std::vector<uint32_t> hazard_devices_;   //!< smoke detectors and water meters
  SimRandom rng_;
  std::priority_queue<Pending, std::vector<Pending>, Later> queue_;
  bool started_ = false;
  double routine_gap_ms_ = 0;  //!< mean gap of each stream; 0 when the stream is off
  double sos_gap_ms_ = 0;
  double fall_gap_ms_ = 0;
  double hazard_gap_ms_ = 0;
  double service_gap_ms_ = 0;
  uint64_t next_order_ = 0;
  uint64_t next_event_ = 1;
  uint64_t next_call_ = 1;
};

}  // namespace vigil::sim
