// Fuzz target: the rule YAML loader. Invariants: never crashes or throws; a text is either a
// rule set or at least one located error.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/rules/rule_set.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = rules::load_rule_text(text, "fuzz.yaml");
  bool error = false;
  for (const auto& d : r.diagnostics) error |= !d.warning;
  if (r.ok() == error) std::abort();
  return 0;
}
