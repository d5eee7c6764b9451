#include "engine/state/checkpoint_file.h"

#include <rocksdb/sst_file_writer.h>

#include <algorithm>
#include <functional>
#include <string_view>
#include <utility>

namespace vigil::state::detail {
namespace {

using KeyValue = std::pair<std::string_view, std::string_view>;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

//! One owner's puts in key order: a sorted() PutList as it is, another one stably sorted here.
class PutRun {
 public:
  explicit PutRun(const PutList& list) : list_(&list) {
    if (!list.sorted()) {
      own_.assign(list.begin(), list.end());
      std::stable_sort(own_.begin(), own_.end(),
                       [](const KeyValue& x, const KeyValue& y) { return x.first < y.first; });
      list_ = nullptr;
    }
  }
  bool done() const { return next_ == size(); }
  KeyValue head() const { return list_ != nullptr ? (*list_)[next_] : own_[next_]; }
  void pop() { ++next_; }

 private:
  size_t size() const { return list_ != nullptr ? list_->size() : own_.size(); }
  const PutList* list_;
  std::vector<KeyValue> own_;
  size_t next_ = 0;
};

//! All owners' puts merged in key order, one per key: the value of the run latest in the
//! WriteBatch's order (runs are given in that order), and that run's last put of the key.
class MergedPuts {
 public:
  explicit MergedPuts(std::vector<PutRun> runs) : runs_(std::move(runs)) {}
  //! The next key and its value into `out`; false when every run is done.
  bool next(KeyValue* out) {
    const PutRun* first = nullptr;
    for (const PutRun& r : runs_) {
      if (!r.done() && (first == nullptr || r.head().first < first->head().first)) first = &r;
    }
    if (first == nullptr) return false;
    const std::string_view key = first->head().first;
    std::string_view value;
    for (PutRun& r : runs_) {  // later runs, and later puts within a run, overwrite
      while (!r.done() && r.head().first == key) {
        value = r.head().second;
        r.pop();
      }
    }
    *out = KeyValue{key, value};
    return true;
  }

 private:
  std::vector<PutRun> runs_;
};

}  // namespace

void final_ops(const std::vector<const StateOps*>& ops, const OffsetMap& offsets,
               const std::function<bool(std::string_view, std::string_view, bool)>& fn) {
  std::vector<PutRun> runs;
  for (const bool sorted : {true, false}) {
    for (const StateOps* o : ops) {
      if (o->puts.sorted() == sorted && !o->puts.empty()) runs.emplace_back(o->puts);
    }
  }
  MergedPuts puts(std::move(runs));
  std::vector<std::string_view> deletes;
  for (const StateOps* o : ops) {
    deletes.insert(deletes.end(), o->deletes.begin(), o->deletes.end());
  }
  std::sort(deletes.begin(), deletes.end());
  deletes.erase(std::unique(deletes.begin(), deletes.end()), deletes.end());
  std::vector<std::pair<std::string, std::string>> offset_puts;
  for (const auto& [tp, offset] : offsets) {
    offset_puts.emplace_back(offset_key(tp.first, tp.second), std::to_string(offset));
  }
  std::sort(offset_puts.begin(), offset_puts.end());

  KeyValue put;
  bool has_put = puts.next(&put);
  size_t d = 0, o = 0;
  while (has_put || d < deletes.size() || o < offset_puts.size()) {
    std::string_view key;
    bool any = false;
    auto consider = [&](std::string_view k) {
      if (!any || k < key) key = k;
      any = true;
    };
    if (has_put) consider(put.first);
    if (d < deletes.size()) consider(deletes[d]);
    if (o < offset_puts.size()) consider(offset_puts[o].first);
    const bool is_offset = o < offset_puts.size() && offset_puts[o].first == key;
    const bool is_delete = d < deletes.size() && deletes[d] == key;
    const bool go_on = is_offset   ? fn(key, offset_puts[o].second, false)
                       : is_delete ? fn(key, {}, true)
                                   : fn(key, put.second, false);
    if (!go_on) return;
    // Advance every source that held this key (a key may be in all three).
    if (is_offset) ++o;
    if (is_delete) ++d;
    if (has_put && put.first == key) has_put = puts.next(&put);
  }
}

void put_final_ops(const std::vector<const StateOps*>& ops, const OffsetMap& offsets,
                   rocksdb::WriteBatch& batch) {
  final_ops(ops, offsets, [&](std::string_view key, std::string_view value, bool del) {
    if (del) {
      batch.Delete(slice(key));
    } else {
      batch.Put(slice(key), slice(value));
    }
    return true;
  });
}

rocksdb::Status write_checkpoint_file(const std::vector<const StateOps*>& ops,
                                      const OffsetMap& offsets, const rocksdb::Options& options,
                                      const std::string& path, uint64_t* entries,
                                      uint64_t* data_bytes) {
  *entries = 0;
  *data_bytes = 0;
  rocksdb::Options file_options = options;
  // SstFileWriter takes the last level's entry of compression_per_level when there is one
  // (OptimizeLevelStyleCompaction sets it), not `compression`.
  file_options.compression_per_level.clear();
  file_options.bottommost_compression = rocksdb::kDisableCompressionOption;
  file_options.compression = rocksdb::kNoCompression;
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(options), file_options);
  rocksdb::Status s;
  bool open = false;
  final_ops(ops, offsets, [&](std::string_view key, std::string_view value, bool del) {
    if (!open) {  // opened at the first operation: an empty checkpoint writes no file
      open = true;
      if (s = writer.Open(path); !s.ok()) return false;
    }
    s = del ? writer.Delete(slice(key)) : writer.Put(slice(key), slice(value));
    ++*entries;
    *data_bytes += key.size() + value.size();
    return s.ok();
  });
  if (s.ok() && open) s = writer.Finish();  // also syncs the file
  return s;
}

}  // namespace vigil::state::detail
