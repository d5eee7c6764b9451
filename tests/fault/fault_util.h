#pragma once
// Shared by the fault tests (tests/fault/): the deterministic input, `vigil run` as a child
// process, and the comparison of every output record of a faulted run with an uninterrupted
// reference run of the same input (nothing missing, nothing extra, nothing doubled).
//
// Outputs are compared without the fields that come from the wall clock at the moment a record
// is made (offer and order-event times, task creation times, the "(late: ...)" note of a timer
// that fired after a restart): those differ between any two runs, faulted or not. What
// identifies a record (ids, states, counts, severities, keys, order of attempts) must match.
// The input is built so that the set of outputs does not depend on timing: escalations are due
// before the run starts (event time ten minutes ago), offers never expire during the test, and
// each category has one agency, so ranking never depends on which order reached it first.

#include <librdkafka/rdkafka.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/broker/embedded_broker.h"
#include "engine/core/time_util.h"

namespace vigil::testing {

inline constexpr int kFaultPartitions = 4;

struct Input {
  std::string topic;
  std::string key;
  std::string value;
};

//! Registry first, then `rounds` rounds of telemetry (and some calls and bad records) for
//! `elders` elders; deterministic.
std::vector<Input> make_input(TimeMs t0, int elders = 400, int rounds = 60);

//! For the rebalance test: `n` elders "f0".."f<n-1>" (registry entries with a home), each with a
//! `fall` at `fall_ts` + i (nothing follows that cancels it: fall_no_recovery is pending until
//! its due time) and then a `water_leak` at `marker_ts` + i, whose immediate alarm shows that the
//! fall before it was processed. With `marker_ts` in the past the marker's escalations are due
//! at once, like the rest of make_input's. Not part of make_input (other tests keep their input).
std::vector<Input> make_fall_input(int n, TimeMs fall_ts, TimeMs marker_ts);

//! `vigil run` as a child process, stdout and stderr appended to `log`.
class Vigil {
 public:
  Vigil(std::string brokers, std::string data_dir, std::string config, std::string log)
      : brokers_(std::move(brokers)), data_(std::move(data_dir)), config_(std::move(config)),
        log_(std::move(log)) {}
  ~Vigil() { kill_now(); }
  Vigil(const Vigil&) = delete;
  Vigil& operator=(const Vigil&) = delete;

  //! Starts the process; false if it could not be spawned.
  bool start();
  void kill_now();
  //! SIGTERM: final checkpoint and clean stop. Returns the exit status.
  int stop();
  //! Waits up to `timeout_s` for the process to exit by itself; its exit status, or -1.
  int wait_exit(int timeout_s);
  bool alive() const;

 private:
  std::string brokers_, data_, config_, log_;
  pid_t pid_ = -1;
};

//! Every output record on `brokers` as a normalised line, with how often it occurs.
std::map<std::string, int> outputs_of(const std::string& brokers);

//! For engines already running with `changelog: true` (write_group_config): produces every
//! registry record of the input and waits until the engines checkpointed them (the changelog
//! holds at least as many records) and forwarded the agencies to `orders`. As in operation,
//! elders and agencies are registered before their calls and orders: a registry record and a
//! call read from two partitions, or an agency forwarded by one instance and an order request
//! made by another, otherwise reach their owner in no set order. False on timeout.
bool register_first(const std::string& brokers, const std::vector<Input>& input, int timeout_s);

//! The sum of the end offsets of every output partition (grows when the engine delivers), or
//! -1 if one could not be read.
int64_t output_end(rd_kafka_t* rk);

size_t total(const std::map<std::string, int>& m);

//! Waits up to `max_s` until `brokers` hold at least `at_least` output records (a group whose
//! tasks are still moving after a fault may pause for longer than settled_outputs' quiet
//! spell), then until they stop changing. Prints how long the first wait took.
std::map<std::string, int> outputs_reaching(const std::string& brokers, size_t at_least, int max_s);

//! Waits until the outputs on `brokers` stop changing for a few seconds (the engine is idle).
std::map<std::string, int> settled_outputs(const std::string& brokers, int max_s);

struct Comparison {
  size_t missing = 0, extra = 0, doubled = 0;
  size_t faults() const { return missing + extra + doubled; }
};
//! Counts what `faulted` lacks, has beyond and has twice against `reference`; adds a gtest
//! failure naming the first few of each.
Comparison compare_outputs(const std::map<std::string, int>& reference,
                           const std::map<std::string, int>& faulted);

//! The reference: all of `input` on `brokers`, one uninterrupted `vigil run` on `data_dir`,
//! clean stop. Returns its settled outputs.
std::map<std::string, int> reference_run(const std::vector<Input>& input, const std::string& brokers,
                                         const std::string& data_dir, const std::string& config,
                                         const std::string& log);

//! Several `vigil run` in one consumer group on `brokers`: instance `name` runs on data dir
//! `dir`/`name` and logs to `dir`/`name`.log. Every instance is killed when the group goes.
class Group {
 public:
  Group(std::string brokers, std::string dir, std::string config)
      : brokers_(std::move(brokers)), dir_(std::move(dir)), config_(std::move(config)) {}
  //! The instance `name`, made on first use (not started).
  Vigil& operator[](const std::string& name);
  std::string log(const std::string& name) const { return dir_ + "/" + name + ".log"; }
  //! Input partitions assigned at the instance's last rebalance, from its log; -1 before any.
  int assigned(const std::string& name) const;
  //! How many lines of the instance's log match the regular expression `pattern`.
  int log_lines(const std::string& name, const std::string& pattern) const;
  //! Waits up to `timeout_s` until every one of `names` holds input partitions.
  bool wait_assigned(const std::vector<std::string>& names, int timeout_s) const;
  //! Starts every one of `names`, then wait_assigned.
  bool start(const std::vector<std::string>& names, int timeout_s);
  //! Per instance: its input partitions at its last rebalance and how many "task <p>: restored",
  //! "task <p>: handed over" and "task <p>: lost" lines its log has.
  std::string describe() const;
  //! SIGTERM to every running instance; true if all exited 0.
  bool stop_all();
  //! Waits up to `timeout_s` until the members' last rebalances add up to `partitions` input
  //! partitions: every task owned and restored (a restore runs inside the rebalance, before its
  //! "input partitions assigned" line), so outputs read after this are not read mid-restore.
  bool wait_all_owned(int partitions, int timeout_s) const;

 private:
  std::string brokers_, dir_, config_;
  std::vector<std::pair<std::string, std::unique_ptr<Vigil>>> members_;
};

//! Every alarm record on `brokers` of rule `rule_id` with status ACTIVE_UNACK (a raise), counted
//! per elder.
std::map<std::string, int> raises_of(const std::string& brokers, const std::string& rule_id);

//! Every DispatchOffer on `brokers`, counted per (order_id, attempt).
std::map<std::pair<std::string, uint32_t>, int> offers_of(const std::string& brokers);

//! The partitions of `topic` (full name) holding records whose key starts with `key_prefix`.
std::set<int32_t> partitions_of_keys(const std::string& brokers, const std::string& topic,
                                     const std::string& key_prefix);

//! The two embedded brokers of a fault test, and the reference run on the first: all of the
//! input, one uninterrupted `vigil run` in `dir`/ref. The faulted run uses `flt`.
struct FaultSetup {
  std::unique_ptr<broker::EmbeddedBroker> ref, flt;
  std::string flt_brokers;
  std::map<std::string, int> reference;  //!< the reference run's settled outputs
};
//! Starts the two brokers only (the caller runs the reference). False (with a gtest failure) if
//! a broker did not start.
bool start_fault_brokers(FaultSetup* setup);
//! Both brokers and the reference run. False (with a gtest failure) if a broker did not start.
bool start_fault_setup(const std::vector<Input>& input, const std::string& dir,
                       const std::string& config, FaultSetup* setup);

//! Produces input[from, to) to `brokers` in bursts of 500 records, flushed, with `pause_ms`
//! between bursts (0: all at once), so that the input keeps arriving while the fault happens;
//! sets `produced` after the last flush.
void produce_input(const std::string& brokers, const std::vector<Input>& input, size_t from,
                   size_t to, int pause_ms, std::atomic<bool>& produced);

//! The config the fault tests run with (commit every 200 ms; offers that never expire), plus
//! the top-level lines `top`.
std::string write_fault_config(const std::string& dir, const std::string& top = "");

//! The config of several instances in one group (issue #8): write_fault_config's, plus
//! `changelog: true` (state moves with its partition), one `group_id` and
//! `dispatch.routing: kafka` (region owners through the `orders` topic).
std::string write_group_config(const std::string& dir);

//! True if `path`'s text contains `needle`.
bool file_contains(const std::string& path, const std::string& needle);

}  // namespace vigil::testing
