// browser_produce: produces one input record to a Kafka topic with a real librdkafka producer,
// as a device or a call centre would. Used by the browser test to raise an alarm at a known
// time. Usage: browser_produce BROKERS TOPIC KEY JSON   (TOPIC: telemetry|calls|agency|registry;
// JSON: the message's proto3 JSON, encoded to wire bytes like every Kafka input).
// Prints "acked_at_ms=<epoch ms>" once the broker acknowledged the record; exit 1 otherwise.

#include <chrono>
#include <iostream>

#include "engine/api/input_producer.h"
#include "engine/codec/codec.h"

int main(int argc, char** argv) {
  using namespace vigil;
  if (argc != 5) {
    std::cerr << "usage: browser_produce BROKERS TOPIC KEY JSON\n";
    return 2;
  }
  auto topic = parse_in_topic(argv[2]);
  if (!topic || *topic == InTopic::kClock) {
    std::cerr << "browser_produce: unknown input topic " << argv[2] << "\n";
    return 2;
  }
  auto msg = codec::new_message(*topic);
  if (Status st = codec::decode(argv[4], codec::Format::kJson, msg.get()); !st) {
    std::cerr << "browser_produce: " << st.error().message << "\n";
    return 2;
  }
  auto producer = api::InputProducer::start(argv[1], TopicNames());
  if (!producer) {
    std::cerr << "browser_produce: " << producer.error().message << "\n";
    return 1;
  }
  if (Status st = producer.value()->send(*topic, argv[3], *msg); !st) {
    std::cerr << "browser_produce: " << st.error().message << "\n";
    return 1;
  }
  Status st = producer.value()->flush(10000);
  if (!st || producer.value()->delivered() != 1) {
    std::cerr << "browser_produce: not delivered" << (st ? "" : ": " + st.error().message) << "\n";
    return 1;
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  std::cout << "acked_at_ms=" << now.count() << std::endl;
  return 0;
}
