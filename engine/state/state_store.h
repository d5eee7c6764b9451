#pragma once
// The engine's durable state in RocksDB: registry, per-elder rule and alarm state, orders, and
// the Kafka offsets those were computed from. A checkpoint writes dirty state and offsets in one
// WriteBatch, so after any crash the state on disk matches the offsets on disk exactly.
//
// Key space (one default column family; the prefix says the owner):
//   o/<topic>/<partition>  next input offset to read        (coordinator)
//   e/<elder_id>           ElderState proto                  (the elder's shard)
//   g/<agency_id>          Agency proto + load               (dispatcher)
//   d/<order_id>           Order proto                       (dispatcher)

#include <rocksdb/db.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/result.h"

namespace vigil::state {

//! Puts and deletes an owner hands to a checkpoint. Owned by the thread that fills it.
//! Each put and delete also carries the task (engine/state/task.h) whose state it is, in the
//! parallel vectors put_tasks/del_tasks (same lengths as puts/deletes): -1 when the engine runs
//! without tasks, and for keys that are no task's (alarm history h/, coordinator keys). The
//! engine writes the ops of a task >= 0 to that task's changelog partition too.
struct StateOps {
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::string> deletes;
  std::vector<int32_t> put_tasks;  //!< [i]: the task of puts[i]
  std::vector<int32_t> del_tasks;  //!< [i]: the task of deletes[i]
  void put(std::string key, std::string value, int32_t task = -1) {
    puts.emplace_back(std::move(key), std::move(value));
    put_tasks.push_back(task);
  }
  void del(std::string key, int32_t task = -1) {
    deletes.push_back(std::move(key));
    del_tasks.push_back(task);
  }
  bool empty() const { return puts.empty() && deletes.empty(); }
  void clear() {
    puts.clear();
    deletes.clear();
    put_tasks.clear();
    del_tasks.clear();
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
  Status commit(const std::vector<const StateOps*>& ops, const OffsetMap& offsets);

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

  //! Calls fn(key_without_prefix, value) for every key starting with `prefix`, in key order.
  Status scan(std::string_view prefix,
              const std::function<void(std::string_view, std::string_view)>& fn) const;

  //! Returns the value of `key`, std::nullopt if there is none, or kIo.
  Result<std::optional<std::string>> get(std::string_view key) const;

  //! Bytes of live data RocksDB estimates (for state-per-elder figures).
  uint64_t estimated_live_bytes() const;

  //! RocksDB's fixed memory budgets (open()): all memtables, then the block cache.
  static constexpr uint64_t kWriteBufferBytes = 16ull << 20;
  static constexpr int kMaxWriteBuffers = 3;
  static constexpr uint64_t kMemtableBudgetBytes = kWriteBufferBytes * kMaxWriteBuffers;
  static constexpr uint64_t kBlockCacheBytes = 32ull << 20;
  //! What RocksDB holds in memory now (benches subtract the budgets that fill by design).
  struct MemoryStats {
    uint64_t memtable_bytes = 0;       //!< rocksdb.cur-size-all-mem-tables
    uint64_t block_cache_bytes = 0;    //!< rocksdb.block-cache-usage
    uint64_t table_readers_bytes = 0;  //!< rocksdb.estimate-table-readers-mem (outside the cache)
  };
  MemoryStats memory_stats() const;

 private:
  StateStore(std::string dir, std::unique_ptr<rocksdb::DB> db)
      : dir_(std::move(dir)), db_(std::move(db)) {}
  static Result<std::unique_ptr<rocksdb::DB>> open_db(const std::string& dir);

  std::string dir_;
  //! Shared by readers (get, scan, commit), exclusive while recover() reopens the database: the
  //! API's io threads read the store while the ingest thread commits.
  mutable std::shared_mutex mu_;
  std::unique_ptr<rocksdb::DB> db_;  //!< null between a failed reopen and the next recover()
  bool last_failure_retryable_ = false;
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
