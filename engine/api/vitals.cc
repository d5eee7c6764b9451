#include "engine/api/vitals.h"

#include <pthread.h>

#include <array>
#include <chrono>

#include "engine/core/log.h"
#include "engine/core/time_util.h"

namespace vigil::api {

namespace {

constexpr std::array<std::string_view, 7> kVitals = {"heart_rate",       "spo2",
                                                     "blood_pressure",   "body_temperature",
                                                     "respiration_rate", "battery",
                                                     "location"};

}  // namespace

bool is_vital(std::string_view type) {
  for (auto v : kVitals) {
    if (v == type) return true;
  }
  return false;
}

void VitalsStore::apply(const vigil::v1::DeviceEvent& e) {
  if (!is_vital(e.type()) || e.elder_id().empty()) return;
  std::lock_guard lock(mu_);
  auto it = by_elder_.find(e.elder_id());
  if (it == by_elder_.end()) {
    if (by_elder_.size() >= max_elders_) return;
    it = by_elder_.emplace(e.elder_id(), std::map<std::string, vigil::v1::DeviceEvent>()).first;
  }
  auto& slot = it->second[e.type()];
  // Out-of-order readings (a device flushing its buffer) do not replace a newer one.
  if (slot.has_ts() && to_ms(slot.ts()) > to_ms(e.ts())) return;
  slot = e;
}

std::map<std::string, vigil::v1::DeviceEvent> VitalsStore::latest(const std::string& elder_id) const {
  std::lock_guard lock(mu_);
  auto it = by_elder_.find(elder_id);
  return it == by_elder_.end() ? std::map<std::string, vigil::v1::DeviceEvent>() : it->second;
}

size_t VitalsStore::elders() const {
  std::lock_guard lock(mu_);
  return by_elder_.size();
}

Result<std::unique_ptr<VitalsFeed>> VitalsFeed::start(std::string_view brokers,
                                                      const TopicNames& topics, VitalsStore& store,
                                                      const broker::ConfMap& extra_conf) {
  std::unique_ptr<VitalsFeed> f(new VitalsFeed(store));
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  broker::ConfMap settings = {{"bootstrap.servers", std::string(brokers)},
                              {"group.id", "vigil-api-vitals-" + std::to_string(now)},
                              {"enable.auto.commit", "false"},
                              {"enable.auto.offset.store", "false"},
                              {"auto.offset.reset", "latest"}};
  auto conf = broker::make_conf(broker::merged(std::move(settings), extra_conf));
  if (!conf) return conf.error();
  auto client = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!client) return client.error();
  f->consumer_ = std::move(client).value();
  rd_kafka_poll_set_consumer(f->consumer_.get());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  const std::string topic = topics.of(InTopic::kTelemetry);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(f->consumer_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, "vitals: subscribe to " + topic + ": " + rd_kafka_err2str(err));
  }
  f->thread_ = std::thread([p = f.get()] { p->run(); });
  return f;
}

void VitalsFeed::run() {
  pthread_setname_np(pthread_self(), "vigil-api-vital");
  vigil::v1::DeviceEvent e;
  while (!stop_.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      consumed_.fetch_add(1, std::memory_order_relaxed);
      if (e.ParseFromArray(m->payload, static_cast<int>(m->len))) {
        store_.apply(e);
      } else {
        undecodable_.fetch_add(1, std::memory_order_relaxed);
      }
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      log::warn("api", "vitals consumer: ", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
}

VitalsFeed::~VitalsFeed() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

}  // namespace vigil::api
