#pragma once
// The hand-off of console updates from the engine's threads to the io thread. publish() takes a
// mutex for O(1) work (no I/O, no waiting on clients): it appends to a bounded queue, dropping
// the oldest update when full, and asks the io thread to drain once per batch. The io thread
// fans the drained updates out to each WebSocket client's own bounded queue.
//
// Thread-safe. The notifier is set and cleared by the server (io side).

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vigil::api {

//! One update for consoles: {"topic":..., "value":...} ready to send, and the agency it
//! concerns (agency clients receive only their own; operators receive everything).
struct PushMessage {
  std::shared_ptr<const std::string> json;
  std::string agency_id;
  bool operators_only = false;  //!< alarms and tasks: never to agency clients
};

class PushHub {
 public:
  explicit PushHub(size_t capacity = 10000) : capacity_(capacity) {}

  //! Queues one update. Returns at once; drops the oldest queued update when full.
  void publish(PushMessage msg);
  //! Takes everything queued (io thread); the next publish() notifies again.
  std::vector<PushMessage> drain();
  //! Called (under the hub's lock, so it must only post) when an update arrives on an empty
  //! queue. Empty function: nobody listens.
  void set_notifier(std::function<void()> notify);
  //! Whether any client listens; the tee sink skips building JSON when nobody does.
  bool has_listeners() const { return listeners_.load(std::memory_order_relaxed) > 0; }
  void add_listener() { listeners_.fetch_add(1, std::memory_order_relaxed); }
  void remove_listener() { listeners_.fetch_sub(1, std::memory_order_relaxed); }

  uint64_t published() const { return published_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::deque<PushMessage> queue_;
  bool scheduled_ = false;
  std::function<void()> notify_;
  std::atomic<int64_t> listeners_{0};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace vigil::api
