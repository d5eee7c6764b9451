#include "engine/registry/profile.h"

#include <cstring>
#include <mutex>
#include <unordered_set>

namespace vigil::registry {

namespace {

//! Timezone names, interned once for the process: a handful of distinct names for a million
//! elders. Looked up only when a profile is assigned (registry records, restores), under a lock
//! since every shard's thread assigns; the strings never move or go away.
const std::string* intern_timezone(const std::string& tz) {
  if (tz.empty()) return nullptr;
  static std::mutex mu;
  static auto* names = new std::unordered_set<std::string>();  // never destroyed: shards may outlive statics
  std::lock_guard<std::mutex> lock(mu);
  return &*names->insert(tz).first;
}

}  // namespace


void Profile::assign(const vigil::v1::Elder& elder) {
  bytes_.clear();
  elder.AppendToString(&bytes_);
  if (bytes_.capacity() > bytes_.size() + 8) bytes_.shrink_to_fit();
  timezone_ = intern_timezone(elder.timezone());
  flags_ = 0;
  if (elder.has_geofence_radius_m()) flags_ |= kGeofence;
  if (elder.meal_service()) flags_ |= kMeal;
  if (elder.medication_times_size() > 0) flags_ |= kMedication;
  if (!elder.overrides().empty()) flags_ |= kOverrides;
}

vigil::v1::Elder Profile::elder() const {
  vigil::v1::Elder e;
  if (!bytes_.empty()) e.ParseFromString(bytes_);
  return e;
}

std::string_view Profile::elder_id() const {
  // Serialised in field order, so the id (field 1) comes first when set.
  if (bytes_.empty() || bytes_[0] != '\x0a') return {};
  size_t at = 0;
  wire::Field f;
  return wire::next(bytes_, &at, &f) ? f.body : std::string_view();
}

const std::string& Profile::timezone() const {
  static const std::string kNone;
  return timezone_ != nullptr ? *timezone_ : kNone;
}

std::string_view Profile::string_field(uint32_t field) const {
  size_t at = 0;
  wire::Field f;
  std::string_view out;
  while (wire::next(bytes_, &at, &f)) {
    if (f.number == field && f.type == 2) out = f.body;  // proto3: the last one wins
  }
  return out;
}

std::optional<double> Profile::double_field(uint32_t field) const {
  size_t at = 0;
  wire::Field f;
  std::optional<double> out;
  while (wire::next(bytes_, &at, &f)) {
    if (f.number == field && f.type == 1) {
      double d;
      std::memcpy(&d, &f.value, sizeof d);
      out = d;
    }
  }
  return out;
}

std::optional<double> Profile::override_value(std::string_view key) const {
  if (!has_overrides()) return std::nullopt;
  size_t at = 0;
  wire::Field f;
  std::optional<double> out;
  while (wire::next(bytes_, &at, &f)) {
    if (f.number != 10 || f.type != 2) continue;
    size_t in = 0;
    wire::Field kv;
    std::string_view k;
    double v = 0;  // a map entry without a value holds the default
    while (wire::next(f.body, &in, &kv)) {
      if (kv.number == 1 && kv.type == 2) k = kv.body;
      if (kv.number == 2 && kv.type == 1) std::memcpy(&v, &kv.value, sizeof v);
    }
    if (k == key) out = v;
  }
  return out;
}

}  // namespace vigil::registry
