#pragma once
// Kafka out for the API's actions: the CallEvents and AgencyUpdates that operators and agencies
// make over HTTP go onto the `calls` and `agency` topics like everyone else's, so the engine
// handles them on its one path (and replays them after a restart).
//
// Thread-safe (librdkafka's producer is); used by the io threads through the hooks. send()
// never waits: a full producer queue is an error the caller answers with 503.

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/api/api_service.h"
#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/metrics.h"

namespace vigil::api {

class InputProducer {
 public:
  //! An idempotent producer for `brokers`; `extra_conf` goes over vigil's defaults. Returns
  //! kConfig/kBroker if the producer cannot be created.
  static Result<std::unique_ptr<InputProducer>> start(std::string_view brokers,
                                                      const TopicNames& topics,
                                                      const broker::ConfMap& extra_conf = {});
  //! Flushes for up to 5 s; what is still queued then is logged as lost.
  ~InputProducer();

  //! Queues one record on `topic` keyed by `key`. Returns kBroker naming the reason if the
  //! producer refuses it (queue full, fatal error); delivery failures later are counted.
  Status send(InTopic topic, std::string_view key, const google::protobuf::Message& msg);
  //! Waits up to timeout_ms until every record sent so far is acknowledged; kBroker otherwise.
  Status flush(int timeout_ms);

  //! Sets hooks.submit_call (calls topic, keyed by elder_id) and hooks.submit_agency (agency
  //! topic, keyed by order_id) to send through this producer, which must outlive the service.
  void attach(ApiHooks& hooks);

  uint64_t delivered() const { return delivered_.get(); }
  uint64_t failed() const { return failures_.total(); }

 private:
  InputProducer(const TopicNames& topics) : topics_(topics), failures_("api-producer") {}
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  TopicNames topics_;
  broker::ClientPtr producer_;
  Counter delivered_;
  broker::ErrorTally failures_;
};

}  // namespace vigil::api
