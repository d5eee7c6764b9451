#pragma once
// Conversions between engine time (TimeMs) and protobuf Timestamps / RFC 3339 text.

#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "engine/core/clock.h"

namespace vigil {

inline TimeMs to_ms(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1'000'000;
}

inline void set_ts(google::protobuf::Timestamp* ts, TimeMs ms) {
  int64_t s = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    s -= 1;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>(rem * 1'000'000));
}

//! RFC 3339 UTC text of a time, e.g. "2026-01-01T08:00:00Z" (milliseconds shown when non-zero).
std::string format_rfc3339(TimeMs ms);

}  // namespace vigil
