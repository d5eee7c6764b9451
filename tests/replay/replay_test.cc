// Golden replay: each tests/replay/<case>/input.jsonl replayed through the shipped pack must give
// exactly <case>/expected.jsonl, and the same output twice.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/replay.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string run_replay(const fs::path& input) {
  static auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
  EXPECT_TRUE(rules.ok());
  std::ifstream in(input);
  std::string out;
  egress::JsonLinesSink sink(&out);
  runtime::replay(in, rules.rules, dispatch::DispatchConfig{}, sink);
  return out;
}

std::vector<fs::path> cases() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(VIGIL_SOURCE_DIR "/tests/replay")) {
    if (e.is_directory() && fs::exists(e.path() / "input.jsonl")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class GoldenReplay : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenReplay, MatchesExpectedOutputByteForByte) {
  const fs::path dir = GetParam();
  ASSERT_TRUE(fs::exists(dir / "expected.jsonl")) << "missing " << (dir / "expected.jsonl");
  const std::string got = run_replay(dir / "input.jsonl");
  const std::string want = read_file(dir / "expected.jsonl");
  if (got != want) {
    std::ofstream(dir.filename().string() + ".actual.jsonl") << got;
  }
  EXPECT_EQ(got, want) << "replay of " << dir << " differs (actual output written to "
                       << dir.filename().string() << ".actual.jsonl in the test directory)";
}

TEST_P(GoldenReplay, IsDeterministic) {
  const fs::path dir = GetParam();
  EXPECT_EQ(run_replay(dir / "input.jsonl"), run_replay(dir / "input.jsonl"));
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenReplay, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.filename().string(); });

// The SOS scenario's facts, independent of the golden file: one alarm raised then repeated, the
// order offered to the nearest active emergency_response agency and tracked to COMPLETED.
TEST(SosReplay, OffersToNearestActiveEmergencyAgency) {
  const std::string out = run_replay(VIGIL_SOURCE_DIR "/tests/replay/sos/input.jsonl");
  std::istringstream lines(out);
  std::vector<std::string> alarms, offers, states;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(R"({"topic":"alarms")") == 0) alarms.push_back(line);
    if (line.find(R"({"topic":"dispatch")") == 0) offers.push_back(line);
    if (line.find(R"({"topic":"tracking")") == 0) states.push_back(line);
  }
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_NE(offers[0].find(R"("agency_id":"ag-near")"), std::string::npos);
  EXPECT_NE(offers[0].find(R"("category":"emergency_response")"), std::string::npos);
  EXPECT_NE(out.find(R"("rule_id":"sos","severity":"CRITICAL","status":"ACTIVE_UNACK")"),
            std::string::npos);
  EXPECT_NE(out.find(R"("count":2)"), std::string::npos);
  EXPECT_EQ(out.find(R"("alarm_id":"e1:sos:2")"), std::string::npos);  // a repeat, not a new alarm
  for (const char* st : {"CREATED", "OFFERED", "ACCEPTED", "EN_ROUTE", "ARRIVED", "IN_SERVICE",
                         "COMPLETED"}) {
    EXPECT_NE(out.find(std::string(R"("state":")") + st + "\""), std::string::npos) << st;
  }
}

}  // namespace
}  // namespace vigil
