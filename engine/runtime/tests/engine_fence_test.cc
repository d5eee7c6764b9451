// Fencing a zombie (issue #8; docs/design.md "Fencing a zombie"): a real Engine in task mode
// (exactly-once, dispatch.routing: kafka, as run_engine requires for a changelog) over an
// in-memory TaskLog and a scripted TaskFence. The fence is asked only in doubt; a kFenced
// checkpoint writes nothing of its tasks to the changelog and delivers none of their outputs,
// the tasks are then dropped as lost, and taking them again restores the last good checkpoint.
// Hermetic: SimClock (moved only to start checkpoints), temporary RocksDB directory; every
// wait is bounded, nothing asserts on time.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/core/clock.h"
#include "engine/egress/sink.h"
#include "engine/rules/rule_set.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/task_log.h"
#include "engine/runtime/task_marker.h"
#include "engine/state/task.h"
#include "schemas/outputs.pb.h"

namespace vigil::runtime {
namespace {

constexpr TimeMs kT0 = 1772352000000;  // 2026-03-01T08:00:00Z
constexpr TimeMs kInterval = 100;      // commit interval; the clock moves this much per sync()
constexpr int32_t kTasks = 2;
//! e1's task (the partition of its records), and the other one, which holds nothing.
const int32_t kE1 = state::task_of("e1", kTasks);
const int32_t kOther = 1 - kE1;

//! The changelog in memory: a vector of records per partition.
class MemoryTaskLog final : public TaskLog {
 public:
  int32_t partitions() const override { return kTasks; }
  void append(int32_t task, std::string_view key, const std::string_view* value) override {
    std::lock_guard lock(mu_);
    log_[static_cast<size_t>(task)].push_back(
        {std::string(key), value ? std::optional<std::string>(*value) : std::nullopt});
  }
  Status flush(int) override {
    if (on_flush) on_flush();
    return ok();
  }
  Result<std::vector<TaskLogEntry>> read(int32_t task, int) override { return entries(task); }
  std::vector<TaskLogEntry> entries(int32_t task) const {
    std::lock_guard lock(mu_);
    return log_[static_cast<size_t>(task)];
  }
  size_t size(int32_t task) const { return entries(task).size(); }
  //! Runs on the commit thread at every flush (after a checkpoint's appends). Set it only
  //! while no checkpoint is in flight.
  std::function<void()> on_flush;

 private:
  mutable std::mutex mu_;
  std::vector<TaskLogEntry> log_[kTasks];
};

//! Answers from a queue (kOwner once it is empty), counts the questions; troubles() settable.
class ScriptedFence final : public TaskFence {
 public:
  void script(std::vector<Verdict> verdicts) {
    std::lock_guard lock(mu_);
    verdicts_.assign(verdicts.begin(), verdicts.end());
  }
  void bump_troubles() { troubles_.fetch_add(1); }
  void set_lease_ms(int ms) { lease_ms_.store(ms); }
  //! Runs (commit thread) at every question, before its answer. Set it only while no
  //! checkpoint is in flight.
  std::function<void()> on_confirm;
  int calls() const { return calls_.load(); }
  std::map<int32_t, int64_t> last_next() const {
    std::lock_guard lock(mu_);
    return last_next_;
  }

  Answer confirm(const std::map<int32_t, int64_t>& next, int) override {
    std::lock_guard lock(mu_);
    calls_.fetch_add(1);
    last_next_ = next;
    if (on_confirm) on_confirm();
    Answer a{Verdict::kOwner, ""};
    if (!verdicts_.empty()) {
      a.verdict = verdicts_.front();
      verdicts_.pop_front();
    }
    if (a.verdict != Verdict::kOwner) a.why = "scripted";
    return a;
  }
  int lease_ms() const override { return lease_ms_.load(); }
  uint64_t troubles() const override { return troubles_.load(); }

 private:
  mutable std::mutex mu_;
  std::deque<Verdict> verdicts_;
  std::map<int32_t, int64_t> last_next_;
  std::atomic<int> calls_{0};
  std::atomic<uint64_t> troubles_{0};
  std::atomic<int> lease_ms_{3'600'000};  // by default the SimClock never gets this far
};

//! One delivered output with its exactly-once tag.
struct Delivered {
  OutTopic topic;
  std::string key;
  std::string bytes;
  std::string instance;
  uint64_t epoch;
  uint32_t index;
};

//! Keeps every output with its tag and can search them like the Kafka sink (find_tagged), so
//! that a restore's redelivery sends only what is missing.
class TaggedSink final : public egress::Sink {
 public:
  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override {
    std::lock_guard lock(mu_);
    out_.push_back({topic, std::string(key), msg.SerializeAsString(), "", 0, 0});
  }
  void emit_serialized(OutTopic topic, std::string_view key, std::string_view bytes,
                       const egress::OutputTag& tag) override {
    std::lock_guard lock(mu_);
    out_.push_back({topic, std::string(key), std::string(bytes), std::string(tag.instance),
                    tag.epoch, tag.index});
  }
  Status flush(int) override { return ok(); }
  bool can_find_tagged() const override { return true; }
  Result<std::vector<uint32_t>> find_tagged(const egress::OutputPositions&,
                                            std::string_view instance, uint64_t epoch,
                                            int) override {
    std::lock_guard lock(mu_);
    std::vector<uint32_t> found;
    for (const auto& d : out_) {
      if (d.instance == instance && d.epoch == epoch) found.push_back(d.index);
    }
    std::sort(found.begin(), found.end());
    return found;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return out_.size();
  }
  size_t count(OutTopic topic) const {
    std::lock_guard lock(mu_);
    return std::count_if(out_.begin(), out_.end(), [&](const auto& d) { return d.topic == topic; });
  }
  //! The alarms delivered so far, as (alarm_id, count).
  std::vector<std::pair<std::string, uint32_t>> alarms() const {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, uint32_t>> got;
    for (const auto& d : out_) {
      if (d.topic != OutTopic::kAlarms) continue;
      vigil::v1::AlarmEvent a;
      if (a.ParseFromString(d.bytes)) got.emplace_back(a.alarm_id(), a.count());
    }
    return got;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Delivered> out_;
};

class EngineFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_engine_fence_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    clock_.set(kT0);
    auto rules = rules::load_rule_dir(VIGIL_SOURCE_DIR "/rules/eldercare");
    ASSERT_TRUE(rules.ok());
    EngineOptions o;
    o.shards = 2;
    o.data_dir = dir_.string();
    o.commit_interval_ms = kInterval;
    o.exactly_once = true;
    o.dispatch.routing = dispatch::Routing::kKafka;
    o.agency_region = [](const std::string&) { return std::string(); };
    o.task_log = &log_;
    o.delivery_timeout_ms = 60'000;
    engine_ = std::make_unique<Engine>(o, rules.rules, sink_, clock_);
    ASSERT_TRUE(engine_->start());
    engine_->set_task_fence(&fence_);
    auto resume = engine_->assign_tasks({0, 1});
    ASSERT_TRUE(resume) << resume.error().message;
    EXPECT_TRUE(resume.value().empty());  // never checkpointed: from the beginning
    // The elder's profile, on its task, then a first checkpoint without any trouble.
    submit(InTopic::kRegistry, 0,
           R"({"elder":{"elder_id":"e1","name":"e1","home_lat":31.2304,"home_lon":121.4737,)"
           R"("timezone":"Asia/Shanghai"}})");
    ASSERT_TRUE(sync());
  }
  void TearDown() override {
    EXPECT_EQ(sink_.count(OutTopic::kDeadletter), 0u);  // every input was good
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void submit(InTopic topic, int64_t offset, const std::string& json) {
    InputRecord rec;
    rec.topic = topic;
    rec.partition = kE1;  // e1's task: producers key by elder
    rec.offset = offset;
    rec.key = "e1";
    rec.payload = json;
    rec.format = codec::Format::kJson;
    engine_->submit(rec);
  }
  //! Telemetry offset `n` of e1's task: e1's water_leak n (event time kT0 + n s), which raises
  //! (n = 0) or repeats (count n + 1) the alarm e1:water_leak:1.
  void leak(int64_t n) {
    submit(InTopic::kTelemetry, n,
           R"({"event_id":"e1-leak-)" + std::to_string(n) +
               R"(","device_id":"e1-water_leak","elder_id":"e1","type":"water_leak","value":1,)"
               R"("ts":"2026-03-01T08:00:0)" + std::to_string(n) + R"(Z","seq":)" +
               std::to_string(n + 1) + "}");
  }
  //! Moves the clock by the commit interval and drives maybe_checkpoint() until a checkpoint
  //! begun after everything submitted so far is committed. Bounded: 30 s of real time.
  ::testing::AssertionResult sync() {
    const uint64_t before = engine_->checkpoints();
    clock_.advance(kInterval);
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (engine_->checkpoints() < before + 1) {
      if (auto s = engine_->maybe_checkpoint(); !s) {
        return ::testing::AssertionFailure() << "maybe_checkpoint: " << s.error().message;
      }
      if (std::chrono::steady_clock::now() > cap) {
        return ::testing::AssertionFailure() << "no checkpoint after " << before << " in 30 s";
      }
      std::this_thread::yield();
    }
    // Take the commit's result (in_flight_ off) as the ingest loop would; if the commit thread
    // has not flagged it finished yet, the next maybe_checkpoint() takes it instead.
    if (auto s = engine_->maybe_checkpoint(); !s) {
      return ::testing::AssertionFailure() << "maybe_checkpoint: " << s.error().message;
    }
    return ::testing::AssertionSuccess();
  }
  //! After a fenced checkpoint, without moving the clock (no other checkpoint can begin):
  //! drives maybe_checkpoint() until e1's task is dropped. The first call with no checkpoint
  //! in flight drops it (revoke_tasks(lost)); that may already have been sync()'s last call,
  //! when the commit thread finished before the loop's final maybe_checkpoint() took the
  //! result. So this waits on the ownership itself, not on checkpoints() moving once more.
  //! Bounded: 30 s.
  ::testing::AssertionResult drop() {
    const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (engine_->owns_task(kE1)) {
      if (auto s = engine_->maybe_checkpoint(); !s) {
        return ::testing::AssertionFailure() << "maybe_checkpoint: " << s.error().message;
      }
      if (std::chrono::steady_clock::now() > cap) {
        return ::testing::AssertionFailure() << "the fenced tasks were never dropped";
      }
      std::this_thread::yield();
    }
    return ::testing::AssertionSuccess();
  }
  //! The markers in task `t`'s changelog, in order.
  std::vector<TaskMarker> markers(int32_t t) const {
    std::vector<TaskMarker> out;
    for (const auto& e : log_.entries(t)) {
      TaskMarker m;
      if (e.key == kMarkerKey && e.value && decode_marker(*e.value, &m)) out.push_back(m);
    }
    return out;
  }
  static std::pair<std::string, uint32_t> alarm(uint32_t count) {
    return {"e1:water_leak:1", count};
  }

  std::filesystem::path dir_;
  SimClock clock_;
  MemoryTaskLog log_;
  ScriptedFence fence_;
  TaggedSink sink_;
  std::unique_ptr<Engine> engine_;
};

using Verdict = TaskFence::Verdict;

TEST_F(EngineFenceTest, WithoutTroubleTheFenceIsNeverAskedAndEveryCheckpointIsWritten) {
  const size_t markers_before = markers(kE1).size();
  for (int64_t n = 0; n < 3; ++n) {
    leak(n);
    ASSERT_TRUE(sync());
  }
  EXPECT_EQ(fence_.calls(), 0);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
  const auto m = markers(kE1);
  ASSERT_EQ(m.size(), markers_before + 3);
  EXPECT_EQ((m.back().offsets.at({InTopic::kTelemetry, kE1})), 3);
  EXPECT_EQ(m.back().instance, engine_->instance_id());
  EXPECT_FALSE(m.back().outputs.empty());  // the alarm repeat (and its operator view) of n = 2
  EXPECT_EQ(engine_->fenced_checkpoints(), 0u);
  EXPECT_EQ(engine_->skipped_records(), 0u);
}

TEST_F(EngineFenceTest, TroubleThenOwnerAsksOnceAndOutputsAreDelivered) {
  leak(0);
  fence_.bump_troubles();
  fence_.script({Verdict::kOwner});
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);
  // The question carries the checkpoint's next telemetry offset of every owned task.
  EXPECT_EQ(fence_.last_next(), (std::map<int32_t, int64_t>{{kE1, 1}, {kOther, 0}}));
  for (int64_t n = 1; n < 3; ++n) {
    leak(n);
    ASSERT_TRUE(sync());
  }
  EXPECT_EQ(fence_.calls(), 1);  // no new trouble: no more questions
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
  EXPECT_EQ((markers(kE1).back().offsets.at({InTopic::kTelemetry, kE1})), 3);
  EXPECT_EQ(engine_->fenced_checkpoints(), 0u);
}

TEST_F(EngineFenceTest, FencedCheckpointWritesAndDeliversNothingAndTheTasksComeBackFromTheLog) {
  leak(0);
  ASSERT_TRUE(sync());
  ASSERT_EQ(sink_.alarms(), std::vector{alarm(1)});
  const size_t log_e1 = log_.size(kE1), log_other = log_.size(kOther), delivered = sink_.size();
  const uint64_t good_epoch = markers(kE1).back().epoch;
  const size_t good_outputs = markers(kE1).back().outputs.size();

  // The zombie's checkpoint: the repeat it made must reach neither the log nor the sink.
  leak(1);
  fence_.bump_troubles();
  fence_.script({Verdict::kFenced});
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);
  EXPECT_EQ(engine_->fenced_checkpoints(), 1u);
  EXPECT_EQ(log_.size(kE1), log_e1);
  EXPECT_EQ(log_.size(kOther), log_other);
  EXPECT_EQ(sink_.size(), delivered);
  EXPECT_EQ(sink_.alarms(), std::vector{alarm(1)});

  // The first maybe_checkpoint() with no checkpoint in flight drops both tasks as lost
  // (revoke_tasks(lost): a checkpoint of its own, writing nothing of them); their records are
  // skipped from then on. The clock does not move: no other checkpoint can begin.
  ASSERT_TRUE(drop());
  const uint64_t skipped = engine_->skipped_records();
  leak(2);
  EXPECT_EQ(engine_->skipped_records(), skipped + 1);
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);  // nothing owned: nothing to ask about
  EXPECT_EQ(engine_->fenced_checkpoints(), 1u);
  EXPECT_EQ(log_.size(kE1), log_e1);
  EXPECT_EQ(sink_.size(), delivered);

  // Taken again: the state and offsets of the last good checkpoint, whose outputs the sink
  // already has (found, not sent again).
  auto resume = engine_->assign_tasks({0, 1});
  ASSERT_TRUE(resume) << resume.error().message;
  EXPECT_EQ((resume.value().at({InTopic::kTelemetry, kE1})), 1);
  EXPECT_EQ(engine_->outputs_redelivered(), 0u);
  EXPECT_EQ(engine_->outputs_found_delivered(), good_outputs);
  EXPECT_EQ(sink_.size(), delivered);
  for (int64_t n = 1; n < 3; ++n) leak(n);  // from the restored offset
  EXPECT_EQ(engine_->skipped_records(), skipped + 1);
  ASSERT_TRUE(sync());
  // The withheld repeat is made again, from the restored count, and the next one after it.
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
  // The troubles were never confirmed since they grew: the first checkpoint of the taken-back
  // tasks asks again (the script is empty: kOwner).
  EXPECT_EQ(fence_.calls(), 2);
  EXPECT_EQ(engine_->fenced_checkpoints(), 1u);
  const auto m = markers(kE1);
  ASSERT_FALSE(m.empty());
  EXPECT_GT(m.back().epoch, good_epoch);
  EXPECT_EQ((m.back().offsets.at({InTopic::kTelemetry, kE1})), 3);
}

// The signature of a known gap (tests/fault/README.md, TwoInstancesSigkillThenBrokerDownAndUp):
// the engine dropped its tasks on a fence while the consumer kept their partitions and no
// rebalance gave them back. Their records are skipped; once they still come 30 s after the
// first skipped one, the engine says so, once per task, and again only after the task changed
// hands.
TEST_F(EngineFenceTest, RecordsOfADroppedTaskThatKeepArrivingAreWarnedAboutOnce) {
  leak(0);
  ASSERT_TRUE(sync());
  leak(1);
  fence_.bump_troubles();
  fence_.script({Verdict::kFenced});
  ASSERT_TRUE(sync());
  ASSERT_TRUE(drop());
  const uint64_t skipped = engine_->skipped_records();
  // Records already fetched when the group moved the task drain at once: not a warning.
  leak(2);
  clock_.advance(29'000);
  leak(3);
  EXPECT_EQ(engine_->unowned_warnings(), 0u);
  // Still coming 30 s after the first: the consumer is still reading a task nobody processes.
  clock_.advance(1'000);
  leak(4);
  EXPECT_EQ(engine_->unowned_warnings(), 1u);
  clock_.advance(60'000);
  leak(5);
  EXPECT_EQ(engine_->unowned_warnings(), 1u);
  EXPECT_EQ(engine_->skipped_records(), skipped + 4);

  // Taken back: its records are processed again; lost again, the count starts afresh.
  ASSERT_TRUE(engine_->assign_tasks({0, 1}));
  ASSERT_TRUE(engine_->revoke_tasks({0, 1}, /*lost=*/true));
  leak(6);
  clock_.advance(30'000);
  leak(7);
  EXPECT_EQ(engine_->unowned_warnings(), 2u);
}

// After a refusal the first checkpoint with tasks asks again, whatever troubles() says: a task
// taken back after a fence (KafkaSource::take_back_kept_tasks) must be confirmed before any of
// its outputs go out. Here the doubt came from the lease running out, not a client error, so
// without that rule the taken-back task's checkpoint (no new trouble, well within the lease)
// would not ask.
TEST_F(EngineFenceTest, TheFirstCheckpointAfterARefusalAsksAgainWithoutNewTrouble) {
  fence_.set_lease_ms(500);
  leak(0);
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 0);
  clock_.advance(1000);  // a stall longer than the lease: doubt
  leak(1);
  fence_.script({Verdict::kFenced});
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);
  EXPECT_EQ(engine_->fenced_checkpoints(), 1u);
  ASSERT_TRUE(drop());
  ASSERT_TRUE(engine_->assign_tasks({0, 1}));
  leak(1);
  ASSERT_TRUE(sync());  // 100 ms later, the troubles unchanged
  EXPECT_EQ(fence_.calls(), 2);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2)}));
  leak(2);
  ASSERT_TRUE(sync());  // confirmed: no doubt any more
  EXPECT_EQ(fence_.calls(), 2);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
}

TEST_F(EngineFenceTest, NoAnswerIsAskedAgainUntilTheOwnerAnswers) {
  leak(0);
  fence_.bump_troubles();
  fence_.script({Verdict::kUnknown, Verdict::kUnknown, Verdict::kOwner});
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 3);
  EXPECT_EQ(sink_.alarms(), std::vector{alarm(1)});
  EXPECT_EQ((markers(kE1).back().offsets.at({InTopic::kTelemetry, kE1})), 1);
  EXPECT_EQ(engine_->fenced_checkpoints(), 0u);
  leak(1);
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 3);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2)}));
}

TEST_F(EngineFenceTest, ALongSilenceIsDoubtEvenWithoutTrouble) {
  fence_.set_lease_ms(500);
  leak(0);
  ASSERT_TRUE(sync());  // 100 ms after the previous one: within the lease
  EXPECT_EQ(fence_.calls(), 0);
  clock_.advance(1000);  // this thread stalled longer than the lease
  leak(1);
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);
  leak(2);
  ASSERT_TRUE(sync());
  EXPECT_EQ(fence_.calls(), 1);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
}

TEST_F(EngineFenceTest, NoAnswerWithinTheDeliveryTimeoutFailsTheCheckpoint) {
  leak(0);
  fence_.bump_troubles();
  fence_.script({Verdict::kUnknown, Verdict::kUnknown, Verdict::kUnknown, Verdict::kUnknown});
  fence_.on_confirm = [&] { clock_.advance(25'000); };  // the 60 s timeout after 3 questions
  const size_t log_e1 = log_.size(kE1);
  const uint64_t before = engine_->checkpoints();
  clock_.advance(kInterval);
  Status failed = ok();
  const auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (failed && std::chrono::steady_clock::now() < cap) {
    failed = engine_->maybe_checkpoint();
    std::this_thread::yield();
  }
  ASSERT_FALSE(failed) << "the checkpoint never failed";
  EXPECT_NE(failed.error().message.find("did not confirm"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(fence_.calls(), 3);
  EXPECT_EQ(engine_->checkpoints(), before);  // not committed
  EXPECT_EQ(log_.size(kE1), log_e1);
  EXPECT_TRUE(sink_.alarms().empty());
  EXPECT_EQ(engine_->fenced_checkpoints(), 0u);
  fence_.on_confirm = nullptr;  // the engine's final checkpoint, at TearDown, asks again
}

TEST_F(EngineFenceTest, FencedAtTheSecondQuestionTheLogHasItAndTheNextOwnerDeliversIt) {
  leak(0);
  ASSERT_TRUE(sync());
  ASSERT_EQ(sink_.alarms(), std::vector{alarm(1)});
  // Trouble while the changelog is written: the first question was not asked (no doubt then),
  // the second one, before the outputs go out, is, and the answer is no.
  std::atomic<bool> armed{true};
  log_.on_flush = [&] {
    if (armed.exchange(false)) fence_.bump_troubles();
  };
  fence_.script({Verdict::kFenced});
  leak(1);
  ASSERT_TRUE(sync());
  log_.on_flush = nullptr;
  EXPECT_EQ(fence_.calls(), 1);
  EXPECT_EQ(engine_->fenced_checkpoints(), 1u);
  // The changelog has the checkpoint (its marker holds the repeat); the sink does not.
  const TaskMarker written = markers(kE1).back();
  EXPECT_EQ((written.offsets.at({InTopic::kTelemetry, kE1})), 2);
  ASSERT_FALSE(written.outputs.empty());
  EXPECT_EQ(sink_.alarms(), std::vector{alarm(1)});

  ASSERT_TRUE(drop());
  leak(2);
  EXPECT_EQ(engine_->skipped_records(), 1u);
  // Whoever takes the tasks (here: this instance again) delivers the marker's outputs.
  auto resume = engine_->assign_tasks({0, 1});
  ASSERT_TRUE(resume) << resume.error().message;
  EXPECT_EQ((resume.value().at({InTopic::kTelemetry, kE1})), 2);
  EXPECT_EQ(engine_->outputs_redelivered(), written.outputs.size());
  EXPECT_EQ(engine_->outputs_found_delivered(), 0u);
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2)}));
  leak(2);
  ASSERT_TRUE(sync());
  EXPECT_EQ(sink_.alarms(), (std::vector{alarm(1), alarm(2), alarm(3)}));
  EXPECT_EQ(fence_.calls(), 2);  // still in doubt since the trouble: asked again, kOwner
}

}  // namespace
}  // namespace vigil::runtime
