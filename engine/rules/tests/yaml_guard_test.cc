#include "engine/rules/yaml_guard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace vigil::rules {
namespace {

// Found by tests/fuzz/fuzz_rules: yaml-cpp 0.7 loops on this text; libyaml rejects it at once,
// so the loader reports a located syntax error instead of hanging.
TEST(YamlGuard, MalformedTextThatHangsYamlCppIsALocatedError) {
  std::ifstream in(VIGIL_SOURCE_DIR "/tests/fuzz/regressions/fuzz_rules-yaml-cpp-hang.yaml",
                   std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_FALSE(text.str().empty());
  auto d = check_yaml_syntax(text.str(), "x.yaml");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->line, 1);
  EXPECT_NE(d->message.find("YAML syntax"), std::string::npos);
  auto loaded = load_rule_text(text.str(), "x.yaml");
  EXPECT_FALSE(loaded.ok());
  ASSERT_FALSE(loaded.diagnostics.empty());
  EXPECT_EQ(loaded.diagnostics[0].str().rfind("x.yaml:1:", 0), 0u);
}

TEST(YamlGuard, WellFormedTextPasses) {
  EXPECT_FALSE(check_yaml_syntax("rules:\n  - id: a\n    kind: event\n", "a.yaml").has_value());
}

TEST(YamlGuard, UnclosedFlowSequenceIsLocated) {
  auto d = check_yaml_syntax("rules:\n  - reads: [heart_rate\n", "b.yaml");
  ASSERT_TRUE(d.has_value());
  EXPECT_GE(d->line, 2);
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

// Found by tests/fuzz/fuzz_rules: a sequence used as a mapping key made the loader throw.
TEST(YamlGuard, ComplexMappingKeyIsAnErrorNotAnException) {
  auto loaded = load_rule_text("rules:\n  - id: a\n    kind: event\n    reads: [sos]\n"
                               "    severity: MAJOR\n    ? [x, y]\n    : 1\n",
                               "k.yaml");
  EXPECT_FALSE(loaded.ok());
  bool located = false;
  for (const auto& d : loaded.diagnostics) located |= d.message.find("non-scalar key") != std::string::npos;
  EXPECT_TRUE(located);
}

}  // namespace
}  // namespace vigil::rules
