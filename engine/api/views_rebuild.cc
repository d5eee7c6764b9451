#include "engine/api/views_rebuild.h"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/codec/codec.h"

namespace vigil::api {

namespace {

constexpr OutTopic kViewTopics[] = {OutTopic::kAlarms, OutTopic::kDispatch, OutTopic::kTracking,
                                    OutTopic::kOperator};

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t,
                                      decltype(&rd_kafka_topic_partition_list_destroy)>;

}  // namespace

Result<RebuildStats> rebuild_views(std::string_view brokers, const TopicNames& topics,
                                   ViewStore& views, int64_t tail_per_partition, int timeout_ms,
                                   const broker::ConfMap& extra_conf) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left_ms = [&] {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, d.count()));
  };
  broker::ConfMap settings = {{"bootstrap.servers", std::string(brokers)},
                              {"group.id", "vigil-api-views"},  // required; never joined (assign)
                              {"enable.auto.commit", "false"},
                              {"enable.partition.eof", "true"},
                              {"isolation.level", "read_committed"}};
  auto conf = broker::make_conf(broker::merged(std::move(settings), extra_conf));
  if (!conf) return conf.error();
  auto client = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!client) return client.error();
  rd_kafka_t* rk = client.value().get();

  // Where each partition starts and ends, from its watermarks.
  PartitionList assign(rd_kafka_topic_partition_list_new(64), &rd_kafka_topic_partition_list_destroy);
  std::map<std::pair<std::string, int32_t>, int64_t> end;  // -> high watermark
  std::map<std::string, OutTopic> topic_of;
  for (OutTopic t : kViewTopics) {
    const std::string name = topics.of(t);
    topic_of[name] = t;
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, name.c_str(), nullptr);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, left_ms());
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return make_error(Errc::kBroker, "views: metadata of " + name + ": " + rd_kafka_err2str(err));
    }
    std::vector<int32_t> parts;
    for (int i = 0; i < md->topic_cnt; ++i) {
      for (int p = 0; p < md->topics[i].partition_cnt; ++p) parts.push_back(md->topics[i].partitions[p].id);
    }
    rd_kafka_metadata_destroy(md);
    for (int32_t p : parts) {
      int64_t low = 0, high = 0;
      err = rd_kafka_query_watermark_offsets(rk, name.c_str(), p, &low, &high, left_ms());
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(Errc::kBroker, "views: watermarks of " + name + "[" + std::to_string(p) +
                                             "]: " + rd_kafka_err2str(err));
      }
      if (high <= low) continue;
      rd_kafka_topic_partition_list_add(assign.get(), name.c_str(), p)->offset =
          std::max(low, high - tail_per_partition);
      end[{name, p}] = high;
    }
  }
  RebuildStats stats;
  stats.partitions = static_cast<int>(end.size());
  if (end.empty()) return stats;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(rk, assign.get()); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, std::string("views: assign: ") + rd_kafka_err2str(err));
  }
  // Read until every partition reached the high watermark it had (read_committed may stop at
  // the last stable offset below it: a partition whose position passes it, or that reports
  // EOF, is done).
  std::map<OutTopic, std::unique_ptr<google::protobuf::Message>> msgs;
  for (OutTopic t : kViewTopics) msgs[t] = codec::new_message(t);
  while (!end.empty() && left_ms() > 0) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, std::min(100, left_ms()));
    if (m == nullptr) continue;
    const std::string name = m->rkt ? rd_kafka_topic_name(m->rkt) : std::string();
    auto key = std::make_pair(name, m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      end.erase(key);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      OutTopic t = topic_of.at(name);
      auto& msg = *msgs[t];
      if (msg.ParseFromArray(m->payload, static_cast<int>(m->len))) {
        views.apply(t, msg);
        ++stats.records;
      } else {
        ++stats.undecodable;
      }
      auto it = end.find(key);
      if (it != end.end() && m->offset + 1 >= it->second) end.erase(it);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  if (!end.empty()) {
    return make_error(Errc::kBroker, "views: " + std::to_string(end.size()) +
                                         " partitions not read to their end in time");
  }
  return stats;
}

}  // namespace vigil::api
