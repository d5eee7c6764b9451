#include "engine/pipeline/key_index.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace vigil::pipeline {
namespace {

TEST(KeyIndex, AgreesWithAHashMapThroughGrowthAndCollisions) {
  std::vector<std::string> keys;
  auto key_of = [&](uint32_t i) -> std::string_view { return keys[i]; };
  KeyIndex index;
  std::unordered_map<std::string, uint32_t> reference;
  for (int i = 0; i < 50'000; ++i) {
    // Ids as the population names them, plus near-duplicates that differ in one character.
    std::string id = (i % 7 == 0 ? "elder-" : "e") + std::to_string(i * 7919 % 100'000);
    auto [at, inserted] = index.insert(id, static_cast<uint32_t>(keys.size()), key_of);
    auto [ref, ref_inserted] = reference.try_emplace(id, static_cast<uint32_t>(keys.size()));
    ASSERT_EQ(inserted, ref_inserted) << id;
    ASSERT_EQ(at, ref->second) << id;
    if (inserted) keys.push_back(id);
  }
  EXPECT_EQ(index.size(), reference.size());
  for (const auto& [id, at] : reference) ASSERT_EQ(index.find(id, key_of), at) << id;
  EXPECT_EQ(index.find("nobody", key_of), KeyIndex::kNone);
  EXPECT_EQ(index.find("", key_of), KeyIndex::kNone);
  EXPECT_LE(index.heap_bytes(), 32 * reference.size() + 8 * 1024);  // at least a quarter full
}

TEST(KeyIndex, EmptyIndexFindsNothing) {
  KeyIndex index;
  auto none = [](uint32_t) -> std::string_view { return {}; };
  EXPECT_EQ(index.find("x", none), KeyIndex::kNone);
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace vigil::pipeline
