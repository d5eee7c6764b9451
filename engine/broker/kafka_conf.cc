#include "engine/broker/kafka_conf.h"

#include "engine/core/log.h"

namespace vigil::broker {
namespace {

// librdkafka logs with syslog levels (0 emerg .. 7 debug).
void route_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const auto vlevel = level <= 3   ? log::Level::kError
                      : level <= 4 ? log::Level::kWarn
                      : level <= 6 ? log::Level::kInfo
                                   : log::Level::kDebug;
  if (!log::enabled(vlevel)) return;
  log::write(vlevel, "kafka", log::cat(rd_kafka_name(rk), " ", fac, ": ", buf));
}

}  // namespace

const ConfMap& common_defaults() {
  static const ConfMap defaults = {
      {"client.id", "vigil"},
      // The mock cluster and most deployments listen on IPv4; skip the AAAA round trip.
      {"broker.address.family", "v4"},
      // A request unanswered this long drops its connection and is sent again on a new one.
      // librdkafka's default (60 s) kept an instance on a dead connection for 80-140 s after
      // the embedded broker's outage (its requests hung, not refused), with its tasks held and
      // a restore inside a rebalance waiting on it: the group left two tasks unowned for two
      // minutes (tests/fault/multi_instance_test.cc). JoinGroup keeps its own, longer timeout.
      {"socket.timeout.ms", "10000"},
  };
  return defaults;
}

ConfMap merged(ConfMap base, const ConfMap& overrides) {
  for (const auto& [k, v] : overrides) base[k] = v;
  return base;
}

Status set_properties(rd_kafka_conf_t* conf, const ConfMap& settings) {
  char err[512];
  for (const auto& [name, value] : settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      return make_error(Errc::kConfig,
                        "kafka property " + name + "=" + value + " rejected: " + err);
    }
  }
  return ok();
}

Result<ConfPtr> make_conf(const ConfMap& settings) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), route_log);
  auto status = set_properties(conf.get(), merged(common_defaults(), settings));
  if (!status) return status.error();
  return conf;
}

Result<ClientPtr> make_client(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (rk == nullptr) {
    return make_error(Errc::kBroker,
                      std::string("cannot create kafka ") +
                          (type == RD_KAFKA_PRODUCER ? "producer" : "consumer") + ": " + err);
  }
  conf.release();  // rd_kafka_new owns it now
  return ClientPtr(rk);
}

void ErrorTally::record(rd_kafka_resp_err_t err, std::string_view context) {
  total_.add();
  bool first = false;
  {
    std::lock_guard lock(mu_);
    last_ = err;
    first = seen_.insert(err).second;
  }
  if (first) {
    log::warn(component_, context, ": ", rd_kafka_err2name(err), " (", rd_kafka_err2str(err),
              "); further errors of this kind are counted, not logged");
  }
}

rd_kafka_resp_err_t ErrorTally::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

Status flush_producer(rd_kafka_t* producer, int timeout_ms, const ErrorTally& failures,
                      std::atomic<uint64_t>& failures_at_last, std::string_view what) {
  rd_kafka_flush(producer, timeout_ms);
  char reason[512];
  if (rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(producer, reason, sizeof(reason));
      fatal != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, log::cat("kafka producer failed for good: ",
                                              rd_kafka_err2name(fatal), ": ", reason));
  }
  if (int outstanding = rd_kafka_outq_len(producer); outstanding > 0) {
    return make_error(Errc::kBroker, log::cat(outstanding, " ", what, " still unacknowledged after ",
                                              timeout_ms, " ms"));
  }
  const uint64_t failed_now = failures.total();
  const uint64_t failed_before = failures_at_last.exchange(failed_now);
  if (failed_now > failed_before) {
    return make_error(Errc::kBroker, log::cat(failed_now - failed_before, " ", what,
                                              " failed since the previous flush, last with ",
                                              rd_kafka_err2name(failures.last())));
  }
  return ok();
}

}  // namespace vigil::broker
