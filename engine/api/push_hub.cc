#include "engine/api/push_hub.h"

namespace vigil::api {

void PushHub::publish(PushMessage msg) {
  std::lock_guard lock(mu_);
  published_.fetch_add(1, std::memory_order_relaxed);
  if (queue_.size() >= capacity_) {
    queue_.pop_front();
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
  queue_.push_back(std::move(msg));
  if (!scheduled_ && notify_) {
    scheduled_ = true;
    notify_();
  }
}

std::vector<PushMessage> PushHub::drain() {
  std::lock_guard lock(mu_);
  std::vector<PushMessage> out(std::make_move_iterator(queue_.begin()),
                               std::make_move_iterator(queue_.end()));
  queue_.clear();
  scheduled_ = false;
  return out;
}

void PushHub::set_notifier(std::function<void()> notify) {
  std::lock_guard lock(mu_);
  notify_ = std::move(notify);
  scheduled_ = false;
  if (notify_ && !queue_.empty()) {
    scheduled_ = true;
    notify_();
  }
}

}  // namespace vigil::api
