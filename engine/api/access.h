#pragma once
// Who may call the API: bearer tokens mapped to a role (operator, agency bound to one
// agency_id, admin). Immutable after start; read by the io threads without a lock.

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "engine/core/result.h"

namespace vigil::api {

enum class Role { kOperator, kAgency, kAdmin };

const char* role_name(Role role);
//! "operator" | "agency" | "admin", or std::nullopt.
std::optional<Role> parse_role(std::string_view name);

//! The caller a token stands for. `name` is recorded as the operator_id of calls it makes.
struct Principal {
  Role role = Role::kOperator;
  std::string agency_id;  //!< set for kAgency only
  std::string name;

  //! Operators and admins see everything; an agency only its own agency_id.
  bool may_see_agency(std::string_view id) const {
    return role != Role::kAgency || agency_id == id;
  }
};

//! token -> principal, from the config file (or demo_tokens()).
using TokenMap = std::unordered_map<std::string, Principal>;

//! The demo's tokens: demo-operator, demo-admin and demo-agency-<id> for every agency id.
TokenMap demo_tokens(const std::vector<std::string>& agency_ids);

//! Reads the config file's token map:
//!   tokens:
//!     s3cret-1: {role: operator, name: alice}
//!     s3cret-2: {role: agency, agency_id: ag-17}
//!     s3cret-3: {role: admin}
//! `name` defaults to the role (and agency id). Returns kConfig naming the line of the first
//! bad entry (unknown role, agency without agency_id, not a map).
Result<TokenMap> parse_tokens(const YAML::Node& tokens);

//! Where a request's token was found; a token from the query string is answered with a cookie
//! so a browser console keeps it for the session.
enum class TokenSource { kNone, kHeader, kQuery, kCookie };

struct FoundToken {
  std::string token;
  TokenSource source = TokenSource::kNone;
};

//! The token of a request: `Authorization: Bearer T`, else `?token=T`, else cookie
//! `vigil_token=T`. `query_token` is the already-decoded query parameter (may be empty).
FoundToken find_token(std::string_view authorization, std::string_view query_token,
                      std::string_view cookie_header);

inline constexpr std::string_view kTokenCookie = "vigil_token";

}  // namespace vigil::api
