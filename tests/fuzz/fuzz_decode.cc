// Fuzz target: the decoders of every topic's message, wire bytes and JSON. The first byte picks
// the topic and the format. Invariants: a message validate() accepts prints as JSON; whatever
// prints decodes again to the same message.

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/codec/codec.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto format = (sel & 0x80) ? codec::Format::kJson : codec::Format::kBinary;
  const unsigned which = (sel & 0x7f) % 10;
  auto msg = which < 4 ? codec::new_message(static_cast<InTopic>(which))
                       : codec::new_message(static_cast<OutTopic>(which - 4));
  if (!codec::decode(payload, format, msg.get())) return 0;
  bool valid = true;
  switch (which) {
    case 0: valid = bool(codec::validate(static_cast<vigil::v1::DeviceEvent&>(*msg))); break;
    case 1: valid = bool(codec::validate(static_cast<vigil::v1::CallEvent&>(*msg))); break;
    case 2: valid = bool(codec::validate(static_cast<vigil::v1::AgencyUpdate&>(*msg))); break;
    case 3: valid = bool(codec::validate(static_cast<vigil::v1::RegistryUpdate&>(*msg))); break;
    default: break;
  }
  msg->DiscardUnknownFields();  // wire bytes may carry unknown fields; JSON has no place for them
  const std::string json = codec::to_json(*msg);
  if (json == "null") {
    // No JSON form: allowed only for a message validate() refuses (or an output type, which
    // the engine never builds from foreign bytes).
    if (which < 4 && valid) std::abort();
    return 0;
  }
  auto again = msg->New();
  if (!codec::decode(json, codec::Format::kJson, again)) std::abort();
  // NaN prints as "NaN" and parses back as NaN, which never equals itself: compare NaNs as equal
  // (a DispatchOffer with a NaN longitude made the plain Equals() a false finding).
  google::protobuf::util::DefaultFieldComparator fields;
  fields.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer diff;
  diff.set_field_comparator(&fields);
  if (!diff.Compare(*msg, *again)) std::abort();
  delete again;
  return 0;
}
