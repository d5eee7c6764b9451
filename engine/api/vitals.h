#pragma once
// The latest vitals of each elder for the console's elder page (issue 7 gap D): heart_rate,
// spo2, blood_pressure, body_temperature, respiration_rate, battery and location, each with its
// device, value(s) and event time. Fed by VitalsFeed, a consumer of the telemetry topic of its
// own (docs/design.md "Console vitals"): the engine's outputs do not carry readings and the
// engine's ingest thread is not slowed for the console.
//
// Thread-safe: apply() from the feed thread, latest() from the io threads.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/result.h"
#include "schemas/telemetry.pb.h"

namespace vigil::api {

//! True for the DeviceEvent types the elder page shows.
bool is_vital(std::string_view type);

class VitalsStore {
 public:
  explicit VitalsStore(size_t max_elders = 200'000) : max_elders_(max_elders) {}

  //! Keeps `e` if it is a vital and not older than the reading kept for its elder and type.
  //! Elders beyond max_elders are not added (existing ones still update). Any thread.
  void apply(const vigil::v1::DeviceEvent& e);
  //! The elder's newest reading of each vital type (type -> event); empty if none.
  std::map<std::string, vigil::v1::DeviceEvent> latest(const std::string& elder_id) const;
  size_t elders() const;

 private:
  const size_t max_elders_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::map<std::string, vigil::v1::DeviceEvent>> by_elder_;
};

//! A consumer of the telemetry topic in its own group (no commits, newest offsets first) that
//! folds every vital reading into a VitalsStore on its own thread. Undecodable records are
//! counted and skipped: the engine dead-letters them, the console only shows readings.
class VitalsFeed {
 public:
  //! Subscribes and starts the thread. kConfig/kBroker if the consumer cannot be made.
  static Result<std::unique_ptr<VitalsFeed>> start(std::string_view brokers, const TopicNames& topics,
                                                   VitalsStore& store,
                                                   const broker::ConfMap& extra_conf = {});
  ~VitalsFeed();  //!< stops the thread and closes the consumer

  uint64_t consumed() const { return consumed_.load(); }
  uint64_t undecodable() const { return undecodable_.load(); }

 private:
  explicit VitalsFeed(VitalsStore& store) : store_(store) {}
  void run();

  VitalsStore& store_;
  broker::ClientPtr consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> undecodable_{0};
  std::thread thread_;
};

}  // namespace vigil::api
