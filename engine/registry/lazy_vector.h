#pragma once
// A vector that costs one pointer while empty (issue #6, memory per elder): most elders have
// no open alarm and no alarm counters, and three empty std::vectors in every ElderState were
// 72 of its bytes. The elements live in a heap std::vector made on first insert and freed when
// the last one goes. Iterators are plain pointers, valid as a std::vector's are.

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace vigil::registry {

template <class T>
class LazyVector {
 public:
  using value_type = T;
  using iterator = T*;
  using const_iterator = const T*;

  LazyVector() = default;
  LazyVector(const LazyVector& o)
      : v_(o.empty() ? nullptr : std::make_unique<std::vector<T>>(*o.v_)) {}
  LazyVector& operator=(const LazyVector& o) {
    if (this != &o) v_ = o.empty() ? nullptr : std::make_unique<std::vector<T>>(*o.v_);
    return *this;
  }
  LazyVector(LazyVector&&) noexcept = default;
  LazyVector& operator=(LazyVector&&) noexcept = default;

  size_t size() const { return v_ ? v_->size() : 0; }
  bool empty() const { return size() == 0; }
  size_t capacity() const { return v_ ? v_->capacity() : 0; }
  T* begin() { return v_ ? v_->data() : nullptr; }
  T* end() { return begin() + size(); }
  const T* begin() const { return v_ ? v_->data() : nullptr; }
  const T* end() const { return begin() + size(); }
  T& operator[](size_t i) { return (*v_)[i]; }
  const T& operator[](size_t i) const { return (*v_)[i]; }
  T& back() { return v_->back(); }

  template <class... A>
  T& emplace_back(A&&... a) {
    if (!v_) v_ = std::make_unique<std::vector<T>>();
    return v_->emplace_back(std::forward<A>(a)...);
  }
  void push_back(const T& x) { emplace_back(x); }
  void push_back(T&& x) { emplace_back(std::move(x)); }
  //! Removes the element at `at`; returns the position after it (nullptr once empty).
  T* erase(T* at) {
    const auto i = at - begin();
    v_->erase(v_->begin() + i);
    if (v_->empty()) {
      v_.reset();
      return nullptr;
    }
    return begin() + i;
  }
  void clear() { v_.reset(); }
  //! Heap bytes of the vector object itself (the elements are capacity() * sizeof(T)).
  size_t header_bytes() const { return v_ ? sizeof(std::vector<T>) : 0; }

 private:
  std::unique_ptr<std::vector<T>> v_;
};

}  // namespace vigil::registry
