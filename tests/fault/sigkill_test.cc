// Exactly-once outputs under SIGKILL (issue #6, engine/state/README.md "Exactly-once outputs").
//
// The same input goes to two embedded brokers. `vigil run` processes one of them without
// interruption (the reference); on the other it is killed with SIGKILL at random moments while
// the input is still being produced, and restarted on the same data directory each time. Then
// every output record of both runs is compared: nothing missing, nothing extra, nothing doubled.
//
// Outputs are compared without the fields that come from the wall clock at the moment a record
// is made (offer and order-event times, task creation times, the "(late: ...)" note of a timer
// that fired after a restart): those differ between any two runs, crashed or not. What
// identifies a record (ids, states, counts, severities, keys, order of attempts) must match.
// The input is built so that the set of outputs does not depend on timing: escalations are due
// before the run starts (event time ten minutes ago), offers never expire during the test, and
// each category has one agency, so ranking never depends on which order reached it first.

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/tests/kafka_test_util.h"
#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "engine/egress/sink.h"
#include "schemas/calls.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

extern char** environ;

namespace vigil::testing {
namespace {

constexpr int kPartitions = 4;
constexpr int kElders = 400;

struct Input {
  std::string topic;
  std::string key;
  std::string value;
};

//! Registry first, then rounds of telemetry and calls; deterministic.
std::vector<Input> make_input(TimeMs t0) {
  std::vector<Input> in;
  auto add_agency = [&](const std::string& id, const std::string& category) {
    vigil::v1::RegistryUpdate u;
    auto* a = u.mutable_agency();
    a->set_agency_id(id);
    a->add_categories(category);
    a->set_lat(31.2300);
    a->set_lon(121.4700);
    a->set_capacity(100000);
    a->set_rating(4.5);
    a->set_active(true);
    in.push_back({"registry", id, u.SerializeAsString()});
  };
  add_agency("ag-emergency", "emergency_response");
  add_agency("ag-meal", "meal_delivery");
  for (int e = 0; e < kElders; ++e) {
    vigil::v1::RegistryUpdate u;
    auto* el = u.mutable_elder();
    el->set_elder_id("e" + std::to_string(e));
    el->set_home_lat(31.2300 + 0.0001 * (e % 30));
    el->set_home_lon(121.4700 + 0.0001 * (e / 30));
    in.push_back({"registry", el->elder_id(), u.SerializeAsString()});
  }
  std::mt19937 rng(7);
  const char* kinds[] = {"heart_rate", "spo2", "motion", "heartbeat", "body_temperature"};
  TimeMs ts = t0;
  for (int round = 0; round < 60; ++round) {
    for (int e = 0; e < kElders; ++e) {
      const std::string elder = "e" + std::to_string(e);
      vigil::v1::DeviceEvent ev;
      ev.set_elder_id(elder);
      ev.set_device_id(elder + "-band");
      ts += 1;
      set_ts(ev.mutable_ts(), ts);
      const uint32_t roll = rng() % 1000;
      if (roll < 6) {
        ev.set_type(roll < 3 ? "sos" : (roll < 5 ? "water_leak" : "smoke"));
        ev.set_value(1);
      } else {
        const char* kind = kinds[rng() % 5];
        ev.set_type(kind);
        const std::string k = kind;
        ev.set_value(k == "heart_rate" ? 60 + rng() % 30 : k == "spo2" ? 95 + rng() % 4
                     : k == "body_temperature" ? 36.5 : 1);
      }
      ev.set_event_id(elder + "-" + std::to_string(round));
      in.push_back({"telemetry", elder, ev.SerializeAsString()});
      if (roll >= 990) {  // a service request: an order for the meal agency
        vigil::v1::CallEvent c;
        c.set_call_id("call-" + elder + "-" + std::to_string(round));
        c.set_elder_id(elder);
        c.set_operator_id("op-1");
        set_ts(c.mutable_ts(), ts);
        auto* r = c.mutable_service_request();
        r->set_category("meal_delivery");
        set_ts(r->mutable_window_start(), t0 + 3'600'000);
        set_ts(r->mutable_window_end(), t0 + 7'200'000);
        r->set_priority(vigil::v1::NORMAL);
        in.push_back({"calls", elder, c.SerializeAsString()});
      } else if (roll >= 985) {  // bad input: a deadletter each
        in.push_back({"telemetry", elder, "\xff\xfe not a DeviceEvent " + std::to_string(round)});
      }
    }
  }
  return in;
}

//! `vigil run` as a child process.
class Vigil {
 public:
  Vigil(std::string brokers, std::string data_dir, std::string config, std::string log)
      : brokers_(std::move(brokers)), data_(std::move(data_dir)), config_(std::move(config)),
        log_(std::move(log)) {}
  ~Vigil() { kill_now(); }

  void start() {
    std::vector<std::string> args = {VIGIL_BIN,   "run",          "--brokers", brokers_,
                                     "--data-dir", data_,         "--rules",
                                     VIGIL_SOURCE_DIR "/rules/eldercare", "--config", config_,
                                     "--http",     "off",  "--progress", "0.5"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    ASSERT_EQ(posix_spawn(&pid_, VIGIL_BIN, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  //! SIGTERM: final checkpoint and clean stop. Returns the exit status.
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

 private:
  std::string brokers_, data_, config_, log_;
  pid_t pid_ = -1;
};

//! One output record without its wall-clock fields, as a comparable line.
std::string normalised(OutTopic topic, const std::string& key, const std::string& bytes) {
  auto msg = codec::new_message(topic);
  if (!msg->ParseFromString(bytes)) return "unparsable:" + std::string(name(topic)) + ":" + key;
  const auto* d = msg->GetDescriptor();
  const auto* r = msg->GetReflection();
  for (const char* wall : {"offered_at", "expires_at", "created_at", "updated_at"}) {
    if (const auto* f = d->FindFieldByName(wall)) r->ClearField(msg.get(), f);
  }
  if (topic == OutTopic::kTracking || topic == OutTopic::kDeadletter) {
    r->ClearField(msg.get(), d->FindFieldByName("ts"));
  }
  std::string json = codec::to_json(*msg);
  static const std::regex late(R"( \(late: [^)]*\))");
  json = std::regex_replace(json, late, "");
  return std::string(name(topic)) + "|" + key + "|" + json;
}

std::map<std::string, int> outputs_of(const std::string& brokers) {
  std::map<std::string, int> out;
  for (OutTopic t : kOutputs) {
    for (const auto& r : broker::testing::consume_to_end(brokers, TopicNames().of(t), kPartitions)) {
      ++out[normalised(t, r.key, r.payload)];
    }
  }
  return out;
}

//! The sum of the end offsets of every output partition (grows when the engine delivers), or
//! -1 if one could not be read.
int64_t output_end(rd_kafka_t* rk) {
  int64_t sum = 0;
  for (OutTopic t : kOutputs) {
    for (int p = 0; p < kPartitions; ++p) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, TopicNames().of(t).c_str(), p, &lo, &hi, 5000) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          hi < 0) {
        return -1;
      }
      sum += hi;
    }
  }
  return sum;
}

size_t total(const std::map<std::string, int>& m) {
  size_t n = 0;
  for (const auto& [k, c] : m) n += static_cast<size_t>(c);
  return n;
}

//! Waits until the outputs on `brokers` stop changing for a few seconds (the engine is idle).
std::map<std::string, int> settled_outputs(const std::string& brokers, int max_s) {
  std::map<std::string, int> last;
  size_t last_n = SIZE_MAX;
  int same = 0;
  for (int i = 0; i < max_s; i += 2) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    last = outputs_of(brokers);
    const size_t n = total(last);
    same = (n == last_n && n > 0) ? same + 1 : 0;
    last_n = n;
    if (same >= 2) break;
  }
  return last;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.path() + "/vigil.yaml";
    std::ofstream(config_) << "commit_interval_ms: 200\n"
                           << (std::getenv("VIGIL_FAULT_AT_LEAST_ONCE") ? "exactly_once: false\n" : "")
                           << "dispatch:\n  offer_timeout_s: 7200\n  offer_timeout_emergency_s: 7200\n";
  }
  TempDir dir_;
  std::string config_;
};

TEST_F(FaultTest, SigkillAtRandomPointsLosesAndDoublesNoOutput) {
  // Event time ten minutes ago: every escalation (60 s, 180 s) is due when its alarm is raised,
  // in both runs alike.
  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0);
  std::cout << "input: " << input.size() << " records" << std::endl;

  auto ref_broker = broker::EmbeddedBroker::start(1, kPartitions, TopicNames());
  auto flt_broker = broker::EmbeddedBroker::start(1, kPartitions, TopicNames());
  ASSERT_TRUE(ref_broker && flt_broker);
  const std::string ref_brokers = ref_broker.value()->bootstrap_servers();
  const std::string flt_brokers = flt_broker.value()->bootstrap_servers();

  // Reference: all input, one uninterrupted run, clean stop.
  {
    TestProducer p(ref_brokers);
    for (const auto& r : input) p.send(r.topic, r.key, r.value);
    p.flush();
  }
  std::map<std::string, int> reference;
  {
    Vigil ref(ref_brokers, dir_.path() + "/ref", config_, dir_.path() + "/ref.log");
    ref.start();
    reference = settled_outputs(ref_brokers, 120);
    EXPECT_EQ(ref.stop(), 0);
  }
  std::cout << "reference run: " << total(reference) << " output records, " << reference.size()
            << " distinct" << std::endl;
  ASSERT_GT(total(reference), 200u);

  // Faulted: the input arrives over several seconds while the engine is killed and restarted.
  const uint32_t seed = static_cast<uint32_t>(std::random_device{}());
  std::cout << "fault seed " << seed << std::endl;
  std::mt19937 rng(seed);
  Vigil flt(flt_brokers, dir_.path() + "/flt", config_, dir_.path() + "/flt.log");
  flt.start();
  std::atomic<bool> produced{false};
  std::thread producer([&] {
    TestProducer p(flt_brokers);
    for (size_t i = 0; i < input.size(); ++i) {
      p.send(input[i].topic, input[i].key, input[i].value);
      if (i % 500 == 499) {  // ~35 s of input: the engine is busy across every kill
        p.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
      }
    }
    p.flush();
    produced = true;
  });
  // Each kill lands while the engine is delivering again (its outputs grow after the restart's
  // group rebalance), at a random moment shortly after that.
  auto conf = broker::make_conf({{"bootstrap.servers", flt_brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  int kills = 0;
  for (int k = 0; k < 3; ++k) {
    const int64_t deadline = RealClock::instance().steady_ns() + 60'000'000'000;
    int64_t before = -1;
    while ((before = output_end(watcher.value().get())) < 0 &&
           RealClock::instance().steady_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    while (output_end(watcher.value().get()) < before + 20 &&
           RealClock::instance().steady_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Soon after outputs appear: in the middle of a checkpoint's delivery, or (with outputs sent
    // at once) before the checkpoint that covers them, the moments a crash is most likely to
    // lose or double something.
    const int wait_ms = static_cast<int>(rng() % 150);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    flt.kill_now();
    ++kills;
    std::cout << "SIGKILL " << kills << ", " << wait_ms << " ms after outputs resumed (" << before
              << " output records before)" << std::endl;
    flt.start();
  }
  producer.join();
  ASSERT_TRUE(produced.load());
  const auto faulted = settled_outputs(flt_brokers, 150);
  EXPECT_EQ(flt.stop(), 0);

  size_t missing = 0, extra = 0, doubled = 0;
  for (const auto& [line, n] : reference) {
    auto it = faulted.find(line);
    const int got = it == faulted.end() ? 0 : it->second;
    if (got < n) {
      missing += static_cast<size_t>(n - got);
      if (missing <= 5) ADD_FAILURE() << "missing: " << line;
    }
    if (got > n) {
      doubled += static_cast<size_t>(got - n);
      if (doubled <= 5) ADD_FAILURE() << "doubled: " << line;
    }
  }
  for (const auto& [line, n] : faulted) {
    if (reference.count(line) == 0) {
      extra += static_cast<size_t>(n);
      if (extra <= 5) ADD_FAILURE() << "extra: " << line;
    }
  }
  std::cout << "faulted run (" << kills << " SIGKILLs): " << total(faulted)
            << " output records; missing " << missing << ", extra " << extra << ", doubled "
            << doubled << std::endl;
  {
    std::ifstream log(dir_.path() + "/flt.log");
    for (std::string line; std::getline(log, line);) {
      if (line.find("delivered again") != std::string::npos || (line.rfind("engine: ", 0) == 0 && line.find(", outputs ") != std::string::npos)) {
        std::cout << "  log: " << line << "\n";
      }
    }
  }
  if (const char* keep = std::getenv("VIGIL_FAULT_KEEP_LOG")) {  // for investigating a failure
    std::ifstream from(dir_.path() + "/flt.log");
    std::ofstream(keep) << from.rdbuf();
  }
  EXPECT_EQ(missing + extra + doubled, 0u);
  EXPECT_EQ(kills, 3);
}

}  // namespace
}  // namespace vigil::testing
