#include "engine/state/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <charconv>

namespace vigil::state {

std::string offset_key(InTopic topic, int32_t partition) {
  return "o/" + std::string(name(topic)) + "/" + std::to_string(partition);
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction();
  options.compression = rocksdb::kLZ4Compression;
  // A fixed memory budget (bench/README.md, "Memory"): OptimizeLevelStyleCompaction alone lets
  // memtables grow to 6 x 128 MiB before the first flush, which a long run (or 100,000 rule
  // reloads, each dirtying every elder) fills, so RSS grew for minutes. Instead 16 MiB write
  // buffers, flushed one at a time, at most 3 (48 MiB, also the WriteBufferManager's cap), and
  // index and filter blocks in the 32 MiB block cache instead of growing with the files.
  options.write_buffer_size = kWriteBufferBytes;
  options.max_write_buffer_number = kMaxWriteBuffers;
  options.min_write_buffer_number_to_merge = 1;
  options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(kMemtableBudgetBytes);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    return make_error(Errc::kIo, "cannot open state in " + dir + ": " + s.ToString());
  }
  return std::unique_ptr<StateStore>(new StateStore(std::unique_ptr<rocksdb::DB>(raw)));
}

Status StateStore::commit(const std::vector<const StateOps*>& ops, const OffsetMap& offsets) {
  rocksdb::WriteBatch batch;
  for (const StateOps* o : ops) {
    for (const auto& [k, v] : o->puts) batch.Put(k, v);
    for (const auto& k : o->deletes) batch.Delete(k);
  }
  for (const auto& [tp, offset] : offsets) {
    batch.Put(offset_key(tp.first, tp.second), std::to_string(offset));
  }
  rocksdb::WriteOptions wo;
  wo.sync = false;  // the WAL is written; fsync per checkpoint is a config decision (docs)
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) return make_error(Errc::kIo, "checkpoint write failed: " + s.ToString());
  return ok();
}

Result<OffsetMap> StateStore::load_offsets() const {
  OffsetMap out;
  std::optional<Error> bad;
  auto s = scan("o/", [&](std::string_view key, std::string_view value) {
    auto slash = key.find('/');
    if (slash == std::string_view::npos) return;
    auto topic = parse_in_topic(key.substr(0, slash));
    int32_t partition = 0;
    int64_t offset = 0;
    auto pk = key.substr(slash + 1);
    if (!topic || std::from_chars(pk.data(), pk.data() + pk.size(), partition).ec != std::errc() ||
        std::from_chars(value.data(), value.data() + value.size(), offset).ec != std::errc()) {
      bad = make_error(Errc::kIo, "corrupt offset entry o/" + std::string(key));
      return;
    }
    out[{*topic, partition}] = offset;
  });
  if (!s) return s.error();
  if (bad) return *bad;
  return out;
}

Status StateStore::scan(std::string_view prefix,
                        const std::function<void(std::string_view, std::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    if (key.substr(0, prefix.size()) != prefix) break;
    fn(key.substr(prefix.size()), it->value().ToStringView());
  }
  if (!it->status().ok()) {
    return make_error(Errc::kIo, "state scan failed: " + it->status().ToString());
  }
  return ok();
}

Result<std::optional<std::string>> StateStore::get(std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return make_error(Errc::kIo, "state read failed: " + s.ToString());
  return std::optional<std::string>(std::move(value));
}

StateStore::MemoryStats StateStore::memory_stats() const {
  MemoryStats m;
  db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &m.memtable_bytes);
  db_->GetIntProperty("rocksdb.block-cache-usage", &m.block_cache_bytes);
  db_->GetIntProperty("rocksdb.estimate-table-readers-mem", &m.table_readers_bytes);
  return m;
}

uint64_t StateStore::estimated_live_bytes() const {
  uint64_t v = 0;
  db_->GetIntProperty("rocksdb.estimate-live-data-size", &v);
  return v;
}

}  // namespace vigil::state
