#include "engine/core/time_util.h"

#include <google/protobuf/util/time_util.h>

namespace vigil {

std::string format_rfc3339(TimeMs ms) {
  google::protobuf::Timestamp ts;
  set_ts(&ts, ms);
  return google::protobuf::util::TimeUtil::ToString(ts);
}

}  // namespace vigil
