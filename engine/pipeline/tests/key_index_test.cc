#include "engine/pipeline/key_index.h"

#include <gtest/gtest.h>

#include <functional>
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

TEST(KeyIndex, EraseKeepsEveryOtherKeyFindableAndTheTableBounded) {
  // A shard dropping a task's elders and taking others: erase a third, reinsert under reused
  // indices, several rounds; every key present must be found, every erased one not.
  std::vector<std::string> keys;
  auto key_of = [&](uint32_t i) -> std::string_view { return keys[i]; };
  KeyIndex index;
  std::unordered_map<std::string, uint32_t> reference;
  for (int i = 0; i < 20'000; ++i) {
    keys.push_back("e" + std::to_string(i * 7919 % 100'000));
    index.insert(keys.back(), static_cast<uint32_t>(i), key_of);
    reference[keys.back()] = static_cast<uint32_t>(i);
  }
  const size_t bytes = index.heap_bytes();
  for (int round = 0; round < 5; ++round) {
    std::vector<uint32_t> freed;
    for (auto it = reference.begin(); it != reference.end();) {
      if (std::hash<std::string>{}(it->first + std::to_string(round)) % 3 != 0) {
        ++it;
        continue;
      }
      ASSERT_TRUE(index.erase(it->first, key_of)) << it->first;
      ASSERT_FALSE(index.erase(it->first, key_of)) << it->first;
      freed.push_back(it->second);
      it = reference.erase(it);
    }
    for (const auto& [id, at] : reference) ASSERT_EQ(index.find(id, key_of), at) << id;
    for (uint32_t k : freed) ASSERT_EQ(index.find(keys[k], key_of), KeyIndex::kNone) << keys[k];
    for (uint32_t k : freed) {  // the freed indices take new keys
      keys[k] = "r" + std::to_string(round) + "-" + std::to_string(k);
      ASSERT_TRUE(index.insert(keys[k], k, key_of).second);
      reference[keys[k]] = k;
    }
    EXPECT_EQ(index.size(), reference.size());
    for (const auto& [id, at] : reference) ASSERT_EQ(index.find(id, key_of), at) << id;
  }
  EXPECT_EQ(index.heap_bytes(), bytes) << "erase and reinsert must not grow the table";
}

TEST(KeyIndex, EmptyIndexFindsNothing) {
  KeyIndex index;
  auto none = [](uint32_t) -> std::string_view { return {}; };
  EXPECT_EQ(index.find("x", none), KeyIndex::kNone);
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace vigil::pipeline
