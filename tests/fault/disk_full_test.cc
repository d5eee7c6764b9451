// The data directory's disk full mid-run, and unwritable at start (issue #8, docs/operations.md).
//
// A real small file system: a tmpfs mounted for the data directory (the sandbox and CI run as
// root, which may mount). Not RLIMIT_FSIZE (it kills with SIGXFSZ, and RocksDB's WAL would fail
// on one file only, not on the directory) and not a RocksDB Env wrapper (it would test the
// wrapper's error, not the kernel's ENOSPC that the operator meets). Where mounting is refused
// (no root, no CAP_SYS_ADMIN) the tests are skipped and say so.
//
// Disk full: `vigil run` processes the input while it arrives; once outputs flow, a filler file
// takes every free byte of the tmpfs. The engine must log one clear error, hold (no output
// grows, the process stays up), and when the filler is deleted go on; the outputs are then
// compared with an uninterrupted run like the SIGKILL test: nothing missing, extra or doubled.

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/core/clock.h"
#include "tests/fault/fault_util.h"
#include "tests/integration/kafka_test_util.h"

namespace vigil::testing {
namespace {

//! A tmpfs of `mb` MB mounted on `dir` for the test's lifetime (unmounted lazily at the end).
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, int mb, bool read_only = false) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string opts = "size=" + std::to_string(mb) + "m,mode=0755";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::string("mount -t tmpfs on ") + dir + ": " + std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  //! Appends to a filler file until the file system refuses (ENOSPC); returns the bytes added.
  size_t fill(const std::string& name) {
    filler_ = dir_ + "/" + name;
    std::FILE* f = std::fopen(filler_.c_str(), "ab");
    if (f == nullptr) return 0;
    std::setvbuf(f, nullptr, _IONBF, 0);
    std::vector<char> block(1 << 20, 'x');
    size_t written = 0;
    for (size_t chunk = block.size(); chunk >= 512;) {
      const size_t n = std::fwrite(block.data(), 1, chunk, f);
      written += n;
      if (n < chunk) chunk /= 2;  // full at this granularity: try smaller pieces
    }
    std::fclose(f);
    return written;
  }
  void free_filler() { std::filesystem::remove(filler_); }

 private:
  std::string dir_, error_, filler_;
  bool mounted_ = false;
};

//! Keeps the disk full (a thread tops the filler up every 20 ms) until destroyed.
class KeepFull {
 public:
  explicit KeepFull(SmallDisk& disk) : disk_(disk), filled_(disk.fill("filler")) {
    thread_ = std::thread([this] {
      while (run_.load()) {
        filled_ += disk_.fill("filler");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~KeepFull() {
    run_ = false;
    thread_.join();
  }
  size_t filled() const { return filled_.load(); }

 private:
  SmallDisk& disk_;
  std::atomic<bool> run_{true};
  std::atomic<size_t> filled_;
  std::thread thread_;
};

size_t count_in(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

class DiskFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { config_ = write_fault_config(dir_.path()); }
  TempDir dir_;
  std::string config_;
};

TEST_F(DiskFaultTest, DiskFullMidRunHoldsThenResumesWithEveryOutputOnce) {
  SmallDisk disk(dir_.path() + "/disk", 48);
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a small file system here: " << disk.error();

  const TimeMs t0 = RealClock::instance().now_ms() - 600'000;
  const std::vector<Input> input = make_input(t0, 250, 30);
  std::cout << "input: " << input.size() << " records" << std::endl;
  FaultSetup setup;
  ASSERT_TRUE(start_fault_setup(input, dir_.path(), config_, &setup));
  const auto& reference = setup.reference;
  const std::string& flt_brokers = setup.flt_brokers;
  ASSERT_GT(total(reference), 100u);

  const std::string log = dir_.path() + "/flt.log";
  Vigil flt(flt_brokers, dir_.path() + "/disk/data", config_, log);
  ASSERT_TRUE(flt.start());
  struct Finally {  // on every way out: the producer joined, the log kept if asked for
    std::thread t;
    std::string log;
    ~Finally() {
      if (t.joinable()) t.join();
      if (const char* keep = std::getenv("VIGIL_FAULT_KEEP_LOG")) {  // investigating a failure
        std::ifstream from(log);
        std::ofstream(keep) << from.rdbuf();
      }
    }
  } finally{{}, log};
  std::atomic<bool> produced{false};
  std::thread& producer = finally.t;
  // ~10 s of input: it keeps arriving while the disk is full.
  producer = std::thread(
      [&] { produce_input(flt_brokers, input, 0, input.size(), 500, produced); });
  auto conf = broker::make_conf({{"bootstrap.servers", flt_brokers}});
  ASSERT_TRUE(conf);
  auto watcher = broker::make_client(RD_KAFKA_PRODUCER, std::move(conf).value());
  ASSERT_TRUE(watcher);
  rd_kafka_t* rk = watcher.value().get();
  auto wait_for = [](const std::function<bool()>& cond, int timeout_s) {
    for (int i = 0; i < timeout_s * 10; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return cond();
  };
  // Fill the disk once the engine delivers outputs, and keep it full (as a runaway log file
  // would): RocksDB frees some space of its own when it reopens (its WAL becomes a smaller
  // table file), and the filler takes that too.
  ASSERT_TRUE(wait_for([&] { return output_end(rk) >= 20; }, 60)) << "no outputs from the engine";
  auto filler = std::make_unique<KeepFull>(disk);
  std::cout << "disk full: filler of " << filler->filled() / 1024 << " KiB" << std::endl;
  const std::string holding = "; holding input, retrying every 2 s";
  const std::string resumed = " s on hold; resuming input";
  auto held = [&] { return count_in(log, holding) > count_in(log, resumed); };
  ASSERT_TRUE(wait_for(held, 30)) << "the engine did not report the full disk";
  EXPECT_TRUE(file_contains(log, "No space left on device"));
  EXPECT_TRUE(file_contains(log, "data dir " + dir_.path() + "/disk/data: "));
  // On hold: alive, and no output reaches the topics (this epoch's outputs wait in its batch).
  // A hold can end by itself: reopening the database turns its WAL into a smaller table file,
  // and the commit may fit before the filler takes that space. Watch whole holds only.
  bool watched = false;
  for (int tries = 0; tries < 5 && !watched; ++tries) {
    ASSERT_TRUE(wait_for(held, 30)) << "the engine did not hold again on the full disk";
    const size_t holds = count_in(log, holding);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const int64_t held_at = output_end(rk);
    std::this_thread::sleep_for(std::chrono::seconds(5));
    if (count_in(log, holding) != holds || !held()) continue;  // that hold ended; the next one
    EXPECT_TRUE(flt.alive());
    EXPECT_EQ(output_end(rk), held_at) << "outputs grew while the disk was full";
    std::cout << "held for 5 s with " << held_at << " output records on the topics" << std::endl;
    watched = true;
  }
  EXPECT_TRUE(watched) << "no hold lasted 5 s";

  const size_t filled = filler->filled();
  filler.reset();
  std::cout << "space back: filler of " << filled / 1024 << " KiB deleted" << std::endl;
  disk.free_filler();
  // Every hold ends (RocksDB may have freed space of its own and resumed once already).
  ASSERT_TRUE(wait_for([&] { return count_in(log, holding) == count_in(log, resumed); }, 30))
      << "the engine did not resume after space returned";
  producer.join();
  ASSERT_TRUE(produced.load());
  const auto faulted = settled_outputs(flt_brokers, 120);
  EXPECT_EQ(flt.stop(), 0);
  const Comparison c = compare_outputs(reference, faulted);
  std::cout << "disk-full run: " << total(faulted) << " output records; missing " << c.missing
            << ", extra " << c.extra << ", doubled " << c.doubled << std::endl;
  {
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.find("data dir") != std::string::npos) std::cout << "  log: " << line << "\n";
    }
  }
  EXPECT_EQ(c.faults(), 0u);
}

TEST_F(DiskFaultTest, UnwritableDataDirAtStartIsAClearErrorAndWritesNothing) {
  // As root, file modes do not stop writes: a read-only mount does. Otherwise, mode 0500.
  const std::string dir = dir_.path() + "/ro";
  std::optional<SmallDisk> disk;
  if (::geteuid() == 0) {
    disk.emplace(dir, 1, /*read_only=*/true);
    if (!disk->mounted()) GTEST_SKIP() << "cannot mount a read-only file system: " << disk->error();
  } else {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_read |
                                          std::filesystem::perms::owner_exec);
  }
  auto broker = broker::EmbeddedBroker::start(1, kFaultPartitions, TopicNames());
  ASSERT_TRUE(broker);
  const std::string log = dir_.path() + "/ro.log";
  Vigil v(broker.value()->bootstrap_servers(), dir + "/data", config_, log);
  ASSERT_TRUE(v.start());
  EXPECT_EQ(v.wait_exit(60), 1);
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::cout << "vigil said: " << text;
  EXPECT_NE(text.find("cannot open state in " + dir + "/data"), std::string::npos) << text;
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "something was written to " << dir;
  if (!disk) std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
}

}  // namespace
}  // namespace vigil::testing
