#include "engine/api/access.h"

namespace vigil::api {

const char* role_name(Role role) {
  switch (role) {
    case Role::kOperator: return "operator";
    case Role::kAgency: return "agency";
    case Role::kAdmin: return "admin";
  }
  return "unknown";
}

std::optional<Role> parse_role(std::string_view name) {
  if (name == "operator") return Role::kOperator;
  if (name == "agency") return Role::kAgency;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

TokenMap demo_tokens(const std::vector<std::string>& agency_ids) {
  TokenMap tokens;
  tokens["demo-operator"] = Principal{Role::kOperator, "", "demo-operator"};
  tokens["demo-admin"] = Principal{Role::kAdmin, "", "demo-admin"};
  for (const auto& id : agency_ids) {
    tokens["demo-agency-" + id] = Principal{Role::kAgency, id, "demo-agency-" + id};
  }
  return tokens;
}

Result<TokenMap> parse_tokens(const YAML::Node& tokens) {
  TokenMap out;
  if (!tokens || tokens.IsNull()) return out;
  auto bad = [](const YAML::Node& n, const std::string& what) {
    return make_error(Errc::kConfig, "tokens (line " + std::to_string(n.Mark().line + 1) + "): " + what);
  };
  if (!tokens.IsMap()) return bad(tokens, "expected a map token -> {role, agency_id, name}");
  for (const auto& entry : tokens) {
    const std::string token = entry.first.as<std::string>();
    const YAML::Node& spec = entry.second;
    if (token.empty()) return bad(entry.first, "empty token");
    if (!spec.IsMap() || !spec["role"]) return bad(spec, "token needs a role");
    auto role = parse_role(spec["role"].as<std::string>());
    if (!role) return bad(spec["role"], "unknown role " + spec["role"].as<std::string>() +
                                            "; use operator, agency or admin");
    Principal p;
    p.role = *role;
    if (*role == Role::kAgency) {
      if (!spec["agency_id"]) return bad(spec, "an agency token needs an agency_id");
      p.agency_id = spec["agency_id"].as<std::string>();
    }
    p.name = spec["name"] ? spec["name"].as<std::string>()
                          : std::string(role_name(*role)) + (p.agency_id.empty() ? "" : "-" + p.agency_id);
    out[token] = std::move(p);
  }
  return out;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

FoundToken find_token(std::string_view authorization, std::string_view query_token,
                      std::string_view cookie_header) {
  authorization = trim(authorization);
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      authorization.substr(0, kBearer.size()) == kBearer) {
    return {std::string(trim(authorization.substr(kBearer.size()))), TokenSource::kHeader};
  }
  if (!query_token.empty()) return {std::string(query_token), TokenSource::kQuery};
  while (!cookie_header.empty()) {
    size_t semi = cookie_header.find(';');
    std::string_view part = trim(cookie_header.substr(0, semi));
    cookie_header = semi == std::string_view::npos ? std::string_view{}
                                                   : cookie_header.substr(semi + 1);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == kTokenCookie) {
      return {std::string(part.substr(eq + 1)), TokenSource::kCookie};
    }
  }
  return {};
}

}  // namespace vigil::api
