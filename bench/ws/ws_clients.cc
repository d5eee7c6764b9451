#include "bench/ws/ws_clients.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace vigil::bench::ws {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct Swarm::Impl {
  net::io_context ioc;
  tcp::endpoint endpoint;
  std::string host_header;
  std::string target;
  std::atomic<uint64_t> connected{0}, failed{0}, with_update{0}, messages{0}, bytes{0};

  struct Client : std::enable_shared_from_this<Client> {
    Client(Impl& impl) : impl(impl), ws(net::make_strand(impl.ioc)) {}
    Impl& impl;
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    uint64_t received = 0;
    bool failed = false;

    void start() {
      beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(60));
      beast::get_lowest_layer(ws).async_connect(
          impl.endpoint, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
    }
    void fail() {
      if (failed) return;
      failed = true;
      impl.failed.fetch_add(1, std::memory_order_relaxed);
    }
    void on_connect(beast::error_code ec) {
      if (ec) return fail();
      beast::get_lowest_layer(ws).expires_never();
      ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      ws.async_handshake(impl.host_header, impl.target,
                         [self = shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
    }
    void on_handshake(beast::error_code ec) {
      if (ec) return fail();
      impl.connected.fetch_add(1, std::memory_order_relaxed);
      read();
    }
    void read() {
      ws.async_read(buffer, [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->on_read(ec, n);
      });
    }
    void on_read(beast::error_code ec, size_t n) {
      if (ec) {
        if (ec != net::error::operation_aborted && ec != websocket::error::closed) fail();
        return;
      }
      if (received++ == 0) impl.with_update.fetch_add(1, std::memory_order_relaxed);
      impl.messages.fetch_add(1, std::memory_order_relaxed);
      impl.bytes.fetch_add(n, std::memory_order_relaxed);
      buffer.consume(buffer.size());
      read();
    }
  };
  std::vector<std::shared_ptr<Client>> clients;
};

Swarm::Swarm(std::string host, uint16_t port, std::string token, int clients)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = tcp::endpoint(net::ip::make_address(host), port);
  impl_->host_header = host + ":" + std::to_string(port);
  impl_->target = "/ws?token=" + token;
  for (int i = 0; i < clients; ++i) {
    impl_->clients.push_back(std::make_shared<Impl::Client>(*impl_));
    impl_->clients.back()->start();
  }
  thread_ = std::thread([this] { impl_->ioc.run(); });
}

Swarm::~Swarm() {
  impl_->ioc.stop();
  if (thread_.joinable()) thread_.join();
}

SwarmCounts Swarm::counts() const {
  SwarmCounts c;
  c.connected = impl_->connected.load();
  c.failed = impl_->failed.load();
  c.with_update = impl_->with_update.load();
  c.messages = impl_->messages.load();
  c.bytes = impl_->bytes.load();
  return c;
}

}  // namespace vigil::bench::ws
