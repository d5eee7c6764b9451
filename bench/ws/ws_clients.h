#pragma once
// A swarm of WebSocket clients on one io_context thread: each connects to /ws with a token and
// counts the updates it receives. Used by ws_fanout_bench (bench/README.md, "WebSocket fan-out").

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vigil::bench::ws {

struct SwarmCounts {
  uint64_t connected = 0;       //!< handshakes completed
  uint64_t failed = 0;          //!< connect, handshake or read errors
  uint64_t with_update = 0;     //!< clients that received >= 1 message
  uint64_t messages = 0;        //!< messages received by all clients
  uint64_t bytes = 0;
};

class Swarm {
 public:
  //! Starts `clients` connections to host:port/ws?token=token on its own thread; returns at once.
  Swarm(std::string host, uint16_t port, std::string token, int clients);
  ~Swarm();  //!< closes every connection and joins the thread

  SwarmCounts counts() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace vigil::bench::ws
