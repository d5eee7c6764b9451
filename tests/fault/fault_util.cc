#include "tests/fault/fault_util.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "engine/broker/tests/kafka_test_util.h"
#include "engine/codec/codec.h"
#include "engine/codec/topics.h"
#include "schemas/calls.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"
#include "tests/integration/kafka_test_util.h"

extern char** environ;

namespace vigil::testing {

std::vector<Input> make_input(TimeMs t0, int elders, int rounds) {
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
  for (int e = 0; e < elders; ++e) {
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
  for (int round = 0; round < rounds; ++round) {
    for (int e = 0; e < elders; ++e) {
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

bool Vigil::start() {
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
  const int rc = posix_spawn(&pid_, VIGIL_BIN, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) pid_ = -1;
  return rc == 0;
}

void Vigil::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Vigil::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int Vigil::wait_exit(int timeout_s) {
  if (pid_ <= 0) return -1;
  for (int i = 0; i < timeout_s * 10; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

bool Vigil::alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

namespace {

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

}  // namespace

std::map<std::string, int> outputs_of(const std::string& brokers) {
  std::map<std::string, int> out;
  for (OutTopic t : kOutputs) {
    for (const auto& r :
         broker::testing::consume_to_end(brokers, TopicNames().of(t), kFaultPartitions)) {
      ++out[normalised(t, r.key, r.payload)];
    }
  }
  return out;
}

namespace {
//! The sum of the end offsets of the named topics' partitions, -1 if one could not be read.
int64_t end_of(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  int64_t sum = 0;
  for (const auto& topic : topics) {
    for (int p = 0; p < kFaultPartitions; ++p) {
      int64_t lo = 0, hi = 0;
      if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          hi < 0) {
        return -1;
      }
      sum += hi;
    }
  }
  return sum;
}
}  // namespace

int64_t output_end(rd_kafka_t* rk) {
  std::vector<std::string> topics;
  for (OutTopic t : kOutputs) topics.push_back(TopicNames().of(t));
  return end_of(rk, topics);
}

bool register_first(const std::string& brokers, const std::vector<Input>& input, int timeout_s) {
  std::vector<Input> registry;
  int64_t agencies = 0;
  for (const auto& r : input) {
    if (r.topic != "registry") continue;
    registry.push_back(r);
    if (r.key.rfind("ag-", 0) == 0) ++agencies;
  }
  std::atomic<bool> produced{false};
  produce_input(brokers, registry, 0, registry.size(), 0, produced);
  auto conf = broker::make_conf({{"bootstrap.servers", brokers}});
  if (!conf) return false;
  auto client = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!client) return false;
  rd_kafka_t* rk = client.value().get();
  const TopicNames names;
  for (int i = 0; i < timeout_s * 10; ++i) {
    // Agencies forwarded to their region's owner; every entry in a checkpoint (p/ or g/).
    if (end_of(rk, {names.of(OutTopic::kOrders)}) >= agencies &&
        end_of(rk, {names.changelog()}) >= static_cast<int64_t>(registry.size())) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

size_t total(const std::map<std::string, int>& m) {
  size_t n = 0;
  for (const auto& [k, c] : m) n += static_cast<size_t>(c);
  return n;
}

std::map<std::string, int> outputs_reaching(const std::string& brokers, size_t at_least, int max_s) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(max_s);
  while (total(outputs_of(brokers)) < at_least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::cout << "outputs reached " << at_least << " records after "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count()
            << " s" << std::endl;
  return settled_outputs(brokers, max_s);
}

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

Comparison compare_outputs(const std::map<std::string, int>& reference,
                           const std::map<std::string, int>& faulted) {
  Comparison c;
  for (const auto& [line, n] : reference) {
    auto it = faulted.find(line);
    const int got = it == faulted.end() ? 0 : it->second;
    if (got < n) {
      c.missing += static_cast<size_t>(n - got);
      if (c.missing <= 5) ADD_FAILURE() << "missing: " << line;
    }
    if (got > n) {
      c.doubled += static_cast<size_t>(got - n);
      if (c.doubled <= 5) ADD_FAILURE() << "doubled: " << line;
    }
  }
  for (const auto& [line, n] : faulted) {
    if (reference.count(line) == 0) {
      c.extra += static_cast<size_t>(n);
      if (c.extra <= 5) ADD_FAILURE() << "extra: " << line;
    }
  }
  return c;
}

std::map<std::string, int> reference_run(const std::vector<Input>& input, const std::string& brokers,
                                         const std::string& data_dir, const std::string& config,
                                         const std::string& log) {
  {
    TestProducer p(brokers);
    for (const auto& r : input) p.send(r.topic, r.key, r.value);
    p.flush();
  }
  Vigil ref(brokers, data_dir, config, log);
  EXPECT_TRUE(ref.start());
  auto reference = settled_outputs(brokers, 120);
  EXPECT_EQ(ref.stop(), 0);
  std::cout << "reference run: " << total(reference) << " output records, " << reference.size()
            << " distinct" << std::endl;
  return reference;
}

bool start_fault_brokers(FaultSetup* setup) {
  auto ref = broker::EmbeddedBroker::start(1, kFaultPartitions, TopicNames());
  auto flt = broker::EmbeddedBroker::start(1, kFaultPartitions, TopicNames());
  if (!ref || !flt) {
    ADD_FAILURE() << "an embedded broker did not start";
    return false;
  }
  setup->ref = std::move(ref).value();
  setup->flt = std::move(flt).value();
  setup->flt_brokers = setup->flt->bootstrap_servers();
  return true;
}

bool start_fault_setup(const std::vector<Input>& input, const std::string& dir,
                       const std::string& config, FaultSetup* setup) {
  if (!start_fault_brokers(setup)) return false;
  setup->reference = reference_run(input, setup->ref->bootstrap_servers(), dir + "/ref", config,
                                   dir + "/ref.log");
  return true;
}

void produce_input(const std::string& brokers, const std::vector<Input>& input, size_t from,
                   size_t to, int pause_ms, std::atomic<bool>& produced) {
  TestProducer p(brokers);
  for (size_t i = from; i < to; ++i) {
    p.send(input[i].topic, input[i].key, input[i].value);
    if (pause_ms > 0 && (i - from) % 500 == 499) {
      p.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
  }
  p.flush();
  produced = true;
}

namespace {

std::string write_config(const std::string& dir, const std::string& top,
                         const std::string& dispatch) {
  const std::string path = dir + "/vigil.yaml";
  std::ofstream(path) << "commit_interval_ms: 200\n"
                      << (std::getenv("VIGIL_FAULT_AT_LEAST_ONCE") ? "exactly_once: false\n" : "")
                      << top << "dispatch:\n" << dispatch
                      << "  offer_timeout_s: 7200\n  offer_timeout_emergency_s: 7200\n";
  return path;
}

}  // namespace

std::string write_fault_config(const std::string& dir, const std::string& top) {
  return write_config(dir, top, "");
}

std::string write_group_config(const std::string& dir) {
  return write_config(dir, "changelog: true\nchangelog_rewrite_mb: 2\ngroup_id: vigil-fault-group\n",
                      "  routing: kafka\n");
}

bool file_contains(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(needle) != std::string::npos;
}

}  // namespace vigil::testing
