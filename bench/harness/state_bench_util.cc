// Process and directory figures for the state benches.

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/registry/elder_state.h"
#include "engine/state/state_store.h"

#include "bench/harness/state_benches.h"

namespace vigil::bench {

uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t heap_in_use_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

ElderMemory elder_memory(const state::StateStore& store, const std::vector<std::string>& rule_ids,
                         size_t limit) {
  std::map<std::string, registry::ElderState, std::less<>> elders;
  vigil::state::ElderRecord r;
  auto merge = [&](std::string_view key, std::string_view value) {
    if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) return;
    auto it = elders.find(key);
    if (it == elders.end()) {
      if (elders.size() >= limit) return;
      it = elders.emplace(std::string(key), registry::ElderState{}).first;
    }
    registry::merge_record(it->second, r, rule_ids);
    it->second.profile.set_elder_id(std::string(key));
  };
  (void)store.scan("p/", merge);
  (void)store.scan("e/", merge);
  std::vector<uint64_t> sizes;
  sizes.reserve(elders.size());
  for (const auto& [id, e] : elders) sizes.push_back(registry::memory_bytes(e));
  ElderMemory m;
  m.elders = sizes.size();
  if (sizes.empty()) return m;
  std::sort(sizes.begin(), sizes.end());
  double sum = 0;
  for (uint64_t v : sizes) sum += static_cast<double>(v);
  m.mean_bytes = sum / static_cast<double>(sizes.size());
  m.p50_bytes = sizes[sizes.size() / 2];
  m.p99_bytes = sizes[sizes.size() * 99 / 100];
  m.max_bytes = sizes.back();
  return m;
}

uint64_t dir_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace vigil::bench
