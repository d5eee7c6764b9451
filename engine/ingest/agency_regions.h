#pragma once
// agency_id -> region for routed dispatch (dispatch.routing: kafka; docs/design.md "Several
// instances"). An `agency` update is keyed by order_id, so the instance that reads it cannot tell
// from the key which region's dispatcher made the offer; it looks up the agency's region here and
// forwards the update through `orders` keyed by that region.
//
// A group-less consumer assigned to every partition of the registry topic from its beginning
// (the registry is compacted; its agency part is small), kept in memory, never checkpointed:
// rebuilt from the topic at every start. Reading it is lazy: region_of() takes what has been
// fetched, and for an agency it does not know yet it first reads the registry to its current end
// (bounded by `catch_up_ms`), since an agency update is always written after the registry entry
// that made its agency an offer candidate.
//
// Used by one thread at a time (the engine's dispatch thread).

#include <librdkafka/rdkafka.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/broker/kafka_conf.h"
#include "engine/codec/topics.h"
#include "engine/core/result.h"
#include "schemas/registry.pb.h"

namespace vigil::ingest {

class AgencyRegions {
 public:
  //! Assigns every partition of `<prefix>registry`. Returns kBroker if the topic's partitions
  //! cannot be listed or the consumer cannot be created.
  static Result<std::unique_ptr<AgencyRegions>> start(std::string_view brokers,
                                                      const TopicNames& topics,
                                                      int catch_up_ms = 5000);
  ~AgencyRegions();
  AgencyRegions(const AgencyRegions&) = delete;
  AgencyRegions& operator=(const AgencyRegions&) = delete;

  //! The agency's region as of the registry's latest entry for it, or nullopt if the registry,
  //! read to its end, has no such agency (or could not be read within catch_up_ms).
  std::optional<std::string> region_of(const std::string& agency_id);
  //! Agencies known so far.
  size_t size() const { return regions_.size(); }

 private:
  AgencyRegions(std::string topic, int catch_up_ms)
      : topic_(std::move(topic)), catch_up_ms_(catch_up_ms) {}
  //! Applies one fetched message or end-of-partition event; false if there was none.
  bool take(int timeout_ms);
  //! Reads until every partition has reached the end it had when this was called.
  void catch_up();

  std::string topic_;
  int catch_up_ms_;
  broker::ClientPtr consumer_;
  std::vector<int64_t> next_;  //!< per partition: the next offset to read
  std::unordered_map<std::string, std::string> regions_;
  vigil::v1::RegistryUpdate update_;  //!< decode buffer
  broker::ErrorTally errors_{"agency-regions"};
};

}  // namespace vigil::ingest
