#pragma once
// A well-formedness check of YAML text with libyaml, the reference C parser, before yaml-cpp
// sees it: yaml-cpp 0.7 (Debian 12) can loop for minutes on some malformed input (found by
// tests/fuzz/fuzz_rules), which would hang `vigil rules check`, hot reload or the validate
// endpoint. Pure function; any thread.

#include <optional>
#include <string>

#include "engine/rules/rule_set.h"

namespace vigil::rules {

//! Returns the first syntax error as a located Diagnostic, or nullopt if the text is well formed.
std::optional<Diagnostic> check_yaml_syntax(const std::string& text, const std::string& file);

}  // namespace vigil::rules
