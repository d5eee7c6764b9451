#pragma once
// Building librdkafka clients from string maps, with vigil's common defaults, owning handles,
// and the "count every error, log each kind once" policy shared by every Kafka client in vigil.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "engine/core/metrics.h"
#include "engine/core/result.h"

namespace vigil::broker {

//! librdkafka configuration properties, name -> value (global and default-topic properties).
using ConfMap = std::map<std::string, std::string>;

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
//! An rd_kafka_conf_t until rd_kafka_new takes it over (release() then).
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct ClientDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
//! A librdkafka client handle. Consumers must be closed (rd_kafka_consumer_close) before this
//! destroys them, so that they leave their group at once.
using ClientPtr = std::unique_ptr<rd_kafka_t, ClientDeleter>;

//! Properties every vigil client gets unless the caller overrides them: client.id, and the
//! client's own log lines routed through vigil::log (component "kafka").
const ConfMap& common_defaults();

//! Returns `base` with every entry of `overrides` put over it.
ConfMap merged(ConfMap base, const ConfMap& overrides);

//! Sets every property of `settings` on `conf`. Returns kConfig naming the first property
//! librdkafka rejects and why (unknown name or invalid value).
Status set_properties(rd_kafka_conf_t* conf, const ConfMap& settings);

//! A new configuration holding common_defaults() overridden by `settings`. Returns kConfig as
//! set_properties() does.
Result<ConfPtr> make_conf(const ConfMap& settings);

//! Creates a producer or consumer from `conf`, which it takes over on success and on failure.
//! Returns kBroker with librdkafka's reason if the client cannot be created.
Result<ClientPtr> make_client(rd_kafka_type_t type, ConfPtr conf);

//! Counts Kafka client errors and logs the first of each kind (error code) once, so a broker
//! outage yields one line, not one per record. Thread-safe: librdkafka calls back from any
//! thread that serves the client's queues.
class ErrorTally {
 public:
  explicit ErrorTally(std::string component) : component_(std::move(component)) {}
  //! Counts one error; logs `context` and the error's name and text if `err` is new.
  void record(rd_kafka_resp_err_t err, std::string_view context);
  //! Errors recorded so far, of every kind.
  uint64_t total() const { return total_.get(); }
  //! The most recent error's code (RD_KAFKA_RESP_ERR_NO_ERROR if none yet).
  rd_kafka_resp_err_t last() const;

 private:
  std::string component_;
  Counter total_;
  mutable std::mutex mu_;
  std::set<rd_kafka_resp_err_t> seen_;
  rd_kafka_resp_err_t last_ = RD_KAFKA_RESP_ERR_NO_ERROR;
};

//! A producer's flush with vigil's rule: waits up to timeout_ms, then fails with kBroker if the
//! producer hit a fatal error, if records are still unacknowledged, or if `failures` counted a
//! failed record since the previous call (`failures_at_last` keeps that count between calls).
//! `what` names the records in the message ("output records", "changelog records").
Status flush_producer(rd_kafka_t* producer, int timeout_ms, const ErrorTally& failures,
                      std::atomic<uint64_t>& failures_at_last, std::string_view what);

}  // namespace vigil::broker
