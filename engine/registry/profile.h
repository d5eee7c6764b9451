#pragma once
// An elder's registry profile as the shard keeps it (issue #6, memory): the `Elder` message's
// serialised bytes (exactly what p/ stores as ElderRecord field 1) and the interned timezone,
// instead of an `Elder` proto (232 bytes of object and a heap string per field). Readers decode
// the field they need from the bytes; the elder id is the first field, read in O(1). Changes go
// through assign() (a registry record) or edit() (tools, tests): parse, change, serialise.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/codec/wire.h"
#include "schemas/registry.pb.h"

namespace vigil::registry {

class Profile {
 public:
  Profile() = default;

  //! Takes a registry Elder: keeps its serialised bytes, interns its timezone.
  void assign(const vigil::v1::Elder& elder);
  //! The profile as a message (rare paths: records for tools, edits).
  vigil::v1::Elder elder() const;
  //! The Elder message's bytes (ElderRecord field 1's body).
  const std::string& bytes() const { return bytes_; }
  //! Parses, lets `f` change the message, and keeps the result (tools and tests).
  template <class F>
  void edit(F&& f) {
    vigil::v1::Elder e = elder();
    f(e);
    assign(e);
  }

  //! The elder id ("" for none); valid until the profile changes.
  std::string_view elder_id() const;
  std::string_view name() const { return string_field(2); }
  std::string_view region() const { return string_field(7); }
  double home_lat() const { return double_field(3).value_or(0); }
  double home_lon() const { return double_field(4).value_or(0); }
  bool has_geofence_radius_m() const { return (flags_ & kGeofence) != 0; }
  double geofence_radius_m() const { return double_field(5).value_or(0); }
  //! The timezone as registered ("" for none), interned process-wide.
  const std::string& timezone() const;
  bool meal_service() const { return (flags_ & kMeal) != 0; }
  bool has_medication_times() const { return (flags_ & kMedication) != 0; }
  //! Calls `f(std::string_view)` for each medication time, in order.
  template <class F>
  void for_each_medication_time(F&& f) const {
    if (has_medication_times()) each_string(8, [&](std::string_view v) { f(v); });
  }
  bool has_overrides() const { return (flags_ & kOverrides) != 0; }
  //! The override `key` ("<rule_id>.<param>"), if the profile has one.
  std::optional<double> override_value(std::string_view key) const;

  // Edits (parse, set, serialise): the unregistered elder's id, tools and tests.
  void set_elder_id(std::string_view id) {
    edit([&](vigil::v1::Elder& e) { e.set_elder_id(std::string(id)); });
  }
  void set_name(std::string_view v) { edit([&](vigil::v1::Elder& e) { e.set_name(std::string(v)); }); }
  void set_region(std::string_view v) { edit([&](vigil::v1::Elder& e) { e.set_region(std::string(v)); }); }
  void set_home_lat(double v) { edit([&](vigil::v1::Elder& e) { e.set_home_lat(v); }); }
  void set_home_lon(double v) { edit([&](vigil::v1::Elder& e) { e.set_home_lon(v); }); }
  void set_geofence_radius_m(double v) {
    edit([&](vigil::v1::Elder& e) { e.set_geofence_radius_m(v); });
  }
  void set_meal_service(bool v) { edit([&](vigil::v1::Elder& e) { e.set_meal_service(v); }); }
  void add_medication_times(std::string_view v) {
    edit([&](vigil::v1::Elder& e) { e.add_medication_times(std::string(v)); });
  }
  void set_override(std::string_view key, double v) {
    edit([&](vigil::v1::Elder& e) { (*e.mutable_overrides())[std::string(key)] = v; });
  }

  //! Heap bytes held (the serialised message when it outgrows the inline buffer).
  size_t heap_bytes() const { return bytes_.capacity() > 15 ? bytes_.capacity() + 1 : 0; }

 private:
  enum : uint8_t { kGeofence = 1, kMeal = 2, kMedication = 4, kOverrides = 8 };
  std::string_view string_field(uint32_t field) const;
  std::optional<double> double_field(uint32_t field) const;
  template <class F>
  void each_string(uint32_t field, F&& f) const;

  std::string bytes_;                     //!< serialised vigil.v1.Elder
  const std::string* timezone_ = nullptr;  //!< interned; nullptr for none
  uint8_t flags_ = 0;
};

namespace wire = codec::wire;

template <class F>
void Profile::each_string(uint32_t field, F&& f) const {
  size_t at = 0;
  wire::Field w;
  while (wire::next(bytes_, &at, &w)) {
    if (w.number == field && w.type == 2) f(w.body);
  }
}

}  // namespace vigil::registry
