// Fuzz target: the replay reader and everything behind it (routing, rules, alarms, dispatch)
// with the shipped pack. Invariants: never crashes, and the same input gives the same output.

#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/replay.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  if (!rules.ok()) std::abort();
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string out1, out2;
  {
    std::istringstream in(text);
    egress::JsonLinesSink sink(&out1);
    runtime::replay(in, rules.rules, dispatch::DispatchConfig{}, sink);
  }
  {
    std::istringstream in(text);
    egress::JsonLinesSink sink(&out2);
    runtime::replay(in, rules.rules, dispatch::DispatchConfig{}, sink);
  }
  if (out1 != out2) std::abort();
  return 0;
}
