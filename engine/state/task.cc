#include "engine/state/task.h"

#include <boost/crc.hpp>

namespace vigil::state {

int32_t task_of(std::string_view key, int32_t partitions) {
  boost::crc_32_type crc;
  crc.process_bytes(key.data(), key.size());
  // librdkafka: rd_crc32(key) % partition_cnt, in unsigned arithmetic.
  return static_cast<int32_t>(crc.checksum() % static_cast<uint32_t>(partitions));
}

}  // namespace vigil::state
