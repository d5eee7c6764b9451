#pragma once
// An in-process Kafka-protocol broker: librdkafka's mock cluster, for `vigil demo`,
// `vigil broker`, tests and benchmarks. It keeps about 5 MB per partition in memory and drops
// older records: never durable storage (SPEC section 1).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/result.h"

namespace vigil::broker {

//! A mock Kafka cluster listening on 127.0.0.1 ports of its own, with every vigil input and
//! output topic created. Owned by whoever started it (the command, or a test fixture); it must
//! outlive the clients connected to it. The cluster runs on librdkafka's own thread; the methods
//! here may be called from any thread.
class EmbeddedBroker {
 public:
  //! Starts `brokers` brokers (ids 1..brokers) and creates every topic of kKafkaInputs and
  //! all_outputs() (with the internal `orders`) under `topics`' prefix with `partitions` partitions each. Returns kBroker if the
  //! cluster cannot start or a topic cannot be created, kConfig for a bad count.
  static Result<std::unique_ptr<EmbeddedBroker>> start(int brokers, int partitions,
                                                       const TopicNames& topics);
  ~EmbeddedBroker();
  EmbeddedBroker(const EmbeddedBroker&) = delete;
  EmbeddedBroker& operator=(const EmbeddedBroker&) = delete;

  //! The "host:port,host:port" list for bootstrap.servers.
  std::string bootstrap_servers() const;
  int broker_count() const { return brokers_; }
  int partitions() const { return partitions_; }

  //! Creates one more topic (changelogs, test topics). Returns kBroker if the cluster refuses.
  Status create_topic(std::string_view topic, int partitions);

  //! Makes broker `id` (1-based) drop its connections and refuse new ones, as if it crashed;
  //! broker_up() brings it back. For fault tests. Return kBroker for an unknown id.
  Status broker_down(int id);
  Status broker_up(int id);

 private:
  EmbeddedBroker(ClientPtr handle, rd_kafka_mock_cluster_t* cluster, int brokers, int partitions)
      : handle_(std::move(handle)), cluster_(cluster), brokers_(brokers), partitions_(partitions) {}

  ClientPtr handle_;  // the mock cluster lives inside this client and dies with it
  rd_kafka_mock_cluster_t* cluster_;
  int brokers_;
  int partitions_;
};

}  // namespace vigil::broker
