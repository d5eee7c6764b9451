#pragma once
// What the rule engine's tests share: a fake RuleEffects that records raises, clears and
// reminders and keeps armed timers in a queue the test drives by hand, and a fixture over the
// shipped pack (rules/eldercare) with elders in Asia/Shanghai unless a test says otherwise.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/core/time_util.h"
#include "engine/pipeline/timer_queue.h"
#include "engine/rules/rule_engine.h"

namespace vigil::rules::test {

using registry::ElderState;

inline const std::string kSourceDir = VIGIL_SOURCE_DIR;
inline constexpr TimeMs kDay = 1772323200000;  // 2026-03-01T00:00:00Z
inline constexpr TimeMs kT0 = kDay + 2 * kHour;  // 10:00 in Asia/Shanghai: outside night schedules

struct Raised {
  std::string elder;
  std::string rule;
  std::string device;
  TimeMs ts;
  std::string message;
  vigil::v1::Severity severity = vigil::v1::SEVERITY_UNSPECIFIED;
};
struct Reminded {
  std::string elder;
  std::string kind;
  TimeMs ts;
  std::string message;
};
struct Cleared {
  std::string elder;
  std::string rule;
  TimeMs ts;
  std::string reason;
};

//! Records what the engine asks of the world; keeps "active" like an alarm book would and
//! hands armed timers to a queue the test drives by hand.
class FakeEffects final : public RuleEffects {
 public:
  explicit FakeEffects(const RuleSet& rules) : rules_(rules) {}

  void raise(ElderState& e, uint32_t rule, std::string_view device_id, TimeMs ts,
             const std::string& message) override {
    raise_with(e, rule, rules_.rules()[rule].severity, device_id, ts, message);
  }
  void raise_with(ElderState& e, uint32_t rule, vigil::v1::Severity severity,
                  std::string_view device_id, TimeMs ts, const std::string& message) override {
    raised.push_back({std::string(e.profile.elder_id()), id(rule), std::string(device_id), ts, message, severity});
    active_.insert({std::string(e.profile.elder_id()), rule});
  }
  void remind(const ElderState& e, uint32_t, std::string_view kind, TimeMs ts,
              const std::string& message) override {
    reminded.push_back({std::string(e.profile.elder_id()), std::string(kind), ts, message});
  }
  void clear(ElderState& e, uint32_t rule, TimeMs ts, std::string_view reason) override {
    if (active_.erase({std::string(e.profile.elder_id()), rule}) == 0) return;
    cleared.push_back({std::string(e.profile.elder_id()), id(rule), ts, std::string(reason)});
  }
  bool active(const ElderState& e, uint32_t rule) const override {
    return active_.count({std::string(e.profile.elder_id()), rule}) != 0;
  }
  void arm(const ElderState& e, uint32_t rule, TimeMs due, uint64_t generation) override {
    ++arms;
    timers.arm(due, 0, rule, generation, std::string(e.profile.elder_id()));
  }

  std::vector<Raised> raised;
  std::vector<Reminded> reminded;
  std::vector<Cleared> cleared;
  pipeline::TimerQueue timers;
  int arms = 0;

 private:
  std::string id(uint32_t rule) const { return rules_.rules()[rule].id; }
  const RuleSet& rules_;
  std::set<std::pair<std::string, uint32_t>> active_;
};

inline std::shared_ptr<const RuleSet> pack() {
  static auto loaded = load_rule_dir(kSourceDir + "/rules/eldercare");
  EXPECT_TRUE(loaded.ok());
  return loaded.rules;
}

class RuleEngineTest : public ::testing::Test {
 protected:
  RuleEngineTest() : engine_(pack()), fx_(engine_.rules()) {}

  ElderState& elder(const std::string& id, const std::string& tz = "Asia/Shanghai") {
    auto [it, inserted] = elders_.try_emplace(id);
    if (inserted) {
      vigil::v1::Elder p;
      p.set_elder_id(id);
      p.set_timezone(tz);
      registry::apply_profile(it->second, p);
    }
    return it->second;
  }

  void event(const std::string& elder_id, const std::string& type, double value, TimeMs ts,
             double value2 = 0) {
    advance_to(ts);  // as replay does: timers due by the event's time fire first
    vigil::v1::DeviceEvent ev;
    ev.set_elder_id(elder_id);
    ev.set_device_id(elder_id + "-" + type);
    ev.set_type(type);
    ev.set_value(value);
    ev.set_value2(value2);
    set_ts(ev.mutable_ts(), ts);
    engine_.on_event(elder(elder_id), ev, ts, fx_);
  }

  //! Fires every timer due at or before `t`, earliest first, each at its own due time.
  void advance_to(TimeMs t) {
    pipeline::Timer timer;
    int fired = 0;
    while (fx_.timers.pop_due(t, &timer)) {
      ASSERT_LT(++fired, 1000) << "timers keep re-arming at or before " << format_rfc3339(t)
                               << " (last due " << format_rfc3339(timer.due) << ")";
      engine_.on_timer(elder(timer.key), timer.slot, timer.generation, timer.due, fx_);
    }
  }

  //! Nothing of `rule` raised until just before `t`, then exactly one raise, at `t`.
  void expect_first_raise_at(const std::string& rule, TimeMs t) {
    advance_to(t - 1);
    EXPECT_TRUE(raised(rule).empty()) << rule << " raised before " << format_rfc3339(t);
    advance_to(t);
    const auto r = raised(rule);
    ASSERT_EQ(r.size(), 1u) << rule << " at " << format_rfc3339(t);
    EXPECT_EQ(r[0].ts, t) << rule;
  }

  std::vector<Raised> raised(const std::string& rule) const {
    std::vector<Raised> out;
    for (const auto& r : fx_.raised) {
      if (r.rule == rule) out.push_back(r);
    }
    return out;
  }

  uint32_t index(const std::string& rule) const {
    return static_cast<uint32_t>(engine_.rules().index_of(rule));
  }

  RuleEngine engine_;
  FakeEffects fx_;
  std::map<std::string, ElderState> elders_;
};

}  // namespace vigil::rules::test
