#include "engine/registry/elder_state.h"

#include <google/protobuf/message_lite.h>

namespace vigil::registry {

void SlotMap::resize(size_t n) {
  if (n < pos_.size()) compact([n](uint32_t rule, const RuleSlot&) { return rule >= n; });
  pos_.resize(n, 0);
}

size_t SlotMap::heap_bytes() const {
  size_t n = pos_.capacity() * sizeof(uint16_t) + rule_.capacity() * sizeof(uint16_t) +
             slots_.capacity() * sizeof(RuleSlot);
  for (const auto& s : slots_) {
    if (!s.extra) continue;
    n += sizeof(SlotExtra) + s.extra->data.capacity() * sizeof(double) +
         s.extra->keyed.capacity() * sizeof(KeyedTime);
  }
  return n;
}

const std::string& ElderState::timezone() const {
  static const std::string kDefault = kDefaultTimezone;
  return profile.timezone().empty() ? kDefault : profile.timezone();
}

uint16_t ElderState::intern_device(std::string_view id) {
  if (id.empty()) return 0;
  for (size_t i = 0; i < device_names.size(); ++i) {
    if (device_names[i] == id) return static_cast<uint16_t>(i + 1);
  }
  if (device_names.size() >= 255) return 0;  // bounded; the alarm then names no device
  device_names.emplace_back(id);
  return static_cast<uint16_t>(device_names.size());
}

const std::string& ElderState::device_name(uint16_t index) const {
  static const std::string kNone;
  return index == 0 || index > device_names.size() ? kNone : device_names[index - 1];
}

void apply_profile(ElderState& s, const vigil::v1::Elder& elder) {
  s.profile = elder;
  s.registered = true;
  s.dirty = true;
  s.profile_dirty = true;
}

void apply_device(ElderState& s, const vigil::v1::Device& device) {
  for (auto& d : s.devices) {
    if (d.device_id() == device.device_id()) {
      d = device;
      s.dirty = true;
      s.profile_dirty = true;
      return;
    }
  }
  s.devices.push_back(device);
  s.dirty = true;
  s.profile_dirty = true;
}

namespace {

void append_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

//! Appends `m` as the length-delimited field `field` (wire type 2), serialised in place.
void append_message(std::string* out, uint32_t field, const google::protobuf::MessageLite& m) {
  const size_t n = m.ByteSizeLong();
  append_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  append_varint(out, n);
  const size_t at = out->size();
  out->resize(at + n);
  m.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + at));
}

// ElderRecord field numbers (schemas/state.proto).
constexpr uint32_t kElderField = 1;
constexpr uint32_t kRegisteredField = 2;
constexpr uint32_t kDevicesField = 3;
constexpr uint32_t kAlarmsField = 5;

void fill_dynamic(const ElderState& s, const std::vector<std::string>& rule_ids,
                  vigil::state::ElderRecord& r) {
  for (size_t i = 0; i < s.slots.size() && i < rule_ids.size(); ++i) {
    const RuleSlot* held = s.slots.find(i);
    if (held == nullptr || held->idle()) continue;  // an idle slot costs nothing on disk
    const RuleSlot& slot = *held;
    auto* rs = r.add_rules();
    rs->set_rule_id(rule_ids[i]);
    rs->set_since_ms(slot.since);
    rs->set_clear_since_ms(slot.clear_since);
    rs->set_last_unless_ms(slot.last_unless());
    rs->set_due_ms(slot.due);
    rs->set_device_id(s.device_name(slot.device));
    rs->set_generation(slot.generation);
    if (slot.extra) {
      for (double d : slot.extra->data) rs->add_data(d);
      for (const auto& k : slot.extra->keyed) {
        auto* kr = rs->add_keyed();
        kr->set_key(s.device_name(k.device));
        kr->set_seen_ms(k.seen);
        kr->set_out(k.out);
      }
    }
  }
  for (const auto& [rule, n] : s.alarm_seq) (*r.mutable_alarm_seq())[rule] = n;
  for (const auto& [rule, m] : s.alarm_meta) {
    if (m.escalated == 0 && m.flap_start == 0 && m.flaps == 0 && !m.held) continue;
    auto& out = (*r.mutable_alarm_meta())[rule];
    out.set_escalated(m.escalated);
    out.set_flap_start_ms(m.flap_start);
    out.set_flaps(m.flaps);
    out.set_held(m.held);
  }
}

}  // namespace

void append_profile(const ElderState& s, std::string* out) {
  append_message(out, kElderField, s.profile);
  if (s.registered) {
    append_varint(out, kRegisteredField << 3);
    out->push_back(1);
  }
  for (const auto& d : s.devices) append_message(out, kDevicesField, d);
}

void append_dynamic(const ElderState& s, const std::vector<std::string>& rule_ids,
                    vigil::state::ElderRecord& scratch, std::string* out) {
  scratch.Clear();
  fill_dynamic(s, rule_ids, scratch);
  scratch.AppendToString(out);
  // Open alarms go in place, in order, rather than copied into the record.
  for (const auto& a : s.alarms) append_message(out, kAlarmsField, a);
}

vigil::state::ElderRecord to_record(const ElderState& s, const std::vector<std::string>& rule_ids) {
  vigil::state::ElderRecord r;
  *r.mutable_elder() = s.profile;
  r.set_registered(s.registered);
  for (const auto& d : s.devices) *r.add_devices() = d;
  fill_dynamic(s, rule_ids, r);
  for (const auto& a : s.alarms) *r.add_alarms() = a;
  return r;
}

void merge_record(ElderState& s, const vigil::state::ElderRecord& r,
                  const std::vector<std::string>& rule_ids) {
  if (r.has_elder()) s.profile = r.elder();
  if (r.registered()) s.registered = true;
  if (r.devices_size() > 0) s.devices.assign(r.devices().begin(), r.devices().end());
  s.slots.resize(rule_ids.size());
  for (const auto& rs : r.rules()) {
    for (size_t i = 0; i < rule_ids.size(); ++i) {
      if (rule_ids[i] != rs.rule_id()) continue;
      RuleSlot& slot = s.slots[i];
      slot.since = rs.since_ms();
      slot.clear_since = rs.clear_since_ms();
      slot.due = rs.due_ms();
      slot.device = s.intern_device(rs.device_id());
      slot.generation = static_cast<uint32_t>(rs.generation());
      const bool unless = rs.last_unless_ms() != kNever && rs.last_unless_ms() != 0;
      if (unless || rs.data_size() > 0 || rs.keyed_size() > 0) {
        SlotExtra& x = slot.ext();
        x.last_unless = unless ? rs.last_unless_ms() : kNever;
        x.data.assign(rs.data().begin(), rs.data().end());
        for (const auto& k : rs.keyed()) x.keyed.push_back({k.seen_ms(), s.intern_device(k.key()), k.out()});
      }
      break;
    }
  }
  s.alarms.insert(s.alarms.end(), r.alarms().begin(), r.alarms().end());
  for (const auto& [rule, n] : r.alarm_seq()) s.alarm_seq[rule] = n;
  for (const auto& [rule, m] : r.alarm_meta()) {
    s.alarm_meta[rule] = AlarmMeta{m.escalated(), m.flap_start_ms(), m.flaps(), m.held()};
  }
}

ElderState from_record(const vigil::state::ElderRecord& r,
                       const std::vector<std::string>& rule_ids) {
  ElderState s;
  merge_record(s, r, rule_ids);
  return s;
}

}  // namespace vigil::registry
