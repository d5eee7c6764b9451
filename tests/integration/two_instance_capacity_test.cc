// Capacity across engine instances (issue #5): two `vigil run` processes in one consumer group
// on one embedded broker, `dispatch.routing: kafka` (docs/design.md "Several instances"). Elders
// whose registry and calls records sit on partitions owned by different instances all ask at
// once for a capacity-1 agency; the test plays the agency (accepts every offer it gets on the
// `dispatch` topic, completes it a moment later) and checks, from `dispatch` and `tracking`:
//   - the agency is never offered an order while it holds one (offered or accepted, not yet
//     completed by the agency): seen by the agency itself, so no clock is compared;
//   - from the `tracking` event times, never more than one order held or accepted at once;
//   - every order ends COMPLETED (the offered ones) or ESCALATED, none lost;
//   - requests reached the dispatcher from both instances (the `orders` records' output tags).
//
// Sharpness: VIGIL_CAPACITY_LOCAL_ROUTING=1 runs the same test with `dispatch.routing: local`
// (each instance its own dispatcher): it must fail with over-capacity offers. To make that run
// meaningful the agency's registry entry is written to every registry partition, so that both
// instances know it in local mode; in kafka mode its four copies all reach the region's owner,
// which applies the same entry four times (an upsert).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/broker/kafka_conf.h"
#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/core/time_util.h"
#include "engine/egress/sink.h"
#include "tests/integration/kafka_test_util.h"

extern char** environ;

namespace vigil::testing {
namespace {

constexpr int kPartitions = 4;
constexpr int kElders = 8;  // elder i: registry and calls on partition i % kPartitions
constexpr int kWaves = 3;
constexpr int64_t kCompleteAfterMs = 300;  // the agency finishes an accepted order this late
constexpr int kWaitMs = 30'000;            // bound of every wait

int64_t steady_ms() { return RealClock::instance().steady_ns() / 1'000'000; }

//! `vigil run` as a child process, its output appended to `log`.
class Vigil {
 public:
  Vigil(std::vector<std::string> args, std::string log)
      : args_(std::move(args)), log_(std::move(log)) {}
  ~Vigil() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool start() {
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawn(&pid_, VIGIL_BIN, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0;
  }
  //! SIGTERM (final checkpoint, clean stop); the exit status.
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  //! Input partitions assigned at the last rebalance the log reports, -1 before the first.
  int assigned() const {
    std::ifstream in(log_);
    std::string line;
    static const std::regex re(R"(rebalance: (\d+) input partitions assigned)");
    int last = -1;
    std::smatch m;
    while (std::getline(in, line)) {
      if (std::regex_search(line, m, re)) last = std::stoi(m[1]);
    }
    return last;
  }
  const std::string& log() const { return log_; }

 private:
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
};

struct Rec {
  std::string topic;  //!< bare name
  int32_t partition = 0;
  std::string key;
  std::string value;
  std::string tag;  //!< the engine's output tag header "<instance>/<epoch>/<index>", if any
};

//! A group-less read_committed consumer of every partition of some topics, from the beginning.
class Reader {
 public:
  Reader(const std::string& brokers, const std::vector<std::string>& bare_topics) {
    auto conf = broker::make_conf({{"bootstrap.servers", brokers},
                                   {"group.id", "two-instance-test"},
                                   {"enable.auto.commit", "false"},
                                   {"isolation.level", "read_committed"}});
    EXPECT_TRUE(conf);
    auto rk = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
    EXPECT_TRUE(rk);
    rk_ = std::move(rk).value();
    rd_kafka_poll_set_consumer(rk_.get());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(8);
    for (const auto& t : bare_topics) {
      for (int p = 0; p < kPartitions; ++p) {
        rd_kafka_topic_partition_list_add(list, names_.of(*parse_out_topic(t)).c_str(), p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    EXPECT_EQ(rd_kafka_assign(rk_.get(), list), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
  }
  ~Reader() { rd_kafka_consumer_close(rk_.get()); }
  //! Hands every record fetched within `ms` to `take`.
  void poll(int ms, const std::function<void(const Rec&)>& take) {
    int wait = ms;
    while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), wait)) {
      wait = 0;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        Rec r;
        r.topic = std::string(names_.strip(rd_kafka_topic_name(m->rkt)));
        r.partition = m->partition;
        if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
        if (m->payload) r.value.assign(static_cast<const char*>(m->payload), m->len);
        rd_kafka_headers_t* h = nullptr;
        const void* v = nullptr;
        size_t n = 0;
        if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(h, egress::kTagHeader, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          r.tag.assign(static_cast<const char*>(v), n);
        }
        take(r);
      }
      rd_kafka_message_destroy(m);
    }
  }

 private:
  TopicNames names_;
  broker::ClientPtr rk_;
};

//! A producer that writes to a given partition (or by key with RD_KAFKA_PARTITION_UA).
class Writer {
 public:
  explicit Writer(const std::string& brokers) {
    auto conf = broker::make_conf({{"bootstrap.servers", brokers}, {"linger.ms", "0"}});
    EXPECT_TRUE(conf);
    auto rk = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
    EXPECT_TRUE(rk);
    rk_ = std::move(rk).value();
  }
  ~Writer() { flush(); }
  void send(InTopic topic, int32_t partition, const std::string& key,
            const google::protobuf::Message& msg) {
    const std::string bytes = msg.SerializeAsString();
    const std::string name = TopicNames().of(topic);
    EXPECT_EQ(rd_kafka_producev(
                  rk_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(partition),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
                  RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void flush() { EXPECT_EQ(rd_kafka_flush(rk_.get(), kWaitMs), RD_KAFKA_RESP_ERR_NO_ERROR); }

 private:
  broker::ClientPtr rk_;
};

std::string instance_of(const std::string& tag) { return tag.substr(0, tag.find('/')); }

//! The most intervals [start, end) open at once; an end at the same instant as a start counts
//! first (the capacity was freed, then taken).
size_t peak(const std::vector<std::pair<int64_t, int64_t>>& intervals) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const auto& [s, e] : intervals) {
    edges.emplace_back(s, +1);
    edges.emplace_back(e, -1);
  }
  std::sort(edges.begin(), edges.end());  // -1 before +1 at equal times
  int open = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, open += d);
  return static_cast<size_t>(most);
}

TEST(TwoInstanceCapacity, SimultaneousOrdersFromTwoInstancesNeverPutACapacityOneAgencyOver) {
  const bool local = std::getenv("VIGIL_CAPACITY_LOCAL_ROUTING") != nullptr;
  const std::string routing = local ? "local" : "kafka";
  TempDir dir;
  auto embedded = broker::EmbeddedBroker::start(1, kPartitions, TopicNames());
  ASSERT_TRUE(embedded) << embedded.error().message;
  const std::string brokers = embedded.value()->bootstrap_servers();
  const std::string config = dir.path() + "/vigil.yaml";
  std::ofstream(config) << "commit_interval_ms: 200\n"
                        << "dispatch:\n  routing: " << routing
                        << "\n  offer_timeout_s: 7200\n  offer_timeout_emergency_s: 7200\n";
  auto make = [&](const std::string& name) {
    return std::make_unique<Vigil>(
        std::vector<std::string>{VIGIL_BIN, "run", "--brokers", brokers, "--data-dir",
                                 dir.path() + "/" + name, "--rules",
                                 VIGIL_SOURCE_DIR "/rules/eldercare", "--config", config, "--http",
                                 "off", "--shards", "2"},
        dir.path() + "/" + name + ".log");
  };
  auto a = make("a");
  auto b = make("b");
  ASSERT_TRUE(a->start());
  ASSERT_TRUE(b->start());

  // Both members hold part of every input topic (range assignor: partitions 0-1 and 2-3).
  const int inputs = (local ? 4 : 5) * kPartitions;
  const int64_t split_deadline = steady_ms() + 2 * kWaitMs;
  while (!(a->assigned() > 0 && b->assigned() > 0 && a->assigned() + b->assigned() == inputs)) {
    ASSERT_LT(steady_ms(), split_deadline)
        << "the group never split its partitions; logs in " << a->log() << ", " << b->log();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cout << "group split: instance a " << a->assigned() << ", b " << b->assigned()
            << " input partitions (routing " << routing << ")" << std::endl;

  Writer writer(brokers);
  for (int i = 0; i < kElders; ++i) {
    vigil::v1::RegistryUpdate u;
    auto* e = u.mutable_elder();
    e->set_elder_id("e" + std::to_string(i));
    e->set_name("n");
    e->set_home_lat(31.2304);
    e->set_home_lon(121.4737);
    e->set_region("r1");
    writer.send(InTopic::kRegistry, i % kPartitions, e->elder_id(), u);
  }
  vigil::v1::RegistryUpdate agency;
  auto* ag = agency.mutable_agency();
  ag->set_agency_id("one");
  ag->set_name("One");
  ag->set_region("r1");
  ag->add_categories("meal_delivery");
  ag->set_lat(31.2313);
  ag->set_lon(121.4737);
  ag->set_capacity(1);
  ag->set_rating(5);
  ag->set_active(true);
  for (int p = 0; p < kPartitions; ++p) writer.send(InTopic::kRegistry, p, "one", agency);
  writer.flush();

  Reader orders(brokers, {"orders"});
  std::map<std::string, int> requests_by_instance;  // routed requests per producing instance
  int agency_copies = 0;
  auto read_orders = [&](int ms) {
    orders.poll(ms, [&](const Rec& r) {
      vigil::v1::RoutedOrder o;
      ASSERT_TRUE(o.ParseFromString(r.value));
      if (o.has_request()) ++requests_by_instance[instance_of(r.tag)];
      if (o.has_input() && o.input().topic() == "registry") ++agency_copies;
    });
  };
  if (local) {
    std::this_thread::sleep_for(std::chrono::seconds(5));  // no signal to wait for: settle
  } else {
    // The four copies reached `orders`: each instance has read its registry partitions (elders
    // first) and the region's owner gets the agency before any request.
    const int64_t deadline = steady_ms() + kWaitMs;
    while (agency_copies < kPartitions && steady_ms() < deadline) read_orders(200);
    ASSERT_EQ(agency_copies, kPartitions);
  }

  Reader outputs(brokers, {"dispatch", "tracking"});
  std::map<std::string, std::vector<vigil::v1::OrderEvent>> events;  // by order, in order
  std::set<std::string> outstanding;           // held by the agency: offered, not finished
  std::map<std::string, int64_t> complete_at;  // accepted orders, when the agency finishes
  int offers = 0, over_capacity_offers = 0;
  auto pump = [&](int ms) {
    outputs.poll(ms, [&](const Rec& r) {
      if (r.topic == "dispatch") {
        vigil::v1::DispatchOffer offer;
        ASSERT_TRUE(offer.ParseFromString(r.value));
        if (offer.agency_id() != "one") return;
        ++offers;
        if (!outstanding.empty()) {
          ++over_capacity_offers;
          std::cout << "OVER CAPACITY: offer of " << offer.order_id() << " while the agency holds "
                    << *outstanding.begin() << std::endl;
        }
        outstanding.insert(offer.order_id());
        vigil::v1::AgencyUpdate u;
        u.set_agency_id("one");
        u.set_order_id(offer.order_id());
        u.set_status(vigil::v1::AgencyUpdate::ACCEPTED);
        set_ts(u.mutable_ts(), RealClock::instance().now_ms());
        writer.send(InTopic::kAgency, RD_KAFKA_PARTITION_UA, offer.order_id(), u);
        writer.flush();
        complete_at[offer.order_id()] = steady_ms() + kCompleteAfterMs;
      } else {
        vigil::v1::OrderEvent e;
        ASSERT_TRUE(e.ParseFromString(r.value));
        events[e.order_id()].push_back(e);
      }
    });
    for (auto it = complete_at.begin(); it != complete_at.end();) {
      if (steady_ms() < it->second) {
        ++it;
        continue;
      }
      vigil::v1::AgencyUpdate u;
      u.set_agency_id("one");
      u.set_order_id(it->first);
      u.set_status(vigil::v1::AgencyUpdate::COMPLETED);
      set_ts(u.mutable_ts(), RealClock::instance().now_ms());
      writer.send(InTopic::kAgency, RD_KAFKA_PARTITION_UA, it->first, u);
      writer.flush();
      outstanding.erase(it->first);  // from now on the dispatcher may offer it another order
      it = complete_at.erase(it);
    }
  };
  auto final_state = [&](const std::string& order) {
    auto it = events.find(order);
    return it == events.end() ? vigil::v1::ORDER_STATE_UNSPECIFIED : it->second.back().state();
  };

  std::vector<std::string> all_orders;
  int unsettled_waves = 0;
  for (int w = 0; w < kWaves; ++w) {
    std::vector<std::string> wave;
    for (int i = 0; i < kElders; ++i) {  // every elder at once, from both instances' partitions
      vigil::v1::CallEvent c;
      c.set_call_id("w" + std::to_string(w) + "-e" + std::to_string(i));
      c.set_elder_id("e" + std::to_string(i));
      c.set_operator_id("op1");
      set_ts(c.mutable_ts(), RealClock::instance().now_ms());
      c.mutable_service_request()->set_category("meal_delivery");
      writer.send(InTopic::kCalls, i % kPartitions, c.elder_id(), c);
      wave.push_back(c.call_id());
    }
    writer.flush();
    // The wave is settled when each order is COMPLETED or ESCALATED and the agency is idle.
    auto settled = [&] {
      if (!complete_at.empty()) return false;
      for (const auto& o : wave) {
        const auto s = final_state(o);
        if (s != vigil::v1::COMPLETED && s != vigil::v1::ESCALATED) return false;
      }
      return true;
    };
    const int64_t deadline = steady_ms() + kWaitMs;
    while (!settled() && steady_ms() < deadline) pump(50);
    if (!settled()) {
      ++unsettled_waves;
      std::cout << "wave " << w << " did not settle within " << kWaitMs << " ms" << std::endl;
    }
    all_orders.insert(all_orders.end(), wave.begin(), wave.end());
  }
  read_orders(500);
  EXPECT_EQ(a->stop(), 0) << a->log();
  EXPECT_EQ(b->stop(), 0) << b->log();

  // From `tracking`: the agency's holds (offered or accepted until the order leaves it) and
  // acceptances (accepted until finished), by event time.
  std::vector<std::pair<int64_t, int64_t>> held, accepted;
  int completed = 0, escalated = 0, inconsistent = 0;
  for (const auto& order : all_orders) {
    const auto it = events.find(order);
    if (it == events.end()) {
      ++inconsistent;
      std::cout << "order " << order << ": no tracking event" << std::endl;
      continue;
    }
    int64_t hold_from = -1, accept_from = -1;
    bool was_accepted = false;
    for (const auto& e : it->second) {
      const int64_t t = to_ms(e.ts());
      const bool holding = e.state() >= vigil::v1::OFFERED && e.state() <= vigil::v1::IN_SERVICE &&
                           e.agency_id() == "one";
      if (holding && hold_from < 0) hold_from = t;
      if (!holding && hold_from >= 0) held.emplace_back(hold_from, t), hold_from = -1;
      if (e.state() == vigil::v1::ACCEPTED) accept_from = t, was_accepted = true;
      if (e.state() >= vigil::v1::COMPLETED && accept_from >= 0) {
        accepted.emplace_back(accept_from, t);
        accept_from = -1;
      }
    }
    const int64_t open_end = INT64_MAX;  // still held at the end: open interval
    if (hold_from >= 0) held.emplace_back(hold_from, open_end);
    if (accept_from >= 0) accepted.emplace_back(accept_from, open_end);
    const auto last = it->second.back().state();
    if (last == vigil::v1::COMPLETED && was_accepted) {
      ++completed;
    } else if (last == vigil::v1::ESCALATED) {
      ++escalated;
    } else {
      ++inconsistent;
      std::cout << "order " << order << " ends in " << vigil::v1::OrderState_Name(last)
                << std::endl;
    }
  }
  const size_t peak_held = peak(held), peak_accepted = peak(accepted);
  std::ostringstream by_instance;
  for (const auto& [inst, n] : requests_by_instance) by_instance << " " << inst << ":" << n;
  std::cout << "routing " << routing << ": " << all_orders.size() << " orders in " << kWaves
            << " waves, " << offers << " offers to the capacity-1 agency, " << over_capacity_offers
            << " over capacity, peak held " << peak_held << ", peak accepted " << peak_accepted
            << ", completed " << completed << ", escalated " << escalated << ", inconsistent "
            << inconsistent << ", unsettled waves " << unsettled_waves
            << "; routed requests by instance:" << by_instance.str() << std::endl;

  EXPECT_EQ(over_capacity_offers, 0) << "the agency was offered an order while it held one";
  EXPECT_LE(peak_held, 1u);
  EXPECT_LE(peak_accepted, 1u);
  EXPECT_EQ(inconsistent, 0);
  EXPECT_EQ(unsettled_waves, 0);
  EXPECT_GE(completed, kWaves) << "each wave gets the agency once it is free";
  if (!local) {
    EXPECT_EQ(requests_by_instance.size(), 2u) << "requests must come from both instances";
    int routed = 0;
    for (const auto& [inst, n] : requests_by_instance) routed += n;
    EXPECT_EQ(routed, kElders * kWaves);
  }
}

}  // namespace
}  // namespace vigil::testing
