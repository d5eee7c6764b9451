#pragma once
// The REST endpoints and /metrics: a request in, a response out, no I/O of their own (hooks may
// produce to Kafka). Internal to vigil::api; run on the io threads.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/api/api_service.h"

namespace vigil::api {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

//! Everything a handler reads; owned by the ApiService, outlives the server.
struct ApiContext {
  const ApiConfig& config;
  const ApiHooks& hooks;
  ViewStore& views;
  PushHub& hub;
  const Clock& clock;
  std::function<ServerStats()> stats;
  std::atomic<uint64_t> call_seq{0};
  const VitalsStore* vitals = nullptr;  //!< null: the elder page has no "vitals"
};

//! A request target split into its path and decoded query parameters.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};
Target parse_target(std::string_view target);
std::string url_decode(std::string_view s);

//! Finds the caller of a request; nullptr if there is no token or it is unknown.
const Principal* authenticate(const ApiContext& ctx, const Request& req, const Target& target,
                              FoundToken* found);

//! Answers one request (everything except the WebSocket upgrade).
Response handle_request(ApiContext& ctx, const Request& req);

//! A JSON error body {"error": message} with `status`.
Response error_response(const Request& req, boost::beast::http::status status,
                        std::string_view message);

//! The answer to a request the HTTP parser refused with `ec` (an http::error): 413 past the body
//! limit, 431 past the header limit, 400 for anything malformed, naming what was wrong; it
//! closes the connection (the stream cannot be trusted past a parse error). Nothing for any
//! other error (a timeout, a reset): there is no request to answer, or no one to answer.
std::optional<Response> malformed_request_response(boost::beast::error_code ec);

//! The Prometheus text exposition of the engine's and the API's series.
std::string render_metrics(const ApiContext& ctx);

}  // namespace vigil::api
