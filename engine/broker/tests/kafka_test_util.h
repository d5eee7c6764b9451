#pragma once
// Raw librdkafka clients for tests of the Kafka subsystems (broker, ingest, egress): produce
// records and read them back without going through the code under test.

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/broker/kafka_conf.h"
#include "engine/core/clock.h"

namespace vigil::broker::testing {

//! Bound on every wait in these tests; they poll, never sleep-and-assert.
inline constexpr int64_t kWaitNs = 20'000'000'000;

//! A record as a raw consumer sees it.
struct RawRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string payload;
};

//! Polls `done` until it returns true or the bound passes; returns its last answer.
inline bool wait_until(const std::function<bool()>& done) {
  const int64_t deadline = RealClock::instance().steady_ns() + kWaitNs;
  while (!done()) {
    if (RealClock::instance().steady_ns() >= deadline) return false;
  }
  return true;
}

//! Produces (key, payload) records to `topic`, to `partition` or by key if it is
//! RD_KAFKA_PARTITION_UA, and waits until all are acknowledged. Returns false on any failure.
inline bool produce(const std::string& brokers, const std::string& topic,
                    const std::vector<std::pair<std::string, std::string>>& records,
                    int32_t partition = RD_KAFKA_PARTITION_UA) {
  auto conf = make_conf({{"bootstrap.servers", brokers}, {"linger.ms", "0"}});
  if (!conf) return false;
  auto producer = make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  if (!producer) return false;
  rd_kafka_t* rk = producer.value().get();
  for (const auto& [key, payload] : records) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  }
  return rd_kafka_flush(rk, 15000) == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_outq_len(rk) == 0;
}

//! Reads partitions 0..partitions-1 of `topic` from the beginning, without a group, as a
//! read_committed consumer, passing every message (records and partition ends) to `take`
//! until it returns true or the bound passes.
inline void read_topic(const std::string& brokers, const std::string& topic, int partitions,
                       const std::function<bool(const rd_kafka_message_t&)>& take) {
  auto conf = make_conf({{"bootstrap.servers", brokers},
                         {"group.id", "vigil-test-reader"},
                         {"enable.auto.commit", "false"},
                         {"enable.partition.eof", "true"},
                         {"isolation.level", "read_committed"}});
  if (!conf) return;
  auto consumer = make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer) return;
  rd_kafka_t* rk = consumer.value().get();
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  bool done = false;
  wait_until([&] {
    if (rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 100)) {
      done = take(*msg);
      rd_kafka_message_destroy(msg);
    }
    return done;
  });
  rd_kafka_consumer_close(rk);
}

inline RawRecord raw_record(const rd_kafka_message_t& msg) {
  return {rd_kafka_topic_name(msg.rkt), msg.partition, msg.offset,
          std::string(static_cast<const char*>(msg.key), msg.key_len),
          std::string(static_cast<const char*>(msg.payload), msg.len)};
}

//! Reads `topic` from the beginning until `count` records arrived or the bound passed. Returns
//! what arrived.
inline std::vector<RawRecord> consume(const std::string& brokers, const std::string& topic,
                                      int partitions, size_t count) {
  std::vector<RawRecord> records;
  read_topic(brokers, topic, partitions, [&](const rd_kafka_message_t& msg) {
    if (msg.err == RD_KAFKA_RESP_ERR_NO_ERROR) records.push_back(raw_record(msg));
    return records.size() >= count;
  });
  return records;
}

//! Reads `topic` to its current end (aborted transactions' records are skipped). Returns the
//! records, or whatever arrived if the bound passed first.
inline std::vector<RawRecord> consume_to_end(const std::string& brokers, const std::string& topic,
                                             int partitions) {
  std::vector<RawRecord> records;
  std::vector<bool> at_end(static_cast<size_t>(partitions), false);
  int ends = 0;
  read_topic(brokers, topic, partitions, [&](const rd_kafka_message_t& msg) {
    if (msg.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      records.push_back(raw_record(msg));
    } else if (msg.err == RD_KAFKA_RESP_ERR__PARTITION_EOF && msg.partition >= 0 &&
               msg.partition < partitions && !at_end[static_cast<size_t>(msg.partition)]) {
      at_end[static_cast<size_t>(msg.partition)] = true;
      ++ends;
    }
    return ends == partitions;
  });
  return records;
}

}  // namespace vigil::broker::testing
