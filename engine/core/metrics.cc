#include "engine/core/metrics.h"

namespace vigil {

Metrics& metrics() {
  static Metrics m;
  return m;
}

}  // namespace vigil
