#pragma once
// The engine's durable state in RocksDB: registry, per-elder rule and alarm state, orders, and
// the Kafka offsets those were computed from. A checkpoint writes dirty state and offsets in one
// WriteBatch (a large one: in one ingested table file), so after any crash the state on disk
// matches the offsets on disk exactly.
//
// Key space (one default column family; the prefix says the owner):
//   o/<topic>/<partition>  next input offset to read        (coordinator)
//   e/<elder_id>           ElderState proto                  (the elder's shard)
//   g/<agency_id>          Agency proto + load               (dispatcher)
//   d/<order_id>           Order proto                       (dispatcher)

#include <rocksdb/db.h>

#include <cstddef>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/recent_use.h"
#include "engine/core/result.h"

namespace vigil::state {

//! The puts of one owner's checkpoint: every key and value appended to a chain of 1 MiB blocks
//! that keep their capacity from checkpoint to checkpoint, and a small entry per put. A
//! checkpoint writes one value per dirty elder (up to every elder at a high event rate); a
//! std::string pair per put cost a malloc on the owner thread and a free on the commit thread
//! for each, ~10% of the shards' and ~18% of the commit thread's CPU in the standard bench
//! (bench/README.md, session 6). Blocks, not one buffer: a buffer doubling as a checkpoint of
//! every elder grows copies tens of MB on the shard thread (milliseconds of held records).
//! Views returned stay valid until clear().
class PutList {
 public:
  using value_type = std::pair<std::string_view, std::string_view>;
  static constexpr size_t kBlockBytes = size_t{1} << 20;
  struct Entry {
    uint32_t block = 0;
    uint32_t key_at = 0;
    uint32_t key_len = 0;
    uint32_t value_len = 0;  //!< the value follows the key in its block
    int32_t task = -1;
  };

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = PutList::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = value_type;
    iterator(const PutList* list, size_t i) : list_(list), i_(i) {}
    value_type operator*() const { return (*list_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) { return {list_, i_++}; }
    bool operator==(const iterator& o) const { return i_ == o.i_; }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    const PutList* list_;
    size_t i_;
  };

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  value_type operator[](size_t i) const {
    const Entry& e = entries_[i];
    const char* k = blocks_[e.block].data() + e.key_at;
    return {std::string_view(k, e.key_len), std::string_view(k + e.key_len, e.value_len)};
  }
  int32_t task(size_t i) const { return entries_[i].task; }
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, entries_.size()}; }

  void add(std::string_view key, std::string_view value, int32_t task = -1) {
    add_with(key, task, [&](std::string& b) { b.append(value); });
  }
  //! Appends `key`, then lets `write(std::string& buffer)` append the value's bytes to the
  //! buffer. A value written empty is dropped again when `keep_empty` is false (returns false).
  template <class Write>
  bool add_with(std::string_view key, int32_t task, Write&& write, bool keep_empty = true) {
    std::string& b = block_for(key.size());
    const size_t at = b.size();
    b.append(key);
    write(b);  // a value past the block's end grows this block alone (one value's copy)
    const size_t value_len = b.size() - at - key.size();
    if (value_len == 0 && !keep_empty) {
      b.resize(at);
      return false;
    }
    sorted_ = false;
    entries_.push_back(Entry{static_cast<uint32_t>(current_), static_cast<uint32_t>(at),
                             static_cast<uint32_t>(key.size()), static_cast<uint32_t>(value_len),
                             task});
    return true;
  }
  //! Orders the puts by key, stably (a key put twice keeps its last value last). RocksDB's
  //! memtable inserts a batch's keys much faster in key order (its skip list reuses the
  //! previous insert's position).
  void sort_by_key();
  //! True from sort_by_key() (or clear()) until the next add.
  bool sorted() const { return sorted_; }
  //! Forgets the puts, keeping the blocks (released if far more than recent checkpoints used).
  void clear();
  //! Forgets the puts and gives every block back (Engine::release_checkpoint_buffers).
  void release();
  //! Bytes the blocks and the entries hold, filled or not.
  size_t capacity_bytes() const;
  //! The puts as owned strings (restores and tests).
  std::vector<std::pair<std::string, std::string>> to_vector() const;

 private:
  //! The block the next put goes to: the current one, or the next (kept or new) once the
  //! current one is nearly full.
  std::string& block_for(size_t key_bytes);

  std::vector<std::string> blocks_;
  size_t current_ = 0;  //!< index in blocks_ of the block being filled (if any)
  std::vector<Entry> entries_;
  RecentUse recent_blocks_;  //!< blocks the last checkpoints used
  bool sorted_ = true;
};

//! Puts and deletes an owner hands to a checkpoint. Owned by the thread that fills it.
//! Each put and delete also carries the task (engine/state/task.h) whose state it is
//! (puts.task(i), del_tasks[i]): -1 when the engine runs without tasks, and for keys that are
//! no task's (alarm history h/, coordinator keys). The engine writes the ops of a task >= 0 to
//! that task's changelog partition too.
struct StateOps {
  PutList puts;
  std::vector<std::string> deletes;
  std::vector<int32_t> del_tasks;  //!< [i]: the task of deletes[i]
  RecentUse recent_deletes;        //!< deletes the last checkpoints made
  RecentUse recent_del_tasks;      //!< the same, for del_tasks
  void put(std::string_view key, std::string_view value, int32_t task = -1) {
    puts.add(key, value, task);
  }
  void del(std::string key, int32_t task = -1) {
    deletes.push_back(std::move(key));
    del_tasks.push_back(task);
  }
  bool empty() const { return puts.empty() && deletes.empty(); }
  //! Forgets the ops, keeping the memory recent checkpoints needed (recent_use.h).
  void clear() {
    puts.clear();
    clear_keeping_recent(deletes, recent_deletes);
    clear_keeping_recent(del_tasks, recent_del_tasks);
  }
  //! clear(), giving the memory back as well.
  void release() {
    puts.release();
    release_vector(deletes, recent_deletes);
    release_vector(del_tasks, recent_del_tasks);
  }
  size_t capacity_bytes() const {
    return puts.capacity_bytes() + deletes.capacity() * sizeof(std::string) +
           del_tasks.capacity() * sizeof(int32_t);
  }
};

//! Next offset to read, per (topic, partition).
using OffsetMap = std::map<std::pair<InTopic, int32_t>, int64_t>;

//! RocksDB under --data-dir. Thread-safe (RocksDB is); commit() is called by one coordinator.
class StateStore {
 public:
  //! Opens or creates the database in `dir`. Returns kIo naming the directory and RocksDB's
  //! reason on failure (unwritable, locked by another process, corrupt).
  static Result<std::unique_ptr<StateStore>> open(const std::string& dir);

  //! Writes every owner's ops and the offsets in one atomic WriteBatch (synced to the WAL).
  //! Returns kIo with RocksDB's reason on failure; nothing of the batch is applied then, and
  //! writing the same batch again later is safe (puts and deletes of whole values).
  //! The batch holds one operation per key in ascending key order (RocksDB's skip list inserts
  //! a run in key order fastest), as detail::final_ops() says: an owner's last put of a key,
  //! a delete over any put, an offset over both. Owners' keys are disjoint (a shard's elders,
  //! the dispatcher's agencies and orders, the coordinator's own keys); where two owners put
  //! one key, the later sorted() owner wins, and any unsorted owner over the sorted ones.
  //! A checkpoint of at least ingest_min_bytes() goes to RocksDB as one table file of the same
  //! operations instead (engine/state/checkpoint_file.h): atomically too, at about 40% of the
  //! CPU; not while level 0 is as crowded as RocksDB's own write slowdown trigger
  //! (compactions behind), where the WriteBatch's stall is the back-pressure.
  Status commit(const std::vector<const StateOps*>& ops, const OffsetMap& offsets);
  //! The size (batch_bytes) from which commit() writes a table file; tests set 0 (always) or
  //! SIZE_MAX (never).
  static constexpr size_t kIngestMinBytes = size_t{8} << 20;
  size_t ingest_min_bytes() const { return ingest_min_bytes_; }
  void set_ingest_min_bytes(size_t bytes) { ingest_min_bytes_ = bytes; }
  //! The bytes of commit()'s WriteBatch for these ops, or a little more (never less).
  static size_t batch_bytes(const std::vector<const StateOps*>& ops, const OffsetMap& offsets);

  //! True if the last failed commit failed on the file system (no space left, a read-only or
  //! unwritable directory, any I/O error) rather than on corrupt data: the same commit may
  //! succeed once the operator frees space or fixes the directory.
  bool last_failure_retryable() const { return last_failure_retryable_; }

  //! After a failed commit: closes and reopens the database, which replays the WAL up to the
  //! last complete batch (RocksDB keeps a DB whose WAL write failed unusable). Returns kIo while
  //! the disk still refuses (the database stays closed then, and get/scan answer kIo until a
  //! later recover() succeeds). engine/state/README.md, "Disk full".
  Status recover();

  //! The directory this store lives in.
  const std::string& dir() const { return dir_; }

  //! The stored offsets (empty on a new database).
  Result<OffsetMap> load_offsets() const;

  //! How much of the store a scan reads: a few keys (an elder's alarm history), or a whole
  //! kind of record (every elder at start-up), read ahead in large blocks and kept out of the
  //! block cache, which it would only churn.
  enum class ScanSize { kSmall, kBulk };
  //! Calls fn(key_without_prefix, value) for every key starting with `prefix`, in key order.
  Status scan(std::string_view prefix,
              const std::function<void(std::string_view, std::string_view)>& fn,
              ScanSize size = ScanSize::kSmall) const;

  //! A scan that yields between steps (a shard's background load, which reads the store
  //! between its records): its iterator lives from step to step, as a bulk scan's does, so
  //! each key is read once. Made by cursor(), read by next(), on one thread at a time; it must
  //! not outlive its store. recover() drops the iterators of all cursors (the database they
  //! read is closed); the next step opens a new one after the last key read. While a cursor
  //! lives, its iterator pins the memtables and files it began with (RocksDB's SuperVersion);
  //! keys written since may or may not be seen.
  class Cursor {
   public:
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

   private:
    friend class StateStore;
    Cursor(const StateStore& store, std::string_view prefix);
    const StateStore& store_;
    std::string prefix_;
    std::string upper_;        //!< the first key past the prefix ("" if none)
    rocksdb::Slice upper_slice_;
    std::string after_;        //!< the last key read, without the prefix
    bool started_ = false;
    std::unique_ptr<rocksdb::Iterator> it_;
  };
  //! A cursor over the keys starting with `prefix`, in key order.
  std::unique_ptr<Cursor> cursor(std::string_view prefix) const;
  //! The cursor's next step: calls fn(key_without_prefix, value) for at most `max` keys.
  //! Returns how many it read: fewer than `max` once the prefix is exhausted. kIo while the
  //! store is closed (a recover() that has not succeeded yet): the step can be tried again.
  Result<size_t> next(Cursor& c, size_t max,
                      const std::function<void(std::string_view, std::string_view)>& fn) const;

  //! Returns the value of `key`, std::nullopt if there is none, or kIo.
  Result<std::optional<std::string>> get(std::string_view key) const;

  //! Bytes of live data RocksDB estimates (for state-per-elder figures).
  uint64_t estimated_live_bytes() const;
  //! Writes the memtables out to table files and waits (benches: every memory sample taken
  //! with RocksDB's memtables empty, so their fill level, up to kMemtableBudgetBytes, does not
  //! move the figure). Safe beside commit(); kIo if RocksDB fails.
  Status flush_memtables();
  //! Waits until no flush or compaction is running or pending, at most `timeout_ms`; false if
  //! one still is (benches: a compaction's buffers, readahead and the table it builds, are
  //! several MiB while it runs, so a memory sample taken during one reads that much more).
  bool wait_background_idle(int timeout_ms) const;

  //! RocksDB's fixed memory budgets (open()): all memtables, then the block cache.
  static constexpr uint64_t kWriteBufferBytes = 16ull << 20;
  static constexpr int kMaxWriteBuffers = 3;
  static constexpr uint64_t kMemtableBudgetBytes = kWriteBufferBytes * kMaxWriteBuffers;
  //! A bulk scan's read-ahead (ScanSize::kBulk).
  static constexpr size_t kBulkReadaheadBytes = size_t{4} << 20;
  static constexpr uint64_t kBlockCacheBytes = 32ull << 20;
  //! What RocksDB holds in memory now (benches subtract the budgets that fill by design).
  struct MemoryStats {
    uint64_t memtable_bytes = 0;       //!< rocksdb.size-all-mem-tables (flushed, still pinned, too)
    uint64_t block_cache_bytes = 0;    //!< rocksdb.block-cache-usage
    uint64_t table_readers_bytes = 0;  //!< rocksdb.estimate-table-readers-mem (outside the cache)
  };
  MemoryStats memory_stats() const;

 private:
  StateStore(std::string dir, std::unique_ptr<rocksdb::DB> db)
      : dir_(std::move(dir)), db_(std::move(db)) {}
  static Result<std::unique_ptr<rocksdb::DB>> open_db(const std::string& dir);
  //! commit() as a table file (mu_ held shared, db_ open); nullopt when level 0 is crowded.
  std::optional<Status> commit_as_file(const std::vector<const StateOps*>& ops,
                                       const OffsetMap& offsets);

  std::string dir_;
  //! Shared by readers (get, scan, commit), exclusive while recover() reopens the database: the
  //! API's io threads read the store while the ingest thread commits.
  mutable std::shared_mutex mu_;
  //! The live cursors, whose iterators recover() drops (under mu_ held exclusively).
  mutable std::mutex cursors_mu_;
  mutable std::set<Cursor*> cursors_;
  std::unique_ptr<rocksdb::DB> db_;  //!< null between a failed reopen and the next recover()
  bool last_failure_retryable_ = false;
  size_t ingest_min_bytes_ = kIngestMinBytes;
  bool logged_first_file_ = false;  //!< commit thread
};

// Keys of the coordinator (engine/state/README.md, "Exactly-once outputs").
inline constexpr const char* kInstanceKey = "x/instance";          //!< this data dir's engine id
inline constexpr const char* kEpochKey = "x/epoch";                //!< last checkpoint's epoch
inline constexpr const char* kDeliveredKey = "x/delivered";        //!< last epoch fully delivered
inline constexpr const char* kOutboxKey = "x/outbox";              //!< last epoch's outputs
inline constexpr const char* kOutputPositionsKey = "x/outpos";     //!< sink positions before them

//! "o/telemetry/3" for the offset of telemetry partition 3.
std::string offset_key(InTopic topic, int32_t partition);

}  // namespace vigil::state
