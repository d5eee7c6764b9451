#include "engine/registry/elder_state.h"

#include <google/protobuf/message_lite.h>

#include <cstring>
#include <new>
#include <string_view>

namespace vigil::registry {

SlotMap::SlotMap(const SlotMap& o) : rules_(o.rules_) {
  if (o.block_ == nullptr) return;
  reshape(o.held_, o.rules_);
  for (uint16_t i = 0; i < o.held_; ++i) new (&block_[i]) RuleSlot(o.block_[i]);
  std::copy(o.positions(), o.positions() + rules_, positions());
  held_ = o.held_;
}

void SlotMap::resize(size_t n) {
  if (n < rules_) compact([n](uint32_t rule, const RuleSlot&) { return rule >= n; });
  if (block_ != nullptr && n != rules_) reshape(cap_, static_cast<uint16_t>(n));
  rules_ = static_cast<uint16_t>(n);
}

void SlotMap::reshape(uint16_t cap, uint16_t rules) {
  auto* fresh = static_cast<RuleSlot*>(::operator new(block_bytes(cap, rules)));
  auto* fresh_pos = reinterpret_cast<uint16_t*>(fresh + cap);
  std::fill(fresh_pos, fresh_pos + rules, uint16_t{0});
  if (block_ != nullptr) {
    for (uint16_t i = 0; i < held_; ++i) {
      new (&fresh[i]) RuleSlot(std::move(block_[i]));
      block_[i].~RuleSlot();
    }
    std::copy(positions(), positions() + std::min(rules, rules_), fresh_pos);
    ::operator delete(block_);
  }
  block_ = fresh;
  cap_ = cap;
}

void SlotMap::release() {
  if (block_ == nullptr) return;
  for (uint16_t i = 0; i < held_; ++i) block_[i].~RuleSlot();
  ::operator delete(block_);
  block_ = nullptr;
  held_ = 0;
  cap_ = 0;
}

size_t SlotMap::heap_bytes() const {
  if (block_ == nullptr) return 0;
  size_t n = block_bytes(cap_, rules_);
  for (uint16_t i = 0; i < held_; ++i) {
    if (block_[i].extra) n += block_[i].extra->bytes();
  }
  return n;
}

RuleSlot& RuleSlot::operator=(const RuleSlot& o) {
  since = o.since;
  clear_since = o.clear_since;
  due = o.due;
  generation = o.generation;
  device = o.device;
  if (!o.extra) {
    extra.reset();
  } else if (this != &o) {
    const size_t n = o.extra->bytes();
    void* p = std::malloc(n);
    if (p == nullptr) throw std::bad_alloc();
    std::memcpy(p, o.extra.get(), n);
    extra.reset(static_cast<SlotExtra*>(p));
  }
  return *this;
}

void RuleSlot::reshape(size_t ndata, size_t cap_keyed) {
  if (ndata > UINT16_MAX || cap_keyed > UINT16_MAX) throw std::length_error("slot state too large");
  void* p = std::malloc(SlotExtra::block_bytes(ndata, cap_keyed));
  if (p == nullptr) throw std::bad_alloc();
  auto* x = new (p) SlotExtra();
  x->ndata_ = static_cast<uint16_t>(ndata);
  x->cap_keyed_ = static_cast<uint16_t>(cap_keyed);
  std::fill_n(x->data_ptr(), ndata, 0.0);
  if (extra) {
    x->last_unless = extra->last_unless;
    std::copy_n(extra->data_ptr(), std::min<size_t>(ndata, extra->ndata_), x->data_ptr());
    x->nkeyed_ = std::min<uint16_t>(extra->nkeyed_, static_cast<uint16_t>(cap_keyed));
    std::memcpy(static_cast<void*>(x->keyed_ptr()), extra->keyed_ptr(), x->nkeyed_ * sizeof(KeyedTime));
  }
  extra.reset(x);
}

SlotExtra& RuleSlot::ext() {
  if (!extra) reshape(0, 0);
  return *extra;
}

std::span<double> RuleSlot::reset_data(size_t n) {
  if (!extra || extra->ndata_ != n) reshape(n, extra ? extra->cap_keyed_ : 0);
  auto d = extra->data();
  std::fill(d.begin(), d.end(), 0.0);
  return d;
}

void RuleSlot::assign_data(std::span<const double> v) {
  auto d = reset_data(v.size());
  std::copy(v.begin(), v.end(), d.begin());
}

KeyedTime& RuleSlot::add_keyed(const KeyedTime& k) {
  // Exact growth: a device is added once per elder and rule, and every block byte counts.
  if (!extra || extra->nkeyed_ == extra->cap_keyed_) {
    reshape(extra ? extra->ndata_ : 0, extra ? extra->nkeyed_ + 1u : 1u);
  }
  KeyedTime& out = extra->keyed_ptr()[extra->nkeyed_++];
  out = k;
  return out;
}

void RuleSlot::reserve_keyed(size_t n) {
  if (!extra || extra->cap_keyed_ < n) reshape(extra ? extra->ndata_ : 0, n);
}

const std::string& ElderState::timezone() const {
  static const std::string kDefault = kDefaultTimezone;
  const std::string& tz = profile.timezone();
  return tz.empty() ? kDefault : tz;
}

uint16_t ElderState::intern_device(std::string_view id) {
  if (id.empty() || id.size() > 255) return 0;
  size_t i = 0, at = 0;
  for (; at < device_names.size(); ++i) {
    const size_t n = static_cast<uint8_t>(device_names[at]);
    if (std::string_view(device_names).substr(at + 1, n) == id) return static_cast<uint16_t>(i + 1);
    at += 1 + n;
  }
  if (i >= 255) return 0;  // bounded; the alarm then names no device
  // Exact: names are added rarely, and reserve() on a non-empty string at least doubles it.
  std::string grown;
  grown.reserve(device_names.size() + 1 + id.size());
  grown.append(device_names);
  grown.push_back(static_cast<char>(id.size()));
  grown.append(id);
  device_names.swap(grown);
  return static_cast<uint16_t>(i + 1);
}

std::string_view ElderState::device_name(uint16_t index) const {
  if (index == 0) return {};
  size_t at = 0;
  for (uint16_t i = 1; at < device_names.size(); ++i) {
    const size_t n = static_cast<uint8_t>(device_names[at]);
    if (i == index) return std::string_view(device_names).substr(at + 1, n);
    at += 1 + n;
  }
  return {};
}

size_t ElderState::device_count() const {
  size_t i = 0;
  for (size_t at = 0; at < device_names.size(); ++i)
    at += 1 + static_cast<uint8_t>(device_names[at]);
  return i;
}

void apply_profile(ElderState& s, const vigil::v1::Elder& elder) {
  s.profile.assign(elder);
  s.registered = true;
  s.dirty = true;
  s.profile_dirty = true;
}

namespace {
void append_message(std::string* out, uint32_t field, const google::protobuf::MessageLite& m);
constexpr uint32_t kDeviceRecordField = 3;  // ElderRecord.devices
}  // namespace

std::vector<vigil::v1::Device> devices(const ElderState& s) {
  std::vector<vigil::v1::Device> out;
  vigil::state::ElderRecord r;
  if (!s.device_records.empty() && r.ParseFromString(s.device_records)) {
    out.assign(r.devices().begin(), r.devices().end());
  }
  return out;
}

void apply_device(ElderState& s, const vigil::v1::Device& device) {
  auto all = devices(s);
  bool found = false;
  for (auto& d : all) {
    if (d.device_id() == device.device_id()) {
      d = device;
      found = true;
      break;
    }
  }
  if (found) {
    s.device_records.clear();
    for (const auto& d : all) append_message(&s.device_records, kDeviceRecordField, d);
  } else {
    append_message(&s.device_records, kDeviceRecordField, device);
  }
  s.device_records.shrink_to_fit();
  s.dirty = true;
  s.profile_dirty = true;
}

namespace {

//! Writes `v` as a varint at `p` and returns the end. The checkpoint's encoders write through a
//! pointer into room made once (encode_slot below): a std::string's push_back per byte checks
//! the capacity, stores the size and the terminator every time, and took a third of a snapshot.
char* put_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

void append_varint(std::string* out, uint64_t v) {
  char buf[10];
  out->append(buf, static_cast<size_t>(put_varint(buf, v) - buf));
}

char* put_field_varint(char* p, uint32_t field, uint64_t v) {
  if (v == 0) return p;  // proto3: defaults are not written
  return put_varint(put_varint(p, static_cast<uint64_t>(field) << 3), v);
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

//! A length-delimited field written in place: the tag, one byte kept for the length, then the
//! body; done() writes the length, moving the body only when it needs more than one byte (rare:
//! bodies of 128 bytes or more). No allocation beyond `out` growing.
class Nested {
 public:
  Nested(std::string* out, uint32_t field) : out_(out) {
    append_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
    at_ = out->size();
    out->push_back('\0');
  }
  void done() {
    const size_t n = out_->size() - at_ - 1;
    if (n < 0x80) {
      (*out_)[at_] = static_cast<char>(n);
      return;
    }
    std::string len;
    append_varint(&len, n);
    out_->replace(at_, 1, len);
  }

 private:
  std::string* out_;
  size_t at_;
};

void put_varint_field(std::string* out, uint32_t field, uint64_t v) {
  char buf[20];
  out->append(buf, static_cast<size_t>(put_field_varint(buf, field, v) - buf));
}
void put_int64_field(std::string* out, uint32_t field, int64_t v) {
  put_varint_field(out, field, static_cast<uint64_t>(v));  // two's complement, as protobuf does
}
void put_string_field(std::string* out, uint32_t field, std::string_view v) {
  if (v.empty()) return;
  append_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  append_varint(out, v.size());
  out->append(v);
}

// SlotRecord, SlotKeyedRecord, AlarmMetaRecord and ElderRecord field numbers (state.proto).
constexpr uint32_t kAlarmSeqField = 6;
constexpr uint32_t kAlarmMetaField = 20;
constexpr uint32_t kSlotsField = 21;
constexpr uint32_t kBaseField = 22;
constexpr uint32_t kDeviceNamesField = 23;

uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

//! The times of one record, written relative to the first one written (ElderRecord.base_ms):
//! a few bytes each instead of six for milliseconds since the epoch. Modular: any value
//! round-trips exactly.
class TimeBase {
 public:
  int64_t delta(TimeMs t) {
    if (!set_) {
      base_ = t;
      set_ = true;
    }
    return static_cast<int64_t>(static_cast<uint64_t>(t) - static_cast<uint64_t>(base_));
  }
  bool set() const { return set_; }
  TimeMs base() const { return base_; }
  //! The time written as `delta` against `base` (the reader's side).
  static TimeMs at(TimeMs base, int64_t delta) {
    return static_cast<TimeMs>(static_cast<uint64_t>(base) + static_cast<uint64_t>(delta));
  }

 private:
  TimeMs base_ = 0;
  bool set_ = false;
};

//! `d` in hundredths when that is exact (the reader's n / 100.0 gives back the same bits):
//! readings such as 36.6 or 120 take one to three bytes instead of eight.
bool centi_of(double d, int64_t* n) {
  if (!(d > -1e15 && d < 1e15)) return false;  // also NaN
  // Rounded by adding a half and truncating (one instruction, where llround is a libm call):
  // when d is n / 100 exactly, d * 100 is within an ulp of n and this gives n; the check below
  // turns any other value away whatever integer it rounded to.
  const double x = d * 100;
  const auto c = static_cast<int64_t>(x < 0 ? x - 0.5 : x + 0.5);
  const double back = static_cast<double>(c) / 100.0;
  if (std::memcmp(&back, &d, sizeof d) != 0) return false;  // inexact, or -0.0
  *n = c;
  return true;
}

bool all_centi(std::span<const double> data) {
  int64_t n;
  for (double d : data) {
    if (!centi_of(d, &n)) return false;
  }
  return true;
}

//! Unset (0) times are not written; last_unless is absent when never.
bool unless_set(TimeMs t) { return t != kNever && t != 0; }

//! A length-delimited field written at a pointer: the tag, one byte kept for the length, the
//! body; done() writes the length, moving the body when it needs more than one byte (bodies of
//! 128 bytes or more: the room made for the field counts two more).
class RawNested {
 public:
  RawNested(char*& p, uint32_t field) : p_(p) {
    p = put_varint(p, (static_cast<uint64_t>(field) << 3) | 2);
    len_at_ = p++;
  }
  void done() {
    const auto n = static_cast<size_t>(p_ - len_at_ - 1);
    if (n < 0x80) {
      *len_at_ = static_cast<char>(n);
      return;
    }
    char len[10];
    const auto w = static_cast<size_t>(put_varint(len, n) - len);
    std::memmove(len_at_ + w, len_at_ + 1, n);
    std::memcpy(len_at_, len, w);
    p_ += w - 1;
  }

 private:
  char*& p_;
  char* len_at_;
};

//! A time field present (explicit presence: proto3 optional sint64).
char* put_field_time(char* p, uint32_t field, TimeMs t, TimeBase& base) {
  return put_varint(put_varint(p, static_cast<uint64_t>(field) << 3), zigzag(base.delta(t)));
}
char* put_fixed64(char* p, uint64_t v) {
  for (int b = 0; b < 8; ++b) *p++ = static_cast<char>(v >> (8 * b));
  return p;
}

//! The most bytes encode_slot() writes for `slot`, every field at its widest: the SlotRecord's
//! tag and length (2 + 3), rule (9), four times (11 each), device and generation (4 + 6), the
//! data's tag and length (6) and 10 bytes a value, 24 a keyed entry (19 at most).
size_t slot_bound(const RuleSlot& slot) {
  return 80 + 10 * slot.data().size() + 24 * slot.keyed().size();
}

char* encode_slot(uint64_t key, const RuleSlot& slot, TimeBase& base, char* p) {
  RawNested rs(p, kSlotsField);
  if (key != 0) {  // proto3 writes no zero, and the generated code must read the same bytes
    p = put_fixed64(put_varint(p, (1u << 3) | 1), key);
  }
  if (slot.since != 0) p = put_field_time(p, 2, slot.since, base);
  if (slot.clear_since != 0) p = put_field_time(p, 3, slot.clear_since, base);
  if (unless_set(slot.last_unless())) p = put_field_time(p, 4, slot.last_unless(), base);
  if (slot.due != 0) p = put_field_time(p, 5, slot.due, base);
  p = put_field_varint(p, 6, slot.device);
  p = put_field_varint(p, 7, slot.generation);
  if (slot.extra) {
    const auto data = slot.data();
    if (!data.empty()) {
      // Packed repeated sint64 in hundredths when every value is one (written as checked, in one
      // pass); else the field is written again as packed repeated double.
      char* const field_at = p;
      RawNested packed(p, 9);
      bool centi = true;
      for (double d : data) {
        int64_t n = 0;
        if (!centi_of(d, &n)) {
          centi = false;
          break;
        }
        p = put_varint(p, zigzag(n));
      }
      if (centi) {
        packed.done();
      } else {
        p = put_varint(put_varint(field_at, (8u << 3) | 2), data.size() * sizeof(double));
        for (double d : data) {
          uint64_t bits;
          std::memcpy(&bits, &d, sizeof bits);
          p = put_fixed64(p, bits);
        }
      }
    }
    for (const auto& k : slot.keyed()) {
      RawNested kr(p, 10);
      p = put_field_varint(p, 1, k.device);
      if (k.seen != 0) p = put_field_time(p, 2, k.seen, base);
      p = put_field_varint(p, 3, k.out ? 1 : 0);
      kr.done();
    }
  }
  rs.done();
  return p;
}

void fill_dynamic(const ElderState& s, std::span<const uint64_t> keys,
                  vigil::state::ElderRecord& r) {
  TimeBase base;
  auto time = [&](TimeMs t) { return base.delta(t); };
  for (size_t i = 0; i < s.slots.size() && i < keys.size(); ++i) {
    const RuleSlot* held = s.slots.find(i);
    if (held == nullptr || held->idle()) continue;  // an idle slot costs nothing on disk
    const RuleSlot& slot = *held;
    auto* rs = r.add_slots();
    rs->set_rule(keys[i]);
    if (slot.since != 0) rs->set_since(time(slot.since));
    if (slot.clear_since != 0) rs->set_clear_since(time(slot.clear_since));
    if (unless_set(slot.last_unless())) rs->set_last_unless(time(slot.last_unless()));
    if (slot.due != 0) rs->set_due(time(slot.due));
    rs->set_device(slot.device);
    rs->set_generation(slot.generation);
    if (slot.extra) {
      const auto data = slot.data();
      const bool centi = all_centi(data);
      int64_t n = 0;
      for (double d : data) {
        if (centi) rs->add_data_centi(centi_of(d, &n) ? n : 0);
        else rs->add_data(d);
      }
      for (const auto& k : slot.keyed()) {
        auto* kr = rs->add_keyed();
        kr->set_device(k.device);
        if (k.seen != 0) kr->set_seen(time(k.seen));
        kr->set_out(k.out);
      }
    }
  }
  if (base.set()) r.set_base_ms(base.base());
  if (!s.device_names.empty()) r.set_device_names(s.device_names);
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

//! Whether `names` is a well-formed ElderState::device_names (length-prefixed ids, at most 255).
bool valid_device_names(std::string_view names) {
  size_t count = 0;
  for (size_t at = 0; at < names.size(); ++count) {
    const size_t n = static_cast<uint8_t>(names[at]);
    if (n == 0 || at + 1 + n > names.size() || count == 255) return false;
    at += 1 + n;
  }
  return true;
}

//! Slots as checkpoints wrote them before 2026-12-05 (RuleSlotRecord, by rule id).
void merge_rule_records(ElderState& s, const vigil::state::ElderRecord& r,
                        const std::vector<std::string>& rule_ids) {
  for (const auto& rs : r.rules()) {
    for (size_t i = 0; i < rule_ids.size(); ++i) {
      if (rule_ids[i] != rs.rule_id()) continue;
      RuleSlot& slot = s.slots[i];
      slot.since = rs.since_ms();
      slot.clear_since = rs.clear_since_ms();
      slot.due = rs.due_ms();
      slot.device = s.intern_device(rs.device_id());
      slot.generation = static_cast<uint32_t>(rs.generation());
      const bool unless = unless_set(rs.last_unless_ms());
      if (unless || rs.data_size() > 0 || rs.keyed_size() > 0) {
        slot.ext().last_unless = unless ? rs.last_unless_ms() : kNever;
        slot.assign_data(std::span<const double>(rs.data().data(), rs.data().size()));
        slot.reserve_keyed(rs.keyed_size());
        for (const auto& k : rs.keyed()) slot.add_keyed({k.seen_ms(), s.intern_device(k.key()), k.out()});
      }
      break;
    }
  }
}

//! Compact slots (SlotRecord, by rule key). Slots of rules no longer loaded are dropped; a
//! device index past the record's names reads as none.
void merge_slot_records(ElderState& s, const vigil::state::ElderRecord& r,
                        std::span<const uint64_t> keys) {
  if (!r.device_names().empty() && valid_device_names(r.device_names())) {
    s.device_names = r.device_names();
  }
  const size_t devices = s.device_count();
  auto device = [&](uint32_t d) { return d <= devices ? static_cast<uint16_t>(d) : uint16_t{0}; };
  const TimeMs base = r.base_ms();
  auto time = [&](bool has, int64_t delta) { return has ? TimeBase::at(base, delta) : TimeMs{0}; };
  for (const auto& rs : r.slots()) {
    const auto it = std::find(keys.begin(), keys.end(), rs.rule());
    if (it == keys.end()) continue;
    RuleSlot& slot = s.slots[static_cast<size_t>(it - keys.begin())];
    slot.since = time(rs.has_since(), rs.since());
    slot.clear_since = time(rs.has_clear_since(), rs.clear_since());
    slot.due = time(rs.has_due(), rs.due());
    slot.device = device(rs.device());
    slot.generation = rs.generation();
    const bool unless = rs.has_last_unless();
    const bool data = rs.data_size() > 0 || rs.data_centi_size() > 0;
    if (unless || data || rs.keyed_size() > 0) {
      slot.ext().last_unless = unless ? TimeBase::at(base, rs.last_unless()) : kNever;
      if (rs.data_centi_size() > 0) {
        auto values = slot.reset_data(static_cast<size_t>(rs.data_centi_size()));
        for (int j = 0; j < rs.data_centi_size(); ++j) {
          values[static_cast<size_t>(j)] = static_cast<double>(rs.data_centi(j)) / 100.0;
        }
      } else {
        slot.assign_data(std::span<const double>(rs.data().data(), rs.data().size()));
      }
      slot.reserve_keyed(rs.keyed_size());
      for (const auto& k : rs.keyed()) {
        slot.add_keyed({time(k.has_seen(), k.seen()), device(k.device()), k.out()});
      }
    }
  }
}

}  // namespace

void append_profile(const ElderState& s, std::string* out) {
  // The profile's bytes are the Elder message serialised: written as ElderRecord field 1.
  append_varint(out, (kElderField << 3) | 2);
  append_varint(out, s.profile.bytes().size());
  out->append(s.profile.bytes());
  if (s.registered) {
    append_varint(out, kRegisteredField << 3);
    out->push_back(1);
  }
  out->append(s.device_records);  // already ElderRecord field 3 entries
}

std::vector<uint64_t> rule_keys(const std::vector<std::string>& rule_ids) {
  std::vector<uint64_t> keys;
  keys.reserve(rule_ids.size());
  for (const auto& id : rule_ids) keys.push_back(rule_key(id));
  return keys;
}

void append_dynamic(const ElderState& s, const std::vector<std::string>& rule_ids,
                    std::string* out) {
  append_dynamic(s, rule_keys(rule_ids), out);
}

void append_dynamic(const ElderState& s, std::span<const uint64_t> rule_keys, std::string* out) {
  // The same record fill_dynamic() builds, written straight to the wire (no message objects:
  // this runs for every dirty elder at every checkpoint).
  TimeBase base;
  for (size_t i = 0; i < s.slots.size() && i < rule_keys.size(); ++i) {
    const RuleSlot* held = s.slots.find(i);
    if (held == nullptr || held->idle()) continue;  // an idle slot costs nothing on disk
    // Room for the slot at its widest, written through a pointer, trimmed to what it took.
    const size_t at = out->size();
    out->resize(at + slot_bound(*held));
    char* const end = encode_slot(rule_keys[i], *held, base, out->data() + at);
    out->resize(static_cast<size_t>(end - out->data()));
  }
  if (base.set()) put_int64_field(out, kBaseField, base.base());
  put_string_field(out, kDeviceNamesField, s.device_names);
  for (const auto& [rule, n] : s.alarm_seq) {
    Nested entry(out, kAlarmSeqField);
    append_varint(out, (1u << 3) | 2);  // map entries carry key and value, as protobuf writes them
    append_varint(out, rule.size());
    out->append(rule);
    append_varint(out, 2u << 3);
    append_varint(out, n);
    entry.done();
  }
  for (const auto& [rule, m] : s.alarm_meta) {
    if (m.escalated == 0 && m.flap_start == 0 && m.flaps == 0 && !m.held) continue;
    Nested entry(out, kAlarmMetaField);
    append_varint(out, (1u << 3) | 2);
    append_varint(out, rule.size());
    out->append(rule);
    Nested value(out, 2);
    put_varint_field(out, 1, m.escalated);
    put_int64_field(out, 2, m.flap_start);
    put_varint_field(out, 3, m.flaps);
    put_varint_field(out, 4, m.held ? 1 : 0);
    value.done();
    entry.done();
  }
  // Open alarms go in place, in order, rather than copied into the record.
  for (const auto& a : s.alarms) append_message(out, kAlarmsField, a);
}

vigil::state::ElderRecord to_record(const ElderState& s, const std::vector<std::string>& rule_ids) {
  vigil::state::ElderRecord r;
  *r.mutable_elder() = s.profile.elder();
  r.set_registered(s.registered);
  for (auto& d : devices(s)) *r.add_devices() = std::move(d);
  fill_dynamic(s, rule_keys(rule_ids), r);
  for (const auto& a : s.alarms) *r.add_alarms() = a;
  return r;
}

void merge_record(ElderState& s, const vigil::state::ElderRecord& r,
                  const std::vector<std::string>& rule_ids, std::span<const uint64_t> rule_keys) {
  if (r.has_elder()) s.profile.assign(r.elder());
  if (r.registered()) s.registered = true;
  if (r.devices_size() > 0) {
    s.device_records.clear();
    for (const auto& d : r.devices()) append_message(&s.device_records, kDevicesField, d);
    s.device_records.shrink_to_fit();
  }
  s.slots.resize(rule_ids.size());
  merge_rule_records(s, r, rule_ids);
  if (r.slots_size() > 0 || !r.device_names().empty()) {
    std::vector<uint64_t> computed;
    if (rule_keys.size() != rule_ids.size()) rule_keys = computed = registry::rule_keys(rule_ids);
    merge_slot_records(s, r, rule_keys);
  }
  for (const auto& a : r.alarms()) s.alarms.push_back(a);
  for (const auto& [rule, n] : r.alarm_seq()) s.alarm_seq[rule] = n;
  for (const auto& [rule, m] : r.alarm_meta()) {
    s.alarm_meta[rule] = AlarmMeta{m.escalated(), m.flap_start_ms(), m.flaps(), m.held()};
  }
}

size_t memory_bytes(const ElderState& s) {
  auto str = [](const std::string& v) { return v.capacity() > 15 ? v.capacity() + 1 : 0; };
  size_t n = sizeof(ElderState);
  n += s.profile.heap_bytes();
  n += str(s.device_records);
  n += s.slots.heap_bytes();
  n += s.alarms.header_bytes() + s.alarms.capacity() * sizeof(vigil::v1::AlarmEvent);
  for (const auto& a : s.alarms) n += a.SpaceUsedLong() - sizeof(a);
  n += s.alarm_seq.heap_bytes() + s.alarm_meta.heap_bytes();
  n += str(s.device_names);
  return n;
}

ElderState from_record(const vigil::state::ElderRecord& r,
                       const std::vector<std::string>& rule_ids) {
  ElderState s;
  merge_record(s, r, rule_ids);
  return s;
}

}  // namespace vigil::registry
