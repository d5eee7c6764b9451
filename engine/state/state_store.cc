#include "engine/state/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/core/thread_sched.h"
#include "engine/state/checkpoint_file.h"

namespace vigil::state {

std::string offset_key(InTopic topic, int32_t partition) {
  return "o/" + std::string(name(topic)) + "/" + std::to_string(partition);
}

namespace {

// RocksDB's info log goes to vigil's log (stderr), errors only (the engine says what a failure
// means), never to a LOG file in the data directory: on a full disk that file's writer fails,
// and RocksDB 7.8 asserts on the next line written to a failed writer
// (WritableFileWriter::AssertFalseAndGetStatusForPrevError): a full disk would become a crash.
class RocksLog final : public rocksdb::Logger {
 public:
  RocksLog() : rocksdb::Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    std::vsnprintf(line, sizeof(line), format, ap);
    log::warn("rocksdb", line);
  }
};

// Memtable flushes at the commit thread's priority (nice 10, engine/runtime/engine.cc): a
// checkpoint of 100,000 elders is ~70 MB, four to five 16 MiB memtables to flush, and a flush
// thread at the shards' priority took a core from a shard for tens of milliseconds at a time
// on a 2-core machine (bench/README.md, session 8: the paced phase's p99). Not the lowest
// priority, as compactions have: a flush that starves stalls the commit's writes, and with them
// the delivery of the outputs (exactly-once). RocksDB 7.8 offers only nice 19 (kLow) for a
// pool, so the flush thread lowers itself when its first flush begins.
class FlushPriority final : public rocksdb::EventListener {
 public:
  void OnFlushBegin(rocksdb::DB*, const rocksdb::FlushJobInfo&) override {
    thread_local bool lowered = false;
    if (!lowered) {
      lowered = true;
      set_thread_nice(kFlushNice);
    }
  }
  static constexpr int kFlushNice = 10;
};

Error closed_error(const std::string& dir) {
  return make_error(Errc::kIo, "state in " + dir + " is closed after a failed write; waiting for "
                                                   "the disk to accept writes again");
}

}  // namespace

std::string& PutList::block_for(size_t key_bytes) {
  // A block is closed once less than 4 KiB (more than most values) is left in it.
  constexpr size_t kHeadroom = 4096;
  if (current_ < blocks_.size() &&
      blocks_[current_].size() + key_bytes + kHeadroom <= blocks_[current_].capacity()) {
    return blocks_[current_];
  }
  if (current_ < blocks_.size() && !blocks_[current_].empty()) ++current_;
  if (current_ == blocks_.size()) blocks_.emplace_back().reserve(kBlockBytes);
  return blocks_[current_];
}

namespace {
//! Bytes [at, at + 8) of `key` as a big-endian number, past its end as zeros: comparing these
//! numbers compares the bytes as std::string_view does (unsigned), so two keys whose first 16
//! bytes differ are ordered by two integer compares.
uint64_t key_word(std::string_view key, size_t at) {
  unsigned char b[8] = {};
  if (at < key.size()) std::memcpy(b, key.data() + at, std::min<size_t>(8, key.size() - at));
  uint64_t w;
  std::memcpy(&w, b, sizeof w);
  return __builtin_bswap64(w);
}
}  // namespace

void PutList::sort_by_key() {
  // Sorted as (first 16 key bytes as two integers, index) in one contiguous array, then the
  // entries moved into that order: comparing string_views through the entries read every
  // key from its block, a cache miss per compare (~330 ns a key for a shard's 50,000 elders;
  // state_bench BM_SortCheckpointKeys, bench/README.md "Session 16"). Keys equal in their
  // first 16 bytes fall back to the whole key; the index keeps the sort stable (a key put
  // twice keeps its last value last).
  auto key = [this](const Entry& e) {
    return std::string_view(blocks_[e.block].data() + e.key_at, e.key_len);
  };
  struct Item {
    uint64_t hi, lo;
    uint32_t index;
  };
  std::vector<Item> items(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const std::string_view k = key(entries_[i]);
    items[i] = {key_word(k, 0), key_word(k, 8), static_cast<uint32_t>(i)};
  }
  std::sort(items.begin(), items.end(), [&](const Item& x, const Item& y) {
    if (x.hi != y.hi) return x.hi < y.hi;
    if (x.lo != y.lo) return x.lo < y.lo;
    const int c = key(entries_[x.index]).compare(key(entries_[y.index]));
    return c != 0 ? c < 0 : x.index < y.index;
  });
  // With entries_' capacity, so that the swap keeps it for the next checkpoint, as clear()
  // keeps the blocks.
  std::vector<Entry> sorted;
  sorted.reserve(entries_.capacity());
  for (const Item& item : items) sorted.push_back(entries_[item.index]);
  entries_.swap(sorted);
  sorted_ = true;
}

void PutList::clear() {
  // Keep the blocks a checkpoint needs, but give back what one burst (a reload, a restore)
  // took beyond what the last 64 checkpoints used (engine/core/recent_use.h).
  const size_t used = blocks_.empty() ? 0 : std::min(current_ + 1, blocks_.size());
  if (const auto keep = recent_blocks_.end_round(used); keep && blocks_.size() > *keep + 1) {
    blocks_.resize(*keep + 1);
    blocks_.shrink_to_fit();
    std::vector<Entry>().swap(entries_);
  }
  for (auto& b : blocks_) b.clear();
  current_ = 0;
  entries_.clear();
  sorted_ = true;
}

void PutList::release() {
  std::vector<std::string>().swap(blocks_);
  std::vector<Entry>().swap(entries_);
  current_ = 0;
  recent_blocks_.reset();
  sorted_ = true;
}

size_t PutList::capacity_bytes() const {
  size_t n = entries_.capacity() * sizeof(Entry);
  for (const auto& b : blocks_) n += b.capacity();
  return n;
}

std::vector<std::pair<std::string, std::string>> PutList::to_vector() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(size());
  for (const auto& [k, v] : *this) out.emplace_back(k, v);
  return out;
}

namespace {
//! Where commit_as_file() writes its table file before RocksDB takes it in: inside the data
//! directory (same file system, so the ingestion is a hard link), emptied at every open (a
//! crash between the file and its ingestion leaves one behind). RocksDB ignores the directory.
std::filesystem::path ingest_dir(const std::string& dir) {
  return std::filesystem::path(dir) / "ingest";
}
}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& dir) {
  auto db = open_db(dir);
  if (!db) return db.error();
  std::error_code ec;
  std::filesystem::remove_all(ingest_dir(dir), ec);
  std::filesystem::create_directories(ingest_dir(dir), ec);
  return std::unique_ptr<StateStore>(new StateStore(dir, std::move(db).value()));
}

Result<std::unique_ptr<rocksdb::DB>> StateStore::open_db(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.OptimizeLevelStyleCompaction();
  options.compression = rocksdb::kLZ4Compression;
  // No memtable flush on close: the WAL already holds every batch. Needed by recover(): after a
  // failed WAL write that flush would write to the failed WAL writer, which RocksDB 7.8 asserts
  // against (WritableFileWriter::AssertFalseAndGetStatusForPrevError). The cost: the next start
  // replays the WAL since the last flush.
  options.avoid_flush_during_shutdown = true;
  // No preallocated WAL: RocksDB reserves write_buffer_size x 1.1 of WAL ahead with fallocate,
  // so on a full disk checkpoints went on "succeeding" into that reserve and the operator heard
  // of the full disk only ~17 MiB later, mid-burst. Without it the first write that does not
  // fit is reported and held (docs/operations.md); the cost is the WAL's block allocation as it
  // grows, which the bench's RocksDB phase includes.
  options.allow_fallocate = false;
  options.info_log = std::make_shared<RocksLog>();
  options.listeners.push_back(std::make_shared<FlushPriority>());
  // Compactions as SCHED_IDLE (kIdle): they can wait, and on a small machine they would
  // otherwise take a core from the shards (their latency). Not nice 19 (kLow, before session
  // 17): a CPU running a nice-19 thread is busy to the scheduler's wake-up placement, so woken
  // shards, dispatcher and feeder piled onto the other core while a compaction ran on this one
  // for up to 72 ms at a stretch after each checkpoint (perf sched, bench/README.md "Session
  // 17"); a CPU running only SCHED_IDLE work counts as idle, and the woken thread takes it at
  // once. Starved under overload, compactions fall behind, level 0 fills, and the checkpoint
  // goes back to the WriteBatch path and RocksDB's write stall (commit_as_file): back-pressure,
  // which idles the shards and lets compactions run. Flushes at nice 10 (FlushPriority).
  (void)rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                            rocksdb::CpuPriority::kIdle);
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
  // The directory first: RocksDB creates a missing one too, but only after it has logged
  // "[ERROR] Error when reading <dir> dir NotFound" looking for its files, which read as a
  // failure to whoever watches the log. A directory that cannot be made is reported by Open.
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    return make_error(Errc::kIo, "cannot open state in " + dir + ": " + s.ToString());
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

namespace {

// A WriteBatch record: a tag byte, each length as a varint32 (at most 5 bytes), the bytes.
constexpr size_t kRecordOverhead = 1 + 5 + 5;
constexpr size_t kBatchHeader = 12;  // sequence number and count

}  // namespace

size_t StateStore::batch_bytes(const std::vector<const StateOps*>& ops,
                               const OffsetMap& offsets) {
  size_t n = kBatchHeader;
  for (const StateOps* o : ops) {
    for (const auto& [k, v] : o->puts) n += kRecordOverhead + k.size() + v.size();
    for (const auto& k : o->deletes) n += kRecordOverhead + k.size();
  }
  // An offset's key is "o/<topic>/<partition>", its value a decimal number.
  return n + offsets.size() * (kRecordOverhead + 64);
}

std::optional<Status> StateStore::commit_as_file(const std::vector<const StateOps*>& ops,
                                                 const OffsetMap& offsets) {
  const rocksdb::Options options = db_->GetOptions();
  uint64_t level0 = 0;
  if (db_->GetIntProperty("rocksdb.num-files-at-level0", &level0) &&
      level0 >= static_cast<uint64_t>(std::max(options.level0_slowdown_writes_trigger, 1))) {
    return std::nullopt;
  }
  const int64_t t0 = RealClock::instance().steady_ns();
  const std::string path = (ingest_dir(dir_) / "checkpoint.sst").string();
  uint64_t entries = 0, data_bytes = 0;
  auto s = detail::write_checkpoint_file(ops, offsets, options, path, &entries, &data_bytes);
  if (s.ok() && entries > 0) {
    rocksdb::IngestExternalFileOptions io;
    io.move_files = true;            // a hard link into the database, no copy
    io.write_global_seqno = false;   // the sequence number lives in the MANIFEST
    io.allow_blocking_flush = true;  // memtable keys in the file's range are flushed first
    s = db_->IngestExternalFile({path}, io);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);  // a failed or partial file; gone already after success
  if (!s.ok()) {
    last_failure_retryable_ = s.IsIOError() || s.IsNoSpace();
    return make_error(Errc::kIo, "checkpoint write failed: " + s.ToString());
  }
  if (entries == 0) return ok();  // nothing to write: as an empty batch, nothing written
  if (!logged_first_file_) {  // once per open: that the path is in use, and at what size
    logged_first_file_ = true;
    log::info("state", "checkpoint written as a table file (", entries, " keys, ",
              data_bytes / 1024, " KiB; checkpoint_file_min_mb: ",
              static_cast<double>(ingest_min_bytes_) / (1 << 20), ")");
  }
  metrics().checkpoint_files.add();
  metrics().checkpoint_bytes.add(data_bytes);
  metrics().checkpoint_write_us.add(
      static_cast<uint64_t>((RealClock::instance().steady_ns() - t0) / 1000));
  return ok();
}

Status StateStore::commit(const std::vector<const StateOps*>& ops, const OffsetMap& offsets) {
  if (batch_bytes(ops, offsets) >= ingest_min_bytes_) {
    std::shared_lock lock(mu_);
    if (db_) {
      if (auto done = commit_as_file(ops, offsets)) return std::move(*done);
    }
  }
  // The batch's buffer at its final size from the start: grown by doubling, a checkpoint of
  // every elder (tens of MB) was copied and page-faulted about twice over, ~30% of the commit
  // thread's CPU (bench/README.md, session 11).
  rocksdb::WriteBatch batch(batch_bytes(ops, offsets));
  detail::put_final_ops(ops, offsets, batch);
  rocksdb::WriteOptions wo;
  wo.sync = false;  // the WAL is written; fsync per checkpoint is a config decision (docs)
  std::shared_lock lock(mu_);
  if (!db_) {
    last_failure_retryable_ = true;
    return closed_error(dir_);
  }
  const int64_t t0 = RealClock::instance().steady_ns();
  auto s = db_->Write(wo, &batch);
  if (!s.ok()) {
    // Corruption or a bad argument will not heal by waiting; the file system may.
    last_failure_retryable_ = s.IsIOError() || s.IsNoSpace();
    return make_error(Errc::kIo, "checkpoint write failed: " + s.ToString());
  }
  metrics().checkpoint_bytes.add(batch.GetDataSize());
  metrics().checkpoint_write_us.add(
      static_cast<uint64_t>((RealClock::instance().steady_ns() - t0) / 1000));
  return ok();
}

Status StateStore::recover() {
  std::unique_lock lock(mu_);
  {
    // The cursors' iterators read the database about to be closed.
    std::lock_guard g(cursors_mu_);
    for (Cursor* c : cursors_) c->it_.reset();
  }
  if (db_) {
    // Not DB::Resume(): after a failed WAL write, RocksDB 7.8 keeps the DB in a fatal state,
    // and resuming writes to the failed WAL writer trips its assertion
    // (WritableFileWriter::AssertFalseAndGetStatusForPrevError). Close and open instead: the
    // WAL is replayed to its last complete batch, so the database holds exactly the checkpoints
    // that succeeded. Close first: the directory's LOCK allows one DB object.
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  auto db = open_db(dir_);
  if (!db) return db.error();
  db_ = std::move(db).value();
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

namespace {
//! The first key past every key that starts with `prefix` ("" if there is none: all 0xff).
std::string prefix_end(std::string_view prefix) {
  std::string upper(prefix);
  while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
  if (!upper.empty()) upper.back() = static_cast<char>(upper.back() + 1);
  return upper;
}

//! A prefix scan's read options: bounded by `upper` (the prefix's end, which must outlive the
//! iterator; empty: unbounded) and, for a bulk scan, read ahead without filling the cache.
rocksdb::ReadOptions scan_options(const rocksdb::Slice& upper, bool bulk) {
  rocksdb::ReadOptions ro;
  if (!upper.empty()) ro.iterate_upper_bound = &upper;
  if (bulk) {
    ro.fill_cache = false;
    ro.readahead_size = StateStore::kBulkReadaheadBytes;
  }
  return ro;
}
}  // namespace

Status StateStore::scan(std::string_view prefix,
                        const std::function<void(std::string_view, std::string_view)>& fn,
                        ScanSize size) const {
  std::shared_lock lock(mu_);
  if (!db_) return closed_error(dir_);
  // The first key past the prefix bounds the iterator, so it stops at the prefix's last
  // block instead of reading the next one to find out (a prefix of 0xff bytes has none).
  const std::string upper = prefix_end(prefix);
  const rocksdb::Slice upper_slice(upper);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(scan_options(upper_slice, size == ScanSize::kBulk)));
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

StateStore::Cursor::Cursor(const StateStore& store, std::string_view prefix)
    : store_(store), prefix_(prefix), upper_(prefix_end(prefix)), upper_slice_(upper_) {}

StateStore::Cursor::~Cursor() {
  // Under the store's lock: a recover() may be dropping this iterator right now.
  std::shared_lock lock(store_.mu_);
  it_.reset();
  std::lock_guard g(store_.cursors_mu_);
  store_.cursors_.erase(this);
}

std::unique_ptr<StateStore::Cursor> StateStore::cursor(std::string_view prefix) const {
  std::unique_ptr<Cursor> c(new Cursor(*this, prefix));
  std::lock_guard g(cursors_mu_);
  cursors_.insert(c.get());
  return c;
}

Result<size_t> StateStore::next(Cursor& c, size_t max,
                                const std::function<void(std::string_view, std::string_view)>& fn) const {
  std::shared_lock lock(mu_);
  if (!db_) return closed_error(dir_);
  if (!c.it_) {
    c.it_.reset(db_->NewIterator(scan_options(c.upper_slice_, /*bulk=*/true)));
    std::string from = c.prefix_ + c.after_;
    c.it_->Seek(from);
    // After a recover(): resume past the last key read.
    if (c.started_ && c.it_->Valid() && c.it_->key().ToStringView() == from) c.it_->Next();
  }
  c.started_ = true;
  rocksdb::Iterator& it = *c.it_;
  size_t n = 0;
  for (; n < max && it.Valid(); ++n) {
    auto key = it.key().ToStringView();
    if (key.substr(0, c.prefix_.size()) != c.prefix_) break;
    key.remove_prefix(c.prefix_.size());
    fn(key, it.value().ToStringView());
    c.after_.assign(key);
    it.Next();
  }
  if (!it.status().ok()) {
    const std::string why = it.status().ToString();
    c.it_.reset();  // the next step seeks again past the last key read
    return make_error(Errc::kIo, "state scan failed: " + why);
  }
  return n;
}

Result<std::optional<std::string>> StateStore::get(std::string_view key) const {
  std::string value;
  std::shared_lock lock(mu_);
  if (!db_) return closed_error(dir_);
  auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return make_error(Errc::kIo, "state read failed: " + s.ToString());
  return std::optional<std::string>(std::move(value));
}

StateStore::MemoryStats StateStore::memory_stats() const {
  MemoryStats m;
  db_->GetIntProperty("rocksdb.size-all-mem-tables", &m.memtable_bytes);
  db_->GetIntProperty("rocksdb.block-cache-usage", &m.block_cache_bytes);
  db_->GetIntProperty("rocksdb.estimate-table-readers-mem", &m.table_readers_bytes);
  return m;
}

Status StateStore::flush_memtables() {
  std::shared_lock lock(mu_);
  if (!db_) return make_error(Errc::kIo, "state in " + dir_ + " is closed");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  const rocksdb::Status s = db_->Flush(fo);
  if (!s.ok()) return make_error(Errc::kIo, "flushing " + dir_ + ": " + s.ToString());
  return ok();
}

bool StateStore::wait_background_idle(int timeout_ms) const {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    uint64_t compactions = 0, flushes = 0, pending = 0;
    {
      std::shared_lock lock(mu_);
      if (!db_) return true;
      db_->GetIntProperty("rocksdb.num-running-compactions", &compactions);
      db_->GetIntProperty("rocksdb.num-running-flushes", &flushes);
      db_->GetIntProperty("rocksdb.compaction-pending", &pending);
    }
    if (compactions + flushes + pending == 0) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

uint64_t StateStore::estimated_live_bytes() const {
  uint64_t v = 0;
  std::shared_lock lock(mu_);
  if (db_) db_->GetIntProperty("rocksdb.estimate-live-data-size", &v);
  return v;
}

}  // namespace vigil::state
