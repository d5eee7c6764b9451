#include "engine/api/routes.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/api/route_handler.h"
#include "engine/codec/codec.h"

namespace vigil::api {
namespace route {

json::value proto_json(const google::protobuf::Message& m) { return json::parse(codec::to_json(m)); }

json::object proto_object(const google::protobuf::Message& m) {
  json::value v = proto_json(m);
  return v.is_object() ? std::move(v.as_object()) : json::object();
}

Response json_response(const Request& req, http::status status, const json::value& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = json::serialize(body);
  res.prepare_payload();
  return res;
}

Response method_not_allowed(const Request& req, std::string_view allow) {
  Response res = error_response(req, http::status::method_not_allowed,
                                "method " + std::string(req.method_string()) + " not allowed; use " +
                                    std::string(allow));
  res.set(http::field::allow, allow);
  return res;
}

size_t limit_of(const Target& t) {
  auto it = t.query.find("limit");
  if (it == t.query.end()) return kDefaultLimit;
  try {
    long v = std::stol(it->second);
    return v <= 0 ? kDefaultLimit : std::min<size_t>(static_cast<size_t>(v), kMaxLimit);
  } catch (...) {
    return kDefaultLimit;
  }
}

std::string query_or(const Target& t, const std::string& key, std::string fallback) {
  auto it = t.query.find(key);
  return it == t.query.end() ? fallback : it->second;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

namespace {

std::string content_type_of(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

}  // namespace

Response Handler::api(const std::vector<std::string>& s) {
  const size_t n = s.size();
  const bool ops = who_.role != Role::kAgency;
  if (n == 1 && s[0] == "whoami") {
    if (!get()) return method_not_allowed(req_, "GET");
    return ok(json::object{{"role", role_name(who_.role)}, {"agency_id", who_.agency_id},
                           {"name", who_.name}});
  }
  if (s[0] == "alarms") {
    if (n == 1) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? alarms() : operators_only();
    }
    if (n == 2) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? alarm(s[1]) : operators_only();
    }
    if (n == 3 && (s[2] == "ack" || s[2] == "assign" || s[2] == "escalate" || s[2] == "clear")) {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? alarm_action(s[1], s[2]) : operators_only();
    }
  }
  if (s[0] == "tasks" && n == 1) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? tasks() : operators_only();
  }
  if (s[0] == "stats" && n == 1) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? stats() : operators_only();
  }
  if (s[0] == "orders") {
    if (n == 1) {
      if (get()) return orders();
      if (post()) return ops ? place_order() : operators_only();
      return method_not_allowed(req_, "GET, POST");
    }
    if (n == 2) {
      if (!get()) return method_not_allowed(req_, "GET");
      return order(s[1]);
    }
    if (n == 3 && (s[2] == "cancel" || s[2] == "rate")) {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? order_action(s[1], s[2]) : operators_only();
    }
  }
  if (s[0] == "elders" && n == 2) {
    if (!get()) return method_not_allowed(req_, "GET");
    return ops ? elder(s[1]) : operators_only();
  }
  if (s[0] == "agencies" && n >= 3) {
    const std::string& agency = s[1];
    bool known = (n == 3 && (s[2] == "offers" || s[2] == "orders")) ||
                 (n == 5 && s[2] == "orders" &&
                  (s[4] == "accept" || s[4] == "decline" || s[4] == "progress"));
    if (known) {
      if (n == 3 && !get()) return method_not_allowed(req_, "GET");
      if (n == 5 && !post()) return method_not_allowed(req_, "POST");
      if (!who_.may_see_agency(agency)) {
        return err(http::status::forbidden,
                   "agency " + who_.agency_id + " may not see agency " + agency);
      }
      if (n == 3) return s[2] == "offers" ? agency_offers(agency) : agency_orders(agency);
      return agency_action(agency, s[3], s[4]);
    }
  }
  if (s[0] == "rules") {
    if (n == 1) {
      if (!get()) return method_not_allowed(req_, "GET");
      return ops ? rules_list() : operators_only();
    }
    if (n == 2 && s[1] == "validate") {
      if (!post()) return method_not_allowed(req_, "POST");
      return ops ? rules_validate() : operators_only();
    }
    if (n == 2 && s[1] == "reload") {
      if (!post()) return method_not_allowed(req_, "POST");
      return who_.role == Role::kAdmin ? rules_reload()
                                       : err(http::status::forbidden,
                                             "rule reload needs the admin role");
    }
  }
  return err(http::status::not_found, "no such endpoint: " + t_.path);
}

namespace {

Response serve_static(const ApiConfig& config, const Request& req, const Target& t) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    return method_not_allowed(req, "GET, HEAD");
  }
  if (config.static_dir.empty() || t.path.find("..") != std::string::npos) {
    return error_response(req, http::status::not_found, "no such file: " + t.path);
  }
  std::filesystem::path p = std::filesystem::path(config.static_dir) /
                            (t.path == "/" ? std::string("index.html") : t.path.substr(1));
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "index.html";
  std::ifstream in(p, std::ios::binary);
  if (!in) return error_response(req, http::status::not_found, "no such file: " + t.path);
  std::ostringstream data;
  data << in.rdbuf();
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, content_type_of(p));
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(req.keep_alive());
  res.body() = data.str();
  res.prepare_payload();
  return res;
}

}  // namespace
}  // namespace route

using route::json_response;
using route::method_not_allowed;
namespace http = boost::beast::http;
namespace json = boost::json;

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Target parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  t.path = url_decode(target.substr(0, q));
  if (t.path.empty()) t.path = "/";
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    t.query[url_decode(part.substr(0, eq))] =
        eq == std::string_view::npos ? std::string() : url_decode(part.substr(eq + 1));
  }
  return t;
}

Response error_response(const Request& req, http::status status, std::string_view message) {
  return json_response(req, status, json::object{{"error", message}});
}

std::optional<Response> malformed_request_response(boost::beast::error_code ec) {
  if (ec.category() != http::make_error_code(http::error::body_limit).category()) return std::nullopt;
  Request req;  // what the parser had is not trusted: HTTP/1.1, no keep-alive
  req.version(11);
  req.keep_alive(false);
  if (ec == http::error::body_limit) {
    return error_response(req, http::status::payload_too_large, "request body too large");
  }
  if (ec == http::error::header_limit) {
    return error_response(req, http::status::request_header_fields_too_large,
                          "request header fields too large");
  }
  return error_response(req, http::status::bad_request, "malformed HTTP request: " + ec.message());
}

const Principal* authenticate(const ApiContext& ctx, const Request& req, const Target& target,
                              FoundToken* found) {
  auto q = target.query.find("token");
  *found = find_token(req[http::field::authorization],
                      q == target.query.end() ? std::string_view{} : std::string_view(q->second),
                      req[http::field::cookie]);
  if (found->source == TokenSource::kNone) return nullptr;
  auto it = ctx.config.tokens.find(found->token);
  return it == ctx.config.tokens.end() ? nullptr : &it->second;
}

Response handle_request(ApiContext& ctx, const Request& req) {
  Target t = parse_target(req.target());
  if (t.path == "/healthz") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    return json_response(req, http::status::ok, json::object{{"status", "ok"}});
  }
  if (t.path == "/readyz") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    bool ready = !ctx.hooks.ready || ctx.hooks.ready();
    return json_response(req, ready ? http::status::ok : http::status::service_unavailable,
                         json::object{{"ready", ready}});
  }
  FoundToken found;
  const Principal* who = authenticate(ctx, req, t, &found);
  const bool api = t.path == "/api" || t.path.rfind("/api/", 0) == 0;
  if (t.path == "/metrics" || api) {
    if (!who && (api || !ctx.config.metrics_public)) {
      return error_response(req, http::status::unauthorized,
                            found.source == TokenSource::kNone
                                ? "missing token: send Authorization: Bearer <token>"
                                : "unknown token");
    }
  }
  Response res;
  if (t.path == "/metrics") {
    if (req.method() != http::verb::get) return method_not_allowed(req, "GET");
    res = Response{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = render_metrics(ctx);
    res.prepare_payload();
  } else if (api) {
    std::vector<std::string> seg;
    std::string_view rest = std::string_view(t.path).substr(std::min<size_t>(t.path.size(), 5));
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      if (slash != 0) seg.emplace_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest.remove_prefix(slash + 1);
    }
    if (seg.empty()) return error_response(req, http::status::not_found, "no such endpoint: " + t.path);
    res = route::Handler(ctx, req, t, *who).api(seg);
  } else {
    res = route::serve_static(ctx.config, req, t);
  }
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  if (who && found.source == TokenSource::kQuery) {
    res.set(http::field::set_cookie, std::string(kTokenCookie) + "=" + found.token +
                                         "; Path=/; HttpOnly; SameSite=Strict");
  }
  return res;
}

}  // namespace vigil::api
