#pragma once
// What a checkpoint leaves in the store, one operation per key, and the two ways
// StateStore::commit writes it (engine/state/README.md, "Large checkpoints as table files"):
// a WriteBatch through the WAL and the memtables, or, for a large checkpoint, one SST written
// with RocksDB's SstFileWriter and ingested into the database in one atomic step. Both take
// the same operations from final_ops(), so they leave the same keys with the same values; the
// table file saves the WAL (its CRC32C is software-only in Debian's RocksDB), the skip-list
// insert and the later memtable flush of the same bytes.

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state/state_store.h"

namespace vigil::state::detail {

//! Calls `fn(key, value, is_delete)` once per key of `ops` and `offsets`, in ascending key
//! order, with the operation a checkpoint leaves for that key: for a key put more than once,
//! the put of the owner latest in `ops` (sorted() owners first, then the others, each in the
//! order of `ops`; an owner's last put of the key); a delete in any owner wins over every put
//! of its key; an offset ("o/<topic>/<partition>") wins over both. `fn` returns false to stop.
//! An owner whose puts are not sorted() is sorted here (a copy of its views, stably).
void final_ops(const std::vector<const StateOps*>& ops, const OffsetMap& offsets,
               const std::function<bool(std::string_view, std::string_view, bool)>& fn);

//! final_ops() into `batch`.
void put_final_ops(const std::vector<const StateOps*>& ops, const OffsetMap& offsets,
                   rocksdb::WriteBatch& batch);

//! Writes final_ops() to a table file at `path` with the database's `options` (its comparator
//! and table format), uncompressed (compaction compresses it as it moves it down, as it does a
//! flushed memtable). Sets `*entries` and `*data_bytes` (keys and values written). Writes
//! nothing and sets `*entries` to 0 when there is nothing to write (SstFileWriter refuses an
//! empty file). RocksDB's status on a file system error (the caller removes the partial file).
rocksdb::Status write_checkpoint_file(const std::vector<const StateOps*>& ops,
                                      const OffsetMap& offsets, const rocksdb::Options& options,
                                      const std::string& path, uint64_t* entries,
                                      uint64_t* data_bytes);

}  // namespace vigil::state::detail
