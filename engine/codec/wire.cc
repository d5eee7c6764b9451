#include "engine/codec/wire.h"

namespace vigil::codec::wire {

bool read_varint(std::string_view b, size_t* at, uint64_t* v) {
  uint64_t out = 0;
  for (int shift = 0; shift < 64 && *at < b.size(); shift += 7) {
    const auto c = static_cast<uint8_t>(b[(*at)++]);
    out |= static_cast<uint64_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) {
      *v = out;
      return true;
    }
  }
  return false;
}

bool next(std::string_view b, size_t* at, Field* f) {
  uint64_t tag = 0;
  if (*at >= b.size() || !read_varint(b, at, &tag) || tag > UINT32_MAX) return false;
  f->number = static_cast<uint32_t>(tag >> 3);
  f->type = static_cast<uint32_t>(tag & 7);
  switch (f->type) {
    case 0: return read_varint(b, at, &f->value);
    case 1:
    case 5: {
      const size_t n = f->type == 1 ? 8 : 4;
      if (b.size() - *at < n) return false;
      uint64_t v = 0;
      for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[*at + i])) << (8 * i);
      f->value = v;
      *at += n;
      return true;
    }
    case 2: {
      uint64_t n = 0;
      if (!read_varint(b, at, &n) || b.size() - *at < n) return false;
      f->body = b.substr(*at, n);
      *at += n;
      return true;
    }
    default: return false;  // groups are not used by vigil's schemas
  }
}

}  // namespace vigil::codec::wire
