#pragma once
// A large checkpoint as one table file (engine/state/README.md, "Large checkpoints as table
// files"): StateStore::commit writes the checkpoint's final key-value operations in key order
// into an SST with RocksDB's SstFileWriter and ingests that file into the database in one
// atomic step, instead of a WriteBatch through the WAL and the memtables. The same keys end up
// with the same values; what differs is the cost: no WAL (its CRC32C is software-only in
// Debian's RocksDB), no skip-list insert, and no later memtable flush of the same bytes.

#include <rocksdb/options.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/state/state_store.h"

namespace vigil::state::detail {

//! Writes to `path` the operations commit()'s WriteBatch would apply for `ops` and `offsets`,
//! one per key in ascending order: for a key put more than once, the put the batch applies last
//! (sorted() lists first, in the order of `ops`, then the others; within a list, its last put);
//! a delete in any list wins over every put of its key (the batch's deletes follow its puts);
//! an offset wins over both (the batch's offsets come last). `options` are the database's (its
//! comparator and table format); the file is not compressed (compaction compresses it).
//! Sets `*entries` and `*data_bytes` (keys and values written). Writes nothing and sets
//! `*entries` to 0 when there is nothing to write (SstFileWriter refuses an empty file).
//! RocksDB's status on a file system error (the caller removes the partial file).
rocksdb::Status write_checkpoint_file(const std::vector<const StateOps*>& ops,
                                      const OffsetMap& offsets, const rocksdb::Options& options,
                                      const std::string& path, uint64_t* entries,
                                      uint64_t* data_bytes);

}  // namespace vigil::state::detail
