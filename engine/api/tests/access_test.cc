#include "engine/api/access.h"

#include <gtest/gtest.h>

namespace vigil::api {
namespace {

TEST(DemoTokens, OperatorAdminAndOnePerAgency) {
  TokenMap t = demo_tokens({"ag1", "ag2"});
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t.at("demo-operator").role, Role::kOperator);
  EXPECT_EQ(t.at("demo-admin").role, Role::kAdmin);
  EXPECT_EQ(t.at("demo-agency-ag2").role, Role::kAgency);
  EXPECT_EQ(t.at("demo-agency-ag2").agency_id, "ag2");
}

TEST(FindToken, HeaderThenQueryThenCookie) {
  EXPECT_EQ(find_token("Bearer abc", "q", "vigil_token=c").token, "abc");
  EXPECT_EQ(find_token("Bearer abc", "q", "").source, TokenSource::kHeader);
  EXPECT_EQ(find_token("", "q", "vigil_token=c").token, "q");
  EXPECT_EQ(find_token("", "q", "").source, TokenSource::kQuery);
  auto c = find_token("", "", "theme=dark; vigil_token=c1; x=y");
  EXPECT_EQ(c.token, "c1");
  EXPECT_EQ(c.source, TokenSource::kCookie);
  EXPECT_EQ(find_token("Basic Zm9v", "", "").source, TokenSource::kNone);
}

TEST(Principal, AgencySeesOnlyItself) {
  Principal agency{Role::kAgency, "ag1", "x"};
  Principal op{Role::kOperator, "", "y"};
  EXPECT_TRUE(agency.may_see_agency("ag1"));
  EXPECT_FALSE(agency.may_see_agency("ag2"));
  EXPECT_TRUE(op.may_see_agency("ag2"));
  EXPECT_EQ(parse_role("admin"), Role::kAdmin);
  EXPECT_EQ(parse_role("root"), std::nullopt);
}

TEST(ParseTokens, ReadsRolesAndRejectsBadEntriesWithTheirLine) {
  auto ok = parse_tokens(YAML::Load("a1: {role: operator, name: alice}\n"
                                    "b2: {role: agency, agency_id: ag-17}\n"
                                    "c3: {role: admin}\n"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok.value().at("a1").name, "alice");
  EXPECT_EQ(ok.value().at("b2").agency_id, "ag-17");
  EXPECT_EQ(ok.value().at("b2").name, "agency-ag-17");
  EXPECT_EQ(ok.value().at("c3").role, Role::kAdmin);
  auto no_agency = parse_tokens(YAML::Load("a1: {role: operator}\nb2: {role: agency}\n"));
  ASSERT_FALSE(no_agency);
  EXPECT_EQ(no_agency.error().code, Errc::kConfig);
  EXPECT_NE(no_agency.error().message.find("line 2"), std::string::npos) << no_agency.error().message;
  auto bad_role = parse_tokens(YAML::Load("a1: {role: root}\n"));
  ASSERT_FALSE(bad_role);
  EXPECT_NE(bad_role.error().message.find("unknown role root"), std::string::npos);
  EXPECT_FALSE(parse_tokens(YAML::Load("[1, 2]")));
}

}  // namespace
}  // namespace vigil::api
