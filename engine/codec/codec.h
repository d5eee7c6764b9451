#pragma once
// Decoding of input records (Protobuf wire bytes or proto3 JSON) and the JSON form of every
// message, through protobuf's own JSON mapping. Pure functions; any thread.

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/codec/topics.h"
#include "engine/core/result.h"
#include "schemas/agency.pb.h"
#include "schemas/calls.pb.h"
#include "schemas/orders.pb.h"
#include "schemas/outputs.pb.h"
#include "schemas/registry.pb.h"
#include "schemas/telemetry.pb.h"

namespace vigil::codec {

//! How a record's payload is encoded: Kafka carries wire bytes, replay files and the HTTP API
//! carry JSON.
enum class Format : uint8_t { kBinary, kJson };

//! The largest input record the engine decodes (256 KiB; a device event or registry entry is
//! well under 1 KiB). Larger records are dead-lettered with their size as the reason, and the
//! dead letter carries only this many bytes of them, so it stays under the producer's
//! message.max.bytes (1 MB) and cannot block the outputs behind it (docs/operations.md).
inline constexpr size_t kMaxRecordBytes = 256 * 1024;

//! Parses `payload` into `msg` (cleared first). Returns an kInvalidInput Error naming the
//! message type and the parser's complaint if the bytes are not a valid message, or the size if
//! the payload is over kMaxRecordBytes.
Status decode(std::string_view payload, Format format, google::protobuf::Message* msg);
//! The same for the hottest input, with a fast path for wire bytes: decode_fast() first, then
//! protobuf's parser whenever the fast path declines. Same result as the generic decode(),
//! except that unknown fields are dropped (nothing reads them).
Status decode(std::string_view payload, Format format, vigil::v1::DeviceEvent* msg);
//! Parses wire bytes straight into a reused DeviceEvent: its strings keep their capacity and
//! its Timestamp stays allocated (protobuf's Clear() frees it), so steady-state decoding does
//! not allocate. Declines (returns false) on anything it cannot decode exactly as protobuf
//! would: an unknown field, a field of another wire type, `ts` twice, a string that is not
//! ASCII (protobuf checks UTF-8), malformed bytes. `msg` is unspecified after a decline.
bool decode_fast(std::string_view payload, vigil::v1::DeviceEvent* msg);

//! Checks the fields every message of the topic must carry (ids, a timestamp where the SPEC
//! needs one, every timestamp within years 1..9999). Returns kInvalidInput naming the first
//! missing or invalid field.
Status validate(const vigil::v1::DeviceEvent& e);
Status validate(const vigil::v1::CallEvent& e);
Status validate(const vigil::v1::AgencyUpdate& e);
Status validate(const vigil::v1::RegistryUpdate& e);

//! Canonical proto3 JSON of a message on one line: proto field names, enums as names,
//! default values omitted. Deterministic for a given message. "null" for a message that has no
//! JSON form (a Timestamp outside years 1..9999; validate() keeps such inputs out).
std::string to_json(const google::protobuf::Message& msg);

//! A fresh message of the type a topic carries.
std::unique_ptr<google::protobuf::Message> new_message(InTopic topic);
std::unique_ptr<google::protobuf::Message> new_message(OutTopic topic);

}  // namespace vigil::codec
