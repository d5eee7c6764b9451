#pragma once
// A reader of the Protobuf wire format, field by field, for the hot paths that read a few
// fields of a message without parsing it into objects (the compact profile, the DeviceEvent
// fast path). Pure functions; any thread.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vigil::codec::wire {

//! One field of a serialised message: number, wire type, varint or fixed value, or bytes.
struct Field {
  uint32_t number = 0;
  uint32_t type = 0;
  uint64_t value = 0;     //!< varint, fixed64 or fixed32 value
  std::string_view body;  //!< length-delimited body
};
//! Reads a varint at `*at`; false if it runs past the end or over 10 bytes.
bool read_varint(std::string_view b, size_t* at, uint64_t* v);
//! Reads the next field at `*at` in `b`; false at the end or on malformed input.
bool next(std::string_view b, size_t* at, Field* f);

}  // namespace vigil::codec::wire
