#include "engine/api/input_producer.h"

#include "engine/core/log.h"

namespace vigil::api {

Result<std::unique_ptr<InputProducer>> InputProducer::start(std::string_view brokers,
                                                            const TopicNames& topics,
                                                            const broker::ConfMap& extra_conf) {
  std::unique_ptr<InputProducer> p(new InputProducer(topics));
  broker::ConfMap settings = {{"bootstrap.servers", std::string(brokers)},
                              {"enable.idempotence", "true"},
                              {"linger.ms", "5"}};
  auto conf = broker::make_conf(broker::merged(std::move(settings), extra_conf));
  if (!conf) return conf.error();
  rd_kafka_conf_set_opaque(conf.value().get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf.value().get(), &InputProducer::on_delivery);
  auto client = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!client) return client.error();
  p->producer_ = std::move(client).value();
  return p;
}

InputProducer::~InputProducer() {
  if (!producer_) return;
  rd_kafka_flush(producer_.get(), 5000);
  if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
    log::error("api", left, " call/agency records not delivered at shutdown");
  }
}

Status InputProducer::send(InTopic topic, std::string_view key,
                           const google::protobuf::Message& msg) {
  std::string bytes;
  msg.SerializeToString(&bytes);
  const std::string name = topics_.of(topic);
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
      RD_KAFKA_V_VALUE(bytes.data(), bytes.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_END);
  rd_kafka_poll(producer_.get(), 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failures_.record(err, "produce to " + name);
    return make_error(Errc::kBroker, "produce to " + name + ": " + rd_kafka_err2str(err));
  }
  return ok();
}

Status InputProducer::flush(int timeout_ms) {
  rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, std::to_string(rd_kafka_outq_len(producer_.get())) +
                                         " call/agency records not yet delivered: " +
                                         rd_kafka_err2str(err));
  }
  return ok();
}

void InputProducer::attach(ApiHooks& hooks) {
  hooks.submit_call = [this](const vigil::v1::CallEvent& c) {
    return send(InTopic::kCalls, c.elder_id(), c);
  };
  hooks.submit_agency = [this](const vigil::v1::AgencyUpdate& u) {
    return send(InTopic::kAgency, u.order_id(), u);
  };
}

void InputProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<InputProducer*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.add();
    return;
  }
  self->failures_.record(msg->err, "delivery to " + std::string(rd_kafka_topic_name(msg->rkt)));
}

}  // namespace vigil::api
