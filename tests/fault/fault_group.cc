// The multi-instance parts of tests/fault/fault_util.h: the fall input of the rebalance test, a
// group of `vigil run` processes, and counts read back from the output topics.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "engine/broker/tests/kafka_test_util.h"
#include "engine/codec/topics.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/fault/fault_util.h"

namespace vigil::testing {

std::vector<Input> make_fall_input(int n, TimeMs fall_ts, TimeMs marker_ts) {
  std::vector<Input> in;
  for (int i = 0; i < n; ++i) {
    vigil::v1::RegistryUpdate u;
    auto* el = u.mutable_elder();
    el->set_elder_id("f" + std::to_string(i));
    el->set_home_lat(31.2350 + 0.0001 * i);
    el->set_home_lon(121.4750);
    in.push_back({"registry", el->elder_id(), u.SerializeAsString()});
  }
  auto event = [&](int i, const char* type, TimeMs ts) {
    const std::string elder = "f" + std::to_string(i);
    vigil::v1::DeviceEvent ev;
    ev.set_elder_id(elder);
    ev.set_device_id(elder + "-band");
    ev.set_type(type);
    ev.set_value(1);
    set_ts(ev.mutable_ts(), ts);
    ev.set_event_id(elder + "-" + type);
    in.push_back({"telemetry", elder, ev.SerializeAsString()});
  };
  for (int i = 0; i < n; ++i) event(i, "fall", fall_ts + i);
  for (int i = 0; i < n; ++i) event(i, "water_leak", marker_ts + i);
  return in;
}

Vigil& Group::operator[](const std::string& name) {
  for (auto& [n, v] : members_) {
    if (n == name) return *v;
  }
  members_.emplace_back(name, std::make_unique<Vigil>(brokers_, dir_ + "/" + name, config_, log(name)));
  return *members_.back().second;
}

int Group::assigned(const std::string& name) const {
  static const std::regex re(R"(rebalance: (\d+) input partitions assigned)");
  std::ifstream in(log(name));
  int last = -1;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, re)) last = std::stoi(m[1]);
  }
  return last;
}

int Group::log_lines(const std::string& name, const std::string& pattern) const {
  const std::regex re(pattern);
  std::ifstream in(log(name));
  int n = 0;
  for (std::string line; std::getline(in, line);) n += std::regex_search(line, re);
  return n;
}

bool Group::wait_assigned(const std::vector<std::string>& names, int timeout_s) const {
  for (int i = 0; i < timeout_s * 10; ++i) {
    bool all = true;
    for (const auto& n : names) all = all && assigned(n) > 0;
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool Group::start(const std::vector<std::string>& names, int timeout_s) {
  for (const auto& n : names) {
    if (!(*this)[n].start()) return false;
  }
  return wait_assigned(names, timeout_s);
}

bool Group::wait_all_owned(int partitions, int timeout_s) const {
  for (int i = 0; i < timeout_s * 10; ++i) {
    int owned = 0;
    for (const auto& [name, member] : members_) {
      if (member->alive()) owned += std::max(0, assigned(name));
    }
    if (owned == partitions) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string Group::describe() const {
  std::ostringstream out;
  for (const auto& [n, v] : members_) {
    out << (out.tellp() > 0 ? "; " : "") << n << ": " << assigned(n)
        << " input partitions at its last rebalance, tasks restored "
        << log_lines(n, R"(task \d+: restored)") << ", handed over "
        << log_lines(n, R"(task \d+: handed over)") << ", lost " << log_lines(n, R"(task \d+: lost)")
        << ", taken back (lines) " << log_lines(n, "tasks taken back:");
  }
  return out.str();
}

bool Group::stop_all() {
  bool ok = true;
  for (auto& [n, v] : members_) {
    if (!v->alive()) continue;
    const int rc = v->stop();
    if (rc != 0) ADD_FAILURE() << "instance " << n << " exited " << rc << "; log " << log(n);
    ok = ok && rc == 0;
  }
  return ok;
}

std::map<std::string, int> raises_of(const std::string& brokers, const std::string& rule_id) {
  std::map<std::string, int> out;
  for (const auto& r : broker::testing::consume_to_end(brokers, TopicNames().of(OutTopic::kAlarms),
                                                       kFaultPartitions)) {
    vigil::v1::AlarmEvent a;
    if (a.ParseFromString(r.payload) && a.rule_id() == rule_id &&
        a.status() == vigil::v1::ACTIVE_UNACK) {
      ++out[a.elder_id()];
    }
  }
  return out;
}

std::map<std::pair<std::string, uint32_t>, int> offers_of(const std::string& brokers) {
  std::map<std::pair<std::string, uint32_t>, int> out;
  for (const auto& r : broker::testing::consume_to_end(
           brokers, TopicNames().of(OutTopic::kDispatch), kFaultPartitions)) {
    vigil::v1::DispatchOffer o;
    if (o.ParseFromString(r.payload)) ++out[{o.order_id(), o.attempt()}];
  }
  return out;
}

std::set<int32_t> partitions_of_keys(const std::string& brokers, const std::string& topic,
                                     const std::string& key_prefix) {
  std::set<int32_t> out;
  for (const auto& r : broker::testing::consume_to_end(brokers, topic, kFaultPartitions)) {
    if (r.key.rfind(key_prefix, 0) == 0) out.insert(r.partition);
  }
  return out;
}

}  // namespace vigil::testing
