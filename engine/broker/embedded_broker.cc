#include "engine/broker/embedded_broker.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/core/log.h"

namespace vigil::broker {
namespace {

// librdkafka 2.0.2's mock thread can swallow the wake-up of a control op sent right after the
// previous op's reply, leaving it queued until its 1 s poll timeout. A short pause before each
// op lets the thread go back to waiting first; 30 topics then take 30 ms instead of 10 s.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }

}  // namespace

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(int brokers, int partitions,
                                                              const TopicNames& topics) {
  if (brokers < 1 || partitions < 1) {
    return make_error(Errc::kConfig, log::cat("embedded broker needs at least one broker and one "
                                              "partition, got brokers=", brokers,
                                              " partitions=", partitions));
  }
  // The mock cluster needs a client to host it: an idle producer with no bootstrap servers,
  // quiet below warnings so it does not note that it has none.
  auto conf = make_conf({{"client.id", "vigil-embedded-broker"}, {"log_level", "4"}});
  if (!conf) return conf.error();
  auto handle = make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!handle) return handle.error();
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle.value().get(), brokers);
  if (cluster == nullptr) {
    return make_error(Errc::kBroker, "cannot start the embedded kafka mock cluster");
  }
  std::unique_ptr<EmbeddedBroker> broker(
      new EmbeddedBroker(std::move(handle).value(), cluster, brokers, partitions));
  for (InTopic t : kKafkaInputs) {
    auto status = broker->create_topic(topics.of(t), partitions);
    if (!status) return status.error();
  }
  for (OutTopic t : all_outputs()) {  // with the internal `orders` topic
    auto status = broker->create_topic(topics.of(t), partitions);
    if (!status) return status.error();
  }
  // The tasks' changelog (engine/runtime/task_log.h): one partition per task. The mock does not
  // compact; the engine rewrites a task's whole state now and then instead (changelog_rewrite).
  if (auto status = broker->create_topic(topics.changelog(), partitions); !status) {
    return status.error();
  }
  return broker;
}

EmbeddedBroker::~EmbeddedBroker() {
  // The cluster must go before the client that hosts it.
  settle();
  rd_kafka_mock_cluster_destroy(cluster_);
}

std::string EmbeddedBroker::bootstrap_servers() const {
  return rd_kafka_mock_cluster_bootstraps(cluster_);
}

Status EmbeddedBroker::create_topic(std::string_view topic, int partitions) {
  // Replicas give fault tests followers to move leadership to; three are plenty.
  const int replication = std::min(brokers_, 3);
  const std::string name(topic);
  settle();
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, "embedded broker cannot create topic " + name + ": " +
                                         rd_kafka_err2str(err));
  }
  return ok();
}

Status EmbeddedBroker::broker_down(int id) {
  settle();
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(cluster_, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("embedded broker ", id, " cannot go down: ",
                                              rd_kafka_err2str(err)));
  }
  return ok();
}

Status EmbeddedBroker::broker_up(int id) {
  settle();
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(cluster_, id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("embedded broker ", id, " cannot come up: ",
                                              rd_kafka_err2str(err)));
  }
  return ok();
}

}  // namespace vigil::broker
