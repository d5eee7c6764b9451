// The Beast server behind ApiService: an acceptor, one HttpSession per connection (keep-alive),
// and a WsSession per console after the /ws upgrade. Runs on the service's own io threads;
// every connection has its own strand.

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <pthread.h>

#include <deque>
#include <list>
#include <thread>

#include "engine/api/api_service.h"
#include "engine/api/routes.h"
#include "engine/api/tee_sink.h"
#include "engine/core/log.h"

namespace vigil::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class ApiService::Server {
 public:
  Server(ApiContext& ctx) : ctx_(ctx), acceptor_(net::make_strand(ioc_)) {}
  ~Server() { stop(); }

  Status start();
  void stop();
  uint16_t port() const { return port_; }
  ServerStats stats() const;

  ApiContext& ctx() { return ctx_; }
  net::io_context& ioc() { return ioc_; }

  // Called on the io threads by sessions.
  class WsSession;
  void add_ws(const std::shared_ptr<WsSession>& s);
  void remove_ws(WsSession* s);
  void fan_out();

  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> ws_sent{0};
  std::atomic<uint64_t> ws_dropped{0};

 private:
  void do_accept();

  ApiContext& ctx_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  bool running_ = false;
  mutable std::mutex ws_mu_;
  std::list<std::weak_ptr<WsSession>> ws_;
  std::atomic<uint64_t> ws_count_{0};
};

// One console's WebSocket. Updates queue here (bounded: the oldest not yet being written is
// dropped when full) and are written one at a time; what the client sends is read and ignored.
// All members are used on the session's strand.
class ApiService::Server::WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  static constexpr size_t kWsReadMessageMax = 64 * 1024;

  WsSession(Server& server, tcp::socket&& socket, Principal who)
      : server_(server), ws_(std::move(socket)), who_(std::move(who)) {}

  void run(Request req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // The console sends nothing; what a client sends is read and dropped, but a message is
    // buffered whole first, so without a limit (Beast's default is 16 MiB) each connection could
    // hold that much. A bigger one fails the connection with close code 1009 (too big).
    ws_.read_message_max(kWsReadMessageMax);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, "vigil");
    }));
    // Registered before the handshake answer goes out, so a client that has its answer misses
    // no update; writes wait for the handshake to finish.
    server_.add_ws(shared_from_this());
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

  //! Any thread: queues the updates of one drained batch that this client may see, with one
  //! post per client and batch (not per message: 1,000 clients x N updates would be N*1,000).
  void deliver(std::shared_ptr<const std::vector<PushMessage>> batch) {
    net::post(ws_.get_executor(), [self = shared_from_this(), batch = std::move(batch)] {
      for (const auto& msg : *batch) {
        if (self->who_.role == Role::kAgency &&
            (msg.operators_only || msg.agency_id != self->who_.agency_id)) {
          continue;
        }
        self->enqueue(msg.json);
      }
    });
  }

 private:
  void enqueue(std::shared_ptr<const std::string> json) {
    if (closed_) return;
    const size_t limit = std::max<size_t>(server_.ctx().config.ws_queue_limit, 1);
    if (queue_.size() >= limit) {
      server_.ws_dropped.fetch_add(1, std::memory_order_relaxed);
      // The front is in flight while writing_: drop the oldest after it, or this one.
      size_t victim = writing_ ? 1 : 0;
      if (victim >= queue_.size()) return;
      queue_.erase(queue_.begin() + static_cast<long>(victim));
    }
    queue_.push_back(std::move(json));
    write_next();
  }

  void on_accept(beast::error_code ec) {
    if (ec) return close();
    open_ = true;
    write_next();
    do_read();
  }

  void do_read() {
    ws_.async_read(in_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return close();
    in_.consume(in_.size());
    do_read();
  }

  void write_next() {
    if (!open_ || writing_ || closed_ || queue_.empty()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return close();
    server_.ws_sent.fetch_add(1, std::memory_order_relaxed);
    queue_.pop_front();
    write_next();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    queue_.clear();
    server_.remove_ws(this);
  }

  Server& server_;
  websocket::stream<beast::tcp_stream> ws_;
  Principal who_;
  beast::flat_buffer in_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool open_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

namespace {

// One HTTP connection: reads requests, answers them in order, hands /ws upgrades over.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(ApiService::Server& server, tcp::socket&& socket)
      : server_(server), stream_(std::move(socket)) {}

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(server_.ctx().config.max_body_bytes);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec) {
      // A request the parser refused gets its answer, then the connection closes; a timeout or
      // a transport error only closes it.
      if (auto res = malformed_request_response(ec)) send(std::move(*res));
      return;
    }
    Request req = parser_->release();
    server_.http_requests.fetch_add(1, std::memory_order_relaxed);
    if (websocket::is_upgrade(req)) {
      Target t = parse_target(req.target());
      if (t.path != "/ws") return send(error_response(req, http::status::not_found, "no WebSocket at " + t.path));
      FoundToken found;
      const Principal* who = authenticate(server_.ctx(), req, t, &found);
      if (!who) {
        return send(error_response(req, http::status::unauthorized,
                                   found.source == TokenSource::kNone ? "missing token" : "unknown token"));
      }
      stream_.expires_never();
      auto ws = std::make_shared<ApiService::Server::WsSession>(server_, stream_.release_socket(), *who);
      ws->run(std::move(req));
      return;
    }
    // Handlers return errors as values; this only guards the io thread against the unexpected.
    Response res;
    try {
      res = handle_request(server_.ctx(), req);
    } catch (const std::exception& e) {
      log::error("api", req.method_string(), " ", req.target(), ": ", e.what());
      res = error_response(req, http::status::internal_server_error,
                           std::string("internal error: ") + e.what());
    }
    send(std::move(res));
  }

  void send(Response res) {
    auto sp = std::make_shared<Response>(std::move(res));
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (!sp->keep_alive()) return self->do_close();
                        self->do_read();
                      });
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  ApiService::Server& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

Status ApiService::Server::start() {
  const std::string& spec = ctx_.config.http;
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return make_error(Errc::kConfig, "--http " + spec + ": expected ADDR:PORT");
  std::string host = spec.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned long port_num = 0;
  try {
    port_num = std::stoul(spec.substr(colon + 1));
  } catch (...) {
    return make_error(Errc::kConfig, "--http " + spec + ": bad port");
  }
  if (port_num > 65535) return make_error(Errc::kConfig, "--http " + spec + ": bad port");
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, std::to_string(port_num),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) return make_error(Errc::kConfig, "--http " + spec + ": " + ec.message());
  tcp::endpoint ep = results.begin()->endpoint();
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error(Errc::kIo, "cannot listen on " + spec + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  ctx_.hub.set_notifier([this] { net::post(ioc_, [this] { fan_out(); }); });
  do_accept();
  running_ = true;
  int n = std::max(1, ctx_.config.io_threads);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "vigil-api-io");  // for top, perf and the WS bench
      for (;;) {  // a handler that throws loses its connection, not the server
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          log::error("api", "io thread: ", e.what());
        }
      }
    });
  }
  log::info("api", "listening on http://", ep.address().to_string(), ":", port_);
  return ok();
}

void ApiService::Server::stop() {
  if (!running_) return;
  running_ = false;
  ctx_.hub.set_notifier({});
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::lock_guard lock(ws_mu_);
  for (size_t i = 0; i < ws_.size(); ++i) ctx_.hub.remove_listener();
  ws_.clear();
  ws_count_ = 0;
}

void ApiService::Server::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (!ec) std::make_shared<HttpSession>(*this, std::move(socket))->run();
    if (acceptor_.is_open()) do_accept();
  });
}

void ApiService::Server::add_ws(const std::shared_ptr<WsSession>& s) {
  std::lock_guard lock(ws_mu_);
  ws_.push_back(s);
  ++ws_count_;
  ctx_.hub.add_listener();
}

void ApiService::Server::remove_ws(WsSession* s) {
  std::lock_guard lock(ws_mu_);
  for (auto it = ws_.begin(); it != ws_.end(); ++it) {
    auto p = it->lock();
    if (p.get() == s) {
      ws_.erase(it);
      --ws_count_;
      ctx_.hub.remove_listener();
      return;
    }
  }
}

void ApiService::Server::fan_out() {
  auto batch = std::make_shared<const std::vector<PushMessage>>(ctx_.hub.drain());
  if (batch->empty()) return;
  std::vector<std::shared_ptr<WsSession>> clients;
  {
    std::lock_guard lock(ws_mu_);
    for (auto& w : ws_) {
      if (auto p = w.lock()) clients.push_back(std::move(p));
    }
  }
  for (const auto& c : clients) {
    c->deliver(batch);
  }
}

ServerStats ApiService::Server::stats() const {
  ServerStats s;
  s.http_requests = http_requests.load();
  s.ws_clients = ws_count_.load();
  s.ws_sent = ws_sent.load();
  s.ws_dropped = ws_dropped.load();
  s.push_published = ctx_.hub.published();
  s.push_dropped = ctx_.hub.dropped();
  return s;
}

// ApiService

ApiService::ApiService(ApiConfig config, ApiHooks hooks, const Clock& clock)
    : config_(std::move(config)), hooks_(std::move(hooks)), clock_(clock),
      views_(clock_, config_.limits), hub_(config_.push_queue_limit) {}

ApiService::~ApiService() { stop(); }

std::unique_ptr<egress::Sink> ApiService::make_tee(egress::Sink* downstream) {
  return std::make_unique<TeeSink>(downstream, views_, hub_);
}

Status ApiService::start() {
  if (server_) return make_error(Errc::kRejected, "api already started");
  // Braces, not make_unique: clang before 16 has no parenthesised aggregate init (fuzz build).
  ctx_.reset(new ApiContext{config_, hooks_, views_, hub_, clock_, {}});
  ctx_->stats = [this] { return stats(); };
  ctx_->vitals = &vitals_;
  server_ = std::make_unique<Server>(*ctx_);
  Status st = server_->start();
  if (!st) server_.reset();
  return st;
}

void ApiService::stop() {
  if (server_) server_->stop();
}

uint16_t ApiService::port() const { return server_ ? server_->port() : 0; }

ServerStats ApiService::stats() const {
  if (server_) return server_->stats();
  ServerStats s;
  s.push_published = hub_.published();
  s.push_dropped = hub_.dropped();
  return s;
}

}  // namespace vigil::api
