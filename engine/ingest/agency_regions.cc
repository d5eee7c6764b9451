#include "engine/ingest/agency_regions.h"

#include <algorithm>

#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/core/log.h"

namespace vigil::ingest {

Result<std::unique_ptr<AgencyRegions>> AgencyRegions::start(std::string_view brokers,
                                                            const TopicNames& topics,
                                                            int catch_up_ms) {
  std::unique_ptr<AgencyRegions> self(
      new AgencyRegions(topics.of(InTopic::kRegistry), catch_up_ms));
  // No group membership (assign, never subscribe) and nothing committed.
  auto conf = broker::make_conf({{"bootstrap.servers", std::string(brokers)},
                                 {"group.id", "vigil-agency-regions"},
                                 {"enable.auto.commit", "false"},
                                 {"isolation.level", "read_committed"},
                                 {"enable.partition.eof", "true"},
                                 {"queued.max.messages.kbytes", "4096"}});
  if (!conf) return conf.error();
  auto consumer = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer) return consumer.error();
  self->consumer_ = std::move(consumer).value();
  rd_kafka_t* rk = self->consumer_.get();
  rd_kafka_poll_set_consumer(rk);

  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, self->topic_.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10'000);
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("agency regions: no metadata for ", self->topic_,
                                              ": ", rd_kafka_err2str(err)));
  }
  const int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
  rd_kafka_metadata_destroy(md);
  if (partitions <= 0) {
    return make_error(Errc::kBroker,
                      log::cat("agency regions: topic ", self->topic_, " has no partitions"));
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, self->topic_.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("agency regions: cannot assign ", self->topic_, ": ",
                                              rd_kafka_err2str(err)));
  }
  self->next_.assign(static_cast<size_t>(partitions), 0);
  return self;
}

AgencyRegions::~AgencyRegions() {
  if (consumer_) rd_kafka_consumer_close(consumer_.get());
}

bool AgencyRegions::take(int timeout_ms) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), timeout_ms);
  if (m == nullptr) return false;
  const auto p = static_cast<size_t>(m->partition);
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (p < next_.size()) next_[p] = std::max(next_[p], m->offset);  // also past txn markers
  } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    errors_.record(m->err, "agency regions consumer");
  } else {
    if (p < next_.size()) next_[p] = m->offset + 1;
    // Elders, devices and undecodable entries are not ours: the shards deadletter bad ones.
    if (m->payload != nullptr &&
        codec::decode(std::string_view(static_cast<const char*>(m->payload), m->len),
                      codec::Format::kBinary, &update_) &&
        update_.has_agency() && !update_.agency().agency_id().empty()) {
      regions_[update_.agency().agency_id()] = update_.agency().region();
    }
  }
  rd_kafka_message_destroy(m);
  return true;
}

void AgencyRegions::catch_up() {
  rd_kafka_t* rk = consumer_.get();
  std::vector<int64_t> ends(next_.size(), 0);
  for (size_t p = 0; p < ends.size(); ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic_.c_str(), static_cast<int32_t>(p), &lo, &hi,
                                         catch_up_ms_) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ends[p] = hi;
    }
  }
  const int64_t deadline = RealClock::instance().steady_ns() + int64_t{catch_up_ms_} * 1'000'000;
  for (;;) {
    bool done = true;
    for (size_t p = 0; p < ends.size(); ++p) done &= next_[p] >= ends[p];
    if (done) return;
    if (RealClock::instance().steady_ns() >= deadline) {
      log::warn("agency-regions", "the registry was not read to its end within ", catch_up_ms_,
                " ms");
      return;
    }
    take(100);
  }
}

std::optional<std::string> AgencyRegions::region_of(const std::string& agency_id) {
  while (take(0)) {
  }
  auto it = regions_.find(agency_id);
  if (it == regions_.end()) {
    catch_up();
    it = regions_.find(agency_id);
    if (it == regions_.end()) return std::nullopt;
  }
  return it->second;
}

}  // namespace vigil::ingest
