#include "engine/app/demo_printer.h"

#include <librdkafka/rdkafka.h>

#include <iostream>

#include "engine/broker/kafka_conf.h"
#include "engine/core/clock.h"
#include "schemas/outputs.pb.h"

namespace vigil::app {

int run_demo_printer(const std::string& brokers, const TopicNames& topics, std::atomic<bool>& stop,
                     std::ostream& out) {
  auto conf = broker::make_conf({{"bootstrap.servers", brokers},
                                 {"group.id", "vigil-demo-printer-" +
                                                  std::to_string(RealClock::instance().now_ms())},
                                 {"auto.offset.reset", "earliest"},
                                 {"enable.auto.commit", "false"},
                                 {"isolation.level", "read_committed"}});
  if (!conf) {
    std::cerr << "demo: " << conf.error().message << "\n";
    return 1;
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().release(), err, sizeof err);
  if (rk == nullptr) {
    std::cerr << "demo: " << err << "\n";
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  auto* subs = rd_kafka_topic_partition_list_new(3);
  for (auto t : {OutTopic::kAlarms, OutTopic::kDispatch, OutTopic::kTracking}) {
    rd_kafka_topic_partition_list_add(subs, topics.of(t).c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_subscribe(rk, subs);
  rd_kafka_topic_partition_list_destroy(subs);

  vigil::v1::AlarmEvent alarm;
  vigil::v1::DispatchOffer offer;
  vigil::v1::OrderEvent order;
  while (!stop.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const std::string_view topic = topics.strip(rd_kafka_topic_name(m->rkt));
      const int len = static_cast<int>(m->len);
      if (topic == "alarms" && alarm.ParseFromArray(m->payload, len)) {
        if (alarm.count() == 1 || alarm.status() != vigil::v1::ACTIVE_UNACK) {
          out << "alarm    " << alarm.elder_id() << " " << alarm.rule_id() << " "
              << vigil::v1::Severity_Name(alarm.severity()) << " "
              << vigil::v1::AlarmStatus_Name(alarm.status()) << " (" << alarm.message() << ")"
              << std::endl;
        }
      } else if (topic == "dispatch" && offer.ParseFromArray(m->payload, len)) {
        out << "offer    " << offer.order_id() << " " << offer.category() << " -> "
            << offer.agency_id() << " (attempt " << offer.attempt() << ")" << std::endl;
      } else if (topic == "tracking" && order.ParseFromArray(m->payload, len)) {
        out << "order    " << order.order_id() << " " << vigil::v1::OrderState_Name(order.state())
            << (order.agency_id().empty() ? "" : " " + order.agency_id())
            << (order.reason().empty() ? "" : " (" + order.reason() + ")") << std::endl;
      }
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace vigil::app
