#include "engine/core/result.h"

namespace vigil {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidInput: return "invalid_input";
    case Errc::kNotFound: return "not_found";
    case Errc::kRejected: return "rejected";
    case Errc::kIo: return "io";
    case Errc::kBroker: return "broker";
    case Errc::kConfig: return "config";
  }
  return "unknown";
}

}  // namespace vigil
