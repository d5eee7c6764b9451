// The changelog's markers and how a task's changelog folds into its state (task_marker.h).
#include "engine/runtime/task_marker.h"

#include <gtest/gtest.h>

namespace vigil::runtime {
namespace {

TaskLogEntry put(std::string key, std::string value) { return {std::move(key), std::move(value)}; }
TaskLogEntry del(std::string key) { return {std::move(key), std::nullopt}; }

TaskMarker marker(uint64_t epoch, int64_t telemetry_next) {
  TaskMarker m;
  m.instance = "a1b2";
  m.epoch = epoch;
  m.offsets[{InTopic::kTelemetry, 3}] = telemetry_next;
  m.offsets[{InTopic::kRegistry, 3}] = 7;
  m.positions[{OutTopic::kAlarms, 3}] = 41;
  m.outputs.push_back(OutRecord{OutTopic::kAlarms, "e1", "alarm-bytes"});
  m.indices.push_back(5);
  return m;
}

TEST(TaskMarker, RoundTripsEveryField) {
  const TaskMarker m = marker(9, 120);
  TaskMarker back;
  ASSERT_TRUE(decode_marker(encode_marker(m), &back));
  EXPECT_EQ(back.instance, "a1b2");
  EXPECT_EQ(back.epoch, 9u);
  EXPECT_EQ(back.offsets, m.offsets);
  EXPECT_EQ(back.positions, m.positions);
  ASSERT_EQ(back.outputs.size(), 1u);
  EXPECT_EQ(back.outputs[0].key, "e1");
  EXPECT_EQ(back.outputs[0].bytes, "alarm-bytes");
  EXPECT_EQ(back.indices, std::vector<uint32_t>{5});
  EXPECT_FALSE(decode_marker("\xff\xff garbage", &back));
}

TEST(TaskMarker, FoldsUpToTheLastMarkerAndNamesTheOrphansOfAnUnfinishedCheckpoint) {
  std::vector<TaskLogEntry> log = {
      put("p/e1", "profile-1"), put("e/e1", "state-1"), put("e/e2", "state-2"),
      put(kMarkerKey, encode_marker(marker(1, 10))),
      put("e/e1", "state-1b"), del("e/e2"),
      put(kMarkerKey, encode_marker(marker(2, 20))),
      // checkpoint 3: its writer died before the marker
      put("e/e1", "state-1c"), put("e/e9", "state-9"),
  };
  auto folded = fold_changelog(log);
  ASSERT_TRUE(folded);
  const FoldedTask& f = folded.value();
  ASSERT_TRUE(f.marker.has_value());
  EXPECT_EQ(f.marker->epoch, 2u);
  EXPECT_EQ((f.marker->offsets.at({InTopic::kTelemetry, 3})), 20);
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(f.state, (KV{{"e/e1", "state-1b"}, {"p/e1", "profile-1"}}));
  EXPECT_EQ(f.orphans, std::vector<std::string>{"e/e9"});  // e/e1 is restored, hence rewritten
  EXPECT_EQ(f.records, log.size());
  EXPECT_EQ(f.discarded, 2u);
}

TEST(TaskMarker, ATaskNeverCheckpointedHasNoStateAndEveryKeyIsAnOrphan) {
  auto folded = fold_changelog({put("e/e1", "x"), del("e/e2")});
  ASSERT_TRUE(folded);
  EXPECT_FALSE(folded.value().marker.has_value());
  EXPECT_TRUE(folded.value().state.empty());
  EXPECT_EQ(folded.value().orphans, (std::vector<std::string>{"e/e1", "e/e2"}));
  auto empty = fold_changelog({});
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty.value().marker.has_value());
}

TEST(TaskMarker, AnUnreadableLastMarkerIsAnError) {
  auto folded = fold_changelog({put("e/e1", "x"), put(kMarkerKey, "\xff\xff not a marker")});
  EXPECT_FALSE(folded);
}

}  // namespace
}  // namespace vigil::runtime
