#pragma once
// What vigil knows of one elder: the registry profile and devices, each rule's working state and
// the elder's open alarms. Owned by the elder's shard (one thread, no lock). Persisted in two
// parts at a checkpoint (engine/registry/README.md): the registry part (profile, devices) under
// p/<elder_id> only when a registry record changed it, the rule and alarm state under
// e/<elder_id> whenever the elder is dirty. Both values are ElderRecords holding their fields
// only, so the concatenation of the two parses as the whole record.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <new>
#include <utility>
#include <vector>

#include "engine/core/clock.h"
#include "engine/core/prefetch.h"
#include "engine/pipeline/shard_router.h"
#include "engine/registry/lazy_vector.h"
#include "engine/registry/profile.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/state.pb.h"

namespace vigil::registry {

inline constexpr TimeMs kNever = std::numeric_limits<TimeMs>::min();

//! How a stored rule slot names its rule (SlotRecord.rule): 64-bit FNV-1a of the rule id, fixed
//! across builds. The rule loader refuses a pack in which two ids share a key.
inline uint64_t rule_key(std::string_view rule_id) { return pipeline::stable_hash(rule_id); }
//! rule_key() of each id, in order.
std::vector<uint64_t> rule_keys(const std::vector<std::string>& rule_ids);
inline constexpr double kDefaultGeofenceM = 500;
inline constexpr const char* kDefaultTimezone = "Asia/Shanghai";

//! Last event time of one device for per-device absence rules.
struct KeyedTime {
  TimeMs seen = 0;
  uint16_t device = 0;  //!< ElderState::device_name index
  bool out = false;     //!< silent past the rule's duration and reported
};

//! The parts of a rule's state only some kinds use, allocated on first use as one block: this
//! header, then `data` (fixed size per rule: aggregate buckets, score vitals, ...), then `keyed`
//! (per-device absence: one entry per device seen). Grown and shrunk through RuleSlot, which owns
//! the block (data is set once per rule; a device is added once per elder, so growth is exact).
class SlotExtra {
 public:
  TimeMs last_unless = kNever;  //!< threshold: last event of an `unless` type

  std::span<double> data() { return {data_ptr(), ndata_}; }
  std::span<const double> data() const { return {data_ptr(), ndata_}; }
  std::span<KeyedTime> keyed() { return {keyed_ptr(), nkeyed_}; }
  std::span<const KeyedTime> keyed() const { return {keyed_ptr(), nkeyed_}; }
  //! Bytes of the block.
  size_t bytes() const { return block_bytes(ndata_, cap_keyed_); }

 private:
  friend struct RuleSlot;
  static size_t block_bytes(size_t ndata, size_t nkeyed) {
    return sizeof(SlotExtra) + ndata * sizeof(double) + nkeyed * sizeof(KeyedTime);
  }
  double* data_ptr() { return reinterpret_cast<double*>(this + 1); }
  const double* data_ptr() const { return reinterpret_cast<const double*>(this + 1); }
  KeyedTime* keyed_ptr() { return reinterpret_cast<KeyedTime*>(data_ptr() + ndata_); }
  const KeyedTime* keyed_ptr() const {
    return reinterpret_cast<const KeyedTime*>(data_ptr() + ndata_);
  }

  uint16_t ndata_ = 0;
  uint16_t nkeyed_ = 0;
  uint16_t cap_keyed_ = 0;
};
static_assert(sizeof(SlotExtra) % alignof(double) == 0 && std::is_trivially_copyable_v<KeyedTime>);

struct SlotExtraFree {
  void operator()(SlotExtra* p) const { std::free(p); }
};

//! One rule's working state for one elder; which fields mean what depends on the rule's kind
//! (rules/README.md). `generation` invalidates armed timers lazily. Kept small (40 bytes) since
//! every elder holds one per rule with state.
struct RuleSlot {
  TimeMs since = 0;        //!< threshold: breach start; sequence: first event; absence: last seen
  TimeMs clear_since = 0;  //!< threshold: back in range since; `at` watch: its close
  TimeMs due = 0;          //!< armed timer's due time, 0 when none
  uint32_t generation = 0;
  uint16_t device = 0;  //!< the device that started the current episode (device_name index)
  //! SlotMap's: the rule index this slot belongs to (in what was padding). Constructing copies
  //! it; assigning keeps the target's (a slot assigned into a map stays its rule's).
  uint16_t rule = 0;
  std::unique_ptr<SlotExtra, SlotExtraFree> extra;

  RuleSlot() = default;
  RuleSlot(RuleSlot&&) noexcept = default;
  RuleSlot& operator=(RuleSlot&& o) noexcept {
    since = o.since;
    clear_since = o.clear_since;
    due = o.due;
    generation = o.generation;
    device = o.device;
    extra = std::move(o.extra);
    return *this;
  }
  RuleSlot(const RuleSlot& o) : rule(o.rule) { *this = o; }
  RuleSlot& operator=(const RuleSlot& o);

  //! The extra block, allocated (header only) on first use.
  SlotExtra& ext();
  TimeMs last_unless() const { return extra ? extra->last_unless : kNever; }
  std::span<double> data() { return extra ? extra->data() : std::span<double>(); }
  std::span<const double> data() const { return extra ? extra->data() : std::span<const double>(); }
  std::span<KeyedTime> keyed() { return extra ? extra->keyed() : std::span<KeyedTime>(); }
  std::span<const KeyedTime> keyed() const {
    return extra ? extra->keyed() : std::span<const KeyedTime>();
  }
  //! Sets `data` to `n` zeros (allocating the block if needed) and returns it.
  std::span<double> reset_data(size_t n);
  //! Sets `data` to a copy of `v`.
  void assign_data(std::span<const double> v);
  //! Appends a per-device entry and returns it (valid until the next append).
  KeyedTime& add_keyed(const KeyedTime& k);
  //! Room for `n` per-device entries in all (restores).
  void reserve_keyed(size_t n);

  bool no_data() const { return !extra || extra->ndata_ == 0; }
  bool idle() const {
    return since == 0 && clear_since == 0 && due == 0 &&
           (!extra || (extra->last_unless == kNever && extra->ndata_ == 0 && extra->nkeyed_ == 0));
  }

 private:
  //! Reallocates the block for `ndata` data values (kept up to the smaller size, new ones zero)
  //! and room for `cap_keyed` entries (kept).
  void reshape(size_t ndata, size_t cap_keyed);
};

//! The rule slots of one elder, sparse: only rules that hold state have a RuleSlot (most rules of
//! a pack are idle for most elders). Indexed by rule index like the RuleSet's rules; `size()` is
//! the number of rules. The mutable operator[] gives a rule a slot on first use (a reference is
//! valid until the next slot is added); the const one reads an idle slot for a rule without one.
class SlotMap {
 public:
  SlotMap() = default;
  SlotMap(const SlotMap& o);
  SlotMap(SlotMap&& o) noexcept
      : block_(std::exchange(o.block_, nullptr)),
        rules_(std::exchange(o.rules_, 0)),
        held_(std::exchange(o.held_, 0)),
        cap_(std::exchange(o.cap_, 0)) {}
  SlotMap& operator=(const SlotMap& o) {
    if (this != &o) *this = SlotMap(o);
    return *this;
  }
  SlotMap& operator=(SlotMap&& o) noexcept {
    if (this != &o) {
      release();
      block_ = std::exchange(o.block_, nullptr);
      rules_ = std::exchange(o.rules_, 0);
      held_ = std::exchange(o.held_, 0);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  ~SlotMap() { release(); }

  size_t size() const { return rules_; }
  //! Sets the number of rules; slots of rules past `n` are dropped.
  void resize(size_t n);
  RuleSlot& operator[](size_t ri) {
    const uint16_t p = pos(ri);
    if (p != 0) return block_[p - 1];
    // Grown one slot at a time, not doubled: an elder gains a slot per rule once (a move of a
    // few 40-byte slots), and spare slots are a tenth of a typical elder's memory
    // (bench/README.md "Memory").
    if (held_ == cap_) reshape(static_cast<uint16_t>(cap_ + 1), rules_);
    RuleSlot* s = new (&block_[held_]) RuleSlot();
    s->rule = static_cast<uint16_t>(ri);
    positions()[ri] = ++held_;
    return *s;
  }
  const RuleSlot& operator[](size_t ri) const {
    static const RuleSlot kIdle;
    const uint16_t p = pos(ri);
    return p == 0 ? kIdle : block_[p - 1];
  }
  //! The slot of rule `ri`, nullptr if it has none.
  const RuleSlot* find(size_t ri) const {
    const uint16_t p = pos(ri);
    return p == 0 ? nullptr : &block_[p - 1];
  }
  RuleSlot* find(size_t ri) {
    const uint16_t p = pos(ri);
    return p == 0 ? nullptr : &block_[p - 1];
  }
  //! Slots held (rules with state).
  size_t held() const { return held_; }
  //! The rule index of the i-th held slot, and that slot.
  uint32_t rule_at(size_t i) const { return block_[i].rule; }
  RuleSlot& slot_at(size_t i) { return block_[i]; }
  const RuleSlot& slot_at(size_t i) const { return block_[i]; }
  //! Drops the slots for which `drop(rule, slot)` is true (an idle slot with no timer pending).
  template <class Drop>
  void compact(Drop&& drop) {
    uint16_t w = 0;
    for (uint16_t i = 0; i < held_; ++i) {
      const uint16_t rule = block_[i].rule;
      if (drop(static_cast<uint32_t>(rule), block_[i])) {
        positions()[rule] = 0;
        continue;
      }
      if (w != i) {
        block_[w] = std::move(block_[i]);
        block_[w].rule = rule;
      }
      positions()[rule] = static_cast<uint16_t>(w + 1);
      ++w;
    }
    for (uint16_t i = w; i < held_; ++i) block_[i].~RuleSlot();
    held_ = w;
    if (held_ == 0) {
      release();  // an elder with no rule state holds no block at all
    } else if (cap_ > held_ + 2) {
      reshape(held_, rules_);  // give memory back after a burst
    }
  }
  //! Heap bytes this map holds, slot extras included (for state-size figures).
  size_t heap_bytes() const;
  //! Asks the CPU for the map's heap lines (the shard's look-ahead, Engine::shard_loop).
  void prefetch() const {
    if (block_ == nullptr) return;
    vigil::prefetch(block_);
    vigil::prefetch(block_ + cap_);
  }
  //! Every line of the block, for a pass over all slots (a snapshot), not only the first.
  void prefetch_block() const {
    if (block_ == nullptr) return;
    const char* p = reinterpret_cast<const char*>(block_);
    const size_t bytes = block_bytes(cap_, rules_);
    for (size_t at = 0; at < bytes; at += 64) vigil::prefetch(p + at);
  }
  //! The slots' extra blocks, once the slots themselves are in cache: their first two lines
  //! (header and the first data; a prefetch past a short block's end asks for a line, no more).
  void prefetch_extras() const {
    for (uint16_t i = 0; i < held_; ++i) {
      if (const SlotExtra* x = block_[i].extra.get()) {
        vigil::prefetch(x);
        vigil::prefetch(reinterpret_cast<const char*>(x) + 64);
      }
    }
  }

 private:
  // One heap block, allocated with the first slot: `cap_` RuleSlots (`held_` of them live, in
  // the order first used), then `rules_` positions (rule index -> slot index + 1, 0 for none).
  // Two vectors cost 48 bytes in every elder and two allocations; this costs 16 and one, and an
  // elder with no rule state none (bench/README.md "Memory", session 8).
  uint16_t* positions() const { return reinterpret_cast<uint16_t*>(block_ + cap_); }
  uint16_t pos(size_t ri) const { return block_ == nullptr ? 0 : positions()[ri]; }
  static size_t block_bytes(size_t cap, size_t rules) {
    return cap * sizeof(RuleSlot) + rules * sizeof(uint16_t);
  }
  //! Moves the live slots into a new block of `cap` slots and `rules` positions (positions of
  //! rules past `rules` are dropped: their slots must already be gone).
  void reshape(uint16_t cap, uint16_t rules);
  void release();

  RuleSlot* block_ = nullptr;
  uint16_t rules_ = 0;
  uint16_t held_ = 0;
  uint16_t cap_ = 0;
};

//! A small map from rule id to a value: a vector, searched linearly (an elder has a handful of
//! entries at most; an unordered_map costs 56 bytes empty and a node per entry).
template <class V>
class RuleIdMap {
 public:
  using value_type = std::pair<std::string, V>;
  using iterator = value_type*;
  using const_iterator = const value_type*;

  V& operator[](std::string_view id) {
    for (auto& kv : items_) {
      if (kv.first == id) return kv.second;
    }
    return items_.emplace_back(std::string(id), V{}).second;
  }
  iterator find(std::string_view id) {
    return std::find_if(items_.begin(), items_.end(),
                        [&](const value_type& kv) { return kv.first == id; });
  }
  const_iterator find(std::string_view id) const {
    return std::find_if(items_.begin(), items_.end(),
                        [&](const value_type& kv) { return kv.first == id; });
  }
  const V& at(std::string_view id) const {
    auto it = find(id);
    if (it == items_.end()) throw std::out_of_range("no entry for rule " + std::string(id));
    return it->second;
  }
  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t heap_bytes() const {
    size_t n = items_.header_bytes() + items_.capacity() * sizeof(value_type);
    for (const auto& kv : items_) n += kv.first.capacity() > 15 ? kv.first.capacity() + 1 : 0;
    return n;
  }

 private:
  LazyVector<value_type> items_;  //!< one pointer for the many elders without entries
};

//! Per-rule alarm bookkeeping (escalations sent, flapping); see engine/alarm/README.md.
struct AlarmMeta {
  uint32_t escalated = 0;
  TimeMs flap_start = 0;
  uint32_t flaps = 0;
  bool held = false;
};

struct ElderState {
  //! The registry profile: its serialised bytes and interned timezone (profile.h). The flags
  //! below may sit in its tail padding.
  [[no_unique_address]] Profile profile;
  bool registered = false;     //!< false until a registry entry arrived (events still count)
  bool dirty = false;          //!< changed since the last checkpoint
  bool profile_dirty = false;  //!< profile or devices changed since the last checkpoint
  //! The registry's devices as their p/ bytes: ElderRecord field 3 entries (tag, length, Device),
  //! in arrival order. Only the checkpoint and the rare registry paths read them (devices(),
  //! apply_device), so they are kept serialised: ~30 bytes a device instead of ~200 as protos.
  std::string device_records;
  SlotMap slots;                             //!< indexed like the RuleSet's rules
  LazyVector<vigil::v1::AlarmEvent> alarms;  //!< open (not CLOSED) alarms, one per rule at most
  RuleIdMap<uint32_t> alarm_seq;             //!< rule_id -> alarms raised so far
  RuleIdMap<AlarmMeta> alarm_meta;           //!< rule_id -> bookkeeping
  //! Devices seen by rules, slots hold index + 1: the ids one after another, each after a
  //! length byte, in one string (a vector of strings cost 32 bytes a name plus its doubling).
  std::string device_names;

  //! The index (from 1) of a device id, added if new; 0 for none, past 255 devices or an id
  //! longer than 255 bytes.
  uint16_t intern_device(std::string_view id);
  //! The device id of an index from intern_device ("" for 0); valid until the next intern.
  std::string_view device_name(uint16_t index) const;
  //! Number of interned device ids.
  size_t device_count() const;

  //! Asks the CPU for the heap lines an event reads first: the id (the lookup compares it),
  //! the rule slots and the device names (the shard's look-ahead, Engine::shard_loop).
  void prefetch_heap() const {
    vigil::prefetch(profile.bytes().data());
    slots.prefetch();
    vigil::prefetch(device_names.data());
  }

  double geofence_radius_m() const {
    return profile.has_geofence_radius_m() ? profile.geofence_radius_m() : kDefaultGeofenceM;
  }
  const std::string& timezone() const;
};

//! Applies a registry Elder to the state (keeps rule and alarm state).
void apply_profile(ElderState& s, const vigil::v1::Elder& elder);
//! Adds or replaces a device by device_id.
void apply_device(ElderState& s, const vigil::v1::Device& device);
//! The registry's devices of `s`, parsed from device_records (rare paths: tools, tests).
std::vector<vigil::v1::Device> devices(const ElderState& s);

//! Bytes one elder's state holds in memory: the struct and what it owns on the heap (strings,
//! vectors, protos; allocator overhead not counted). The figure issue #6's "state per elder"
//! is measured with (bench/README.md, "Memory").
size_t memory_bytes(const ElderState& s);

//! Appends the registry part (ElderRecord fields elder, registered, devices) to `out`, writing
//! the protos in place rather than copying them into a record.
void append_profile(const ElderState& s, std::string* out);
//! Appends the rule and alarm part (ElderRecord fields slots, base_ms, device_names, alarms,
//! alarm_seq, alarm_meta) to `out`, encoding the wire format directly: steady-state serialising
//! allocates nothing beyond `out` and builds no message objects. `rule_keys[i]` is rule_key() of
//! slot i's rule. Parses as the same fields to_record() fills.
void append_dynamic(const ElderState& s, std::span<const uint64_t> rule_keys, std::string* out);
//! The same, computing the keys (tests, tools).
void append_dynamic(const ElderState& s, const std::vector<std::string>& rule_ids,
                    std::string* out);
//! Applies what a record holds to `s`: the registry part if present, rule slots by rule key
//! (`slots`) or by rule id (`rules`, as checkpoints wrote them before 2026-12-05), alarms and
//! counters. Takes either part alone (p/, e/) or a whole record. `rule_keys` as for
//! append_dynamic; computed when empty.
void merge_record(ElderState& s, const vigil::state::ElderRecord& r,
                  const std::vector<std::string>& rule_ids,
                  std::span<const uint64_t> rule_keys = {});

//! Serialises the whole state (both parts; tests and tools); rule slots are written with their rule
//! ids so a changed rule set can map them back (`rule_ids[i]` names slot i).
vigil::state::ElderRecord to_record(const ElderState& s, const std::vector<std::string>& rule_ids);
//! Restores a state; slots of rules that no longer exist are dropped, new rules start empty.
ElderState from_record(const vigil::state::ElderRecord& r,
                       const std::vector<std::string>& rule_ids);

}  // namespace vigil::registry
