#pragma once
// `vigil tail TOPIC --brokers LIST [--from-beginning] [--duration S] [--topic-prefix P]`
// (SPEC section 6): prints a topic's committed records as JSON lines in the replay output form.

#include <atomic>
#include <cstddef>
#include <iostream>
#include <ostream>
#include <string>

#include "engine/broker/kafka_conf.h"

namespace vigil::broker {

struct TailOptions {
  //! The bare topic name ("alarms", "telemetry"), or the full name with the prefix.
  std::string topic;
  std::string brokers;
  std::string topic_prefix = "vigil.";
  //! Read from the oldest record the broker holds instead of only new ones.
  bool from_beginning = false;
  //! Stop after this many seconds; 0 runs until `stop` turns true.
  double duration_s = 0;
  //! Stop after printing this many records; 0 means no limit.
  size_t max_records = 0;
  //! Set by a signal handler or another thread to stop; may be null.
  const std::atomic<bool>* stop = nullptr;
  //! One line per record: {"topic":"alarms","key":"e1","value":{...}}.
  std::ostream* out = &std::cout;
  //! One line per record that cannot be decoded, and start-up errors.
  std::ostream* err = &std::cerr;
  //! Put over the consumer settings (security, debug, ...).
  ConfMap extra_conf;
};

//! Runs the tail command on the calling thread until duration, max_records or stop. Returns the
//! process exit code: 0 when it stopped as asked, 2 for an unknown topic, 1 if the consumer
//! cannot be created. Undecodable records are reported on `err` and skipped.
int run_tail(const TailOptions& options);

}  // namespace vigil::broker
