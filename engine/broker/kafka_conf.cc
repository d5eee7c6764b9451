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

}  // namespace vigil::broker
