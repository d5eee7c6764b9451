#pragma once
// What vigil knows of one elder: the registry profile and devices, each rule's working state and
// the elder's open alarms. Owned by the elder's shard (one thread, no lock); persisted whole as
// one ElderRecord under e/<elder_id> when dirty at a checkpoint.

#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/clock.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/state.pb.h"

namespace vigil::registry {

inline constexpr TimeMs kNever = std::numeric_limits<TimeMs>::min();
inline constexpr double kDefaultGeofenceM = 500;
inline constexpr const char* kDefaultTimezone = "Asia/Shanghai";

//! Last event time of one device for per-device absence rules.
struct KeyedTime {
  TimeMs seen = 0;
  uint16_t device = 0;  //!< ElderState::device_name index
  bool out = false;     //!< silent past the rule's duration and reported
};

//! The parts of a rule's state only some kinds use; allocated on first use.
struct SlotExtra {
  TimeMs last_unless = kNever;   //!< threshold: last event of an `unless` type
  std::vector<double> data;      //!< fixed size per rule (aggregate buckets, score vitals, ...)
  std::vector<KeyedTime> keyed;  //!< per-device absence: one entry per device seen
};

//! One rule's working state for one elder; which fields mean what depends on the rule's kind
//! (rules/README.md). `generation` invalidates armed timers lazily. Kept small (40 bytes) since
//! every elder holds one per rule of the pack.
struct RuleSlot {
  TimeMs since = 0;         //!< threshold: breach start; sequence: first event; absence: last seen
  TimeMs clear_since = 0;   //!< threshold: back in range since; `at` watch: its close
  TimeMs due = 0;           //!< armed timer's due time, 0 when none
  uint32_t generation = 0;
  uint16_t device = 0;      //!< the device that started the current episode (device_name index)
  std::unique_ptr<SlotExtra> extra;

  RuleSlot() = default;
  RuleSlot(RuleSlot&&) noexcept = default;
  RuleSlot& operator=(RuleSlot&&) noexcept = default;
  RuleSlot(const RuleSlot& o) { *this = o; }
  RuleSlot& operator=(const RuleSlot& o) {
    since = o.since;
    clear_since = o.clear_since;
    due = o.due;
    generation = o.generation;
    device = o.device;
    extra = o.extra ? std::make_unique<SlotExtra>(*o.extra) : nullptr;
    return *this;
  }

  SlotExtra& ext() {
    if (!extra) extra = std::make_unique<SlotExtra>();
    return *extra;
  }
  TimeMs last_unless() const { return extra ? extra->last_unless : kNever; }
  bool no_data() const { return !extra || extra->data.empty(); }
  bool idle() const {
    return since == 0 && clear_since == 0 && due == 0 &&
           (!extra || (extra->last_unless == kNever && extra->data.empty() && extra->keyed.empty()));
  }
};

//! Per-rule alarm bookkeeping (escalations sent, flapping); see engine/alarm/README.md.
struct AlarmMeta {
  uint32_t escalated = 0;
  TimeMs flap_start = 0;
  uint32_t flaps = 0;
  bool held = false;
};

struct ElderState {
  vigil::v1::Elder profile;
  bool registered = false;  //!< false until a registry entry arrived (events still count)
  std::vector<vigil::v1::Device> devices;
  std::vector<RuleSlot> slots;             //!< indexed like the RuleSet's rules
  std::vector<vigil::v1::AlarmEvent> alarms;  //!< open (not CLOSED) alarms, one per rule at most
  std::unordered_map<std::string, uint32_t> alarm_seq;  //!< rule_id -> alarms raised so far
  std::unordered_map<std::string, AlarmMeta> alarm_meta;  //!< rule_id -> bookkeeping
  bool dirty = false;  //!< changed since the last checkpoint
  std::vector<std::string> device_names;  //!< devices seen by rules; slots hold index + 1

  //! The index (from 1) of a device id, added if new; 0 for none or past 255 devices.
  uint16_t intern_device(std::string_view id);
  //! The device id of an index from intern_device ("" for 0).
  const std::string& device_name(uint16_t index) const;

  double geofence_radius_m() const {
    return profile.has_geofence_radius_m() ? profile.geofence_radius_m() : kDefaultGeofenceM;
  }
  const std::string& timezone() const;
};

//! Applies a registry Elder to the state (keeps rule and alarm state).
void apply_profile(ElderState& s, const vigil::v1::Elder& elder);
//! Adds or replaces a device by device_id.
void apply_device(ElderState& s, const vigil::v1::Device& device);

//! Serialises the state; rule slots are written with their rule ids so a changed rule set can
//! map them back (`rule_ids[i]` names slot i).
vigil::state::ElderRecord to_record(const ElderState& s, const std::vector<std::string>& rule_ids);
//! Restores a state; slots of rules that no longer exist are dropped, new rules start empty.
ElderState from_record(const vigil::state::ElderRecord& r, const std::vector<std::string>& rule_ids);

}  // namespace vigil::registry
