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

}  // namespace
}  // namespace vigil::api
