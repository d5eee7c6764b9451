#include "engine/ingest/kafka_source.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/core/clock.h"
#include "engine/core/log.h"

namespace vigil::ingest {
namespace {

constexpr std::string_view kComponent = "ingest";

// Settings the engine's correctness rests on: offsets go to RocksDB with the state they
// produced, and aborted transactional records are never read. extra_conf cannot override them.
const broker::ConfMap& fixed_settings() {
  static const broker::ConfMap settings = {
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"isolation.level", "read_committed"},
      // End-of-partition events tell when the registry has caught up (registry first).
      {"enable.partition.eof", "true"},
  };
  return settings;
}

const broker::ConfMap& default_settings() {
  static const broker::ConfMap settings = {
      // A stored offset the broker no longer holds (the mock keeps ~5 MB per partition)
      // restarts at the oldest record it still has rather than skipping to the end.
      {"auto.offset.reset", "earliest"},
      // A dead instance's partitions move to the others within 10 s rather than 45: alarms
      // wait no longer than that. It also bounds how long a rejoin waits for a member that left.
      {"session.timeout.ms", "10000"},
      // An SOS waits for the next fetch. A real broker answers a fetch as soon as data
      // arrives, so a short wait costs only empty round trips while idle (at most 200/s per
      // broker connection); the embedded broker (librdkafka's mock) answers only when the wait
      // expires, so there it is the latency floor: 500 ms (the default) gave a p50 of 280 ms
      // through it at 5,000 events/s, 1 ms gave 7.9 ms (bench/README.md, 2026-11-23).
      {"fetch.wait.max.ms", "5"},
  };
  return settings;
}

bool is_cooperative(rd_kafka_t* rk) {
  return std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
}

}  // namespace

KafkaSource::KafkaSource(TopicNames topics, StoredOffsetFn stored_offset, bool routed_orders,
                         TaskHooks tasks)
    : topics_(std::move(topics)), stored_offset_(std::move(stored_offset)),
      routed_orders_(routed_orders), tasks_(std::move(tasks)) {}

Result<std::unique_ptr<KafkaSource>> KafkaSource::start(std::string_view brokers,
                                                        std::string_view group_id,
                                                        const TopicNames& topics,
                                                        const broker::ConfMap& extra_conf,
                                                        StoredOffsetFn stored_offset,
                                                        bool routed_orders, TaskHooks tasks) {
  const bool task_mode = static_cast<bool>(tasks.assign);
  std::unique_ptr<KafkaSource> source(
      new KafkaSource(topics, std::move(stored_offset), routed_orders, std::move(tasks)));

  broker::ConfMap settings = default_settings();
  settings["bootstrap.servers"] = std::string(brokers);
  settings["group.id"] = std::string(group_id);
  settings = broker::merged(broker::merged(std::move(settings), extra_conf), fixed_settings());
  // Tasks move one at a time, the others keep running (issue #8).
  if (task_mode) settings["partition.assignment.strategy"] = "cooperative-sticky";
  auto conf = broker::make_conf(settings);
  if (!conf) return conf.error();
  source->session_timeout_ms_ = std::stoi(settings.at("session.timeout.ms"));
  rd_kafka_conf_set_opaque(conf.value().get(), source.get());
  rd_kafka_conf_set_rebalance_cb(conf.value().get(), &KafkaSource::on_rebalance);
  rd_kafka_conf_set_error_cb(conf.value().get(), &KafkaSource::on_error);

  auto consumer = broker::make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!consumer) return consumer.error();
  source->consumer_ = std::move(consumer).value();
  // Serve error and log events from poll_batch() too, on the ingest thread.
  rd_kafka_poll_set_consumer(source->consumer_.get());

  rd_kafka_topic_partition_list_t* subscription =
      rd_kafka_topic_partition_list_new(static_cast<int>(kKafkaInputs.size()));
  for (InTopic t : kKafkaInputs) {
    if (task_mode && t != InTopic::kTelemetry) continue;  // the task's other partitions follow
    rd_kafka_topic_partition_list_add(subscription, topics.of(t).c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (routed_orders && !task_mode) {
    rd_kafka_topic_partition_list_add(subscription, topics.of(InTopic::kOrders).c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t err = rd_kafka_subscribe(source->consumer_.get(), subscription);
  rd_kafka_topic_partition_list_destroy(subscription);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker, "ingest cannot subscribe to the input topics under prefix '" +
                                         topics.prefix() + "': " + rd_kafka_err2str(err));
  }
  log::info(kComponent, "joining consumer group ", group_id, " on ", brokers);
  return source;
}

KafkaSource::~KafkaSource() {
  if (consumer_) (void)close();
}

size_t KafkaSource::poll_batch(std::vector<InputRecord>& out, size_t max, int timeout_ms) {
  if (!held_.empty() && RealClock::instance().steady_ns() >= hold_deadline_ns_) {
    release_held("the registry did not reach its end in time");
  }
  if (tasks_.owns) take_back_kept_tasks();
  size_t n = 0;
  int wait_ms = timeout_ms;
  while (n < max) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer_.get(), wait_ms);
    if (!moved_.empty()) n = drop_moved(out, n);  // a rebalance ran in that call
    if (msg == nullptr) break;
    wait_ms = 0;  // after the first, take only what is already fetched
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (!registry_pending_.empty() &&
          input_topic(rd_kafka_topic_name(msg->rkt)) == InTopic::kRegistry) {
        registry_caught_up(msg->partition);
      }
      rd_kafka_message_destroy(msg);
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      errors_.record(msg->err, msg->rkt != nullptr
                                   ? log::cat("consumer on ", rd_kafka_topic_name(msg->rkt), "[",
                                              msg->partition, "]")
                                   : std::string("consumer"));
      rd_kafka_message_destroy(msg);
      continue;
    }
    std::optional<InTopic> topic = input_topic(rd_kafka_topic_name(msg->rkt));
    if (!topic) {
      errors_.record(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
                     log::cat("record from unexpected topic ", rd_kafka_topic_name(msg->rkt)));
      rd_kafka_message_destroy(msg);
      continue;
    }
    if (n == out.size()) out.emplace_back();
    InputRecord& record = out[n++];
    record.topic = *topic;
    record.partition = msg->partition;
    record.offset = msg->offset;
    if (msg->key != nullptr) {
      record.key.assign(static_cast<const char*>(msg->key), msg->key_len);
    } else {
      record.key.clear();
    }
    if (msg->payload != nullptr) {
      record.payload.assign(static_cast<const char*>(msg->payload), msg->len);
    } else {
      record.payload.clear();
    }
    record.format = codec::Format::kBinary;
    record.ingest_ns = RealClock::instance().steady_ns();
    rd_kafka_message_destroy(msg);
  }
  records_.add(n);
  return n;
}

std::vector<std::pair<InTopic, int32_t>> KafkaSource::assignment() const {
  std::lock_guard lock(assignment_mu_);
  return assignment_;
}

Status KafkaSource::close() {
  if (closed_) return ok();
  closed_ = true;
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get());
  {
    std::lock_guard lock(assignment_mu_);
    assignment_.clear();
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::kBroker,
                      std::string("ingest consumer did not leave its group cleanly: ") +
                          rd_kafka_err2str(err));
  }
  return ok();
}

void KafkaSource::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->rebalance(err, partitions);
}

void KafkaSource::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  static_cast<KafkaSource*>(opaque)->errors_.record(static_cast<rd_kafka_resp_err_t>(err),
                                                    log::cat("consumer: ", reason));
}

void KafkaSource::rebalance(rd_kafka_resp_err_t err,
                            rd_kafka_topic_partition_list_t* partitions) {
  if (tasks_.assign) {
    rebalance_tasks(err, partitions);
    return;
  }
  rd_kafka_t* rk = consumer_.get();
  const bool cooperative = is_cooperative(rk);
  rebalances_.add();
  for (int i = 0; i < partitions->cnt; ++i) {
    if (auto topic = input_topic(partitions->elems[i].topic)) {
      moved_.emplace_back(*topic, partitions->elems[i].partition);
    }
  }
  rd_kafka_error_t* error = nullptr;
  rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < partitions->cnt; ++i) {
      rd_kafka_topic_partition_t& tp = partitions->elems[i];
      std::optional<InTopic> topic = input_topic(tp.topic);
      std::optional<int64_t> next =
          topic ? stored_offset_(*topic, tp.partition) : std::optional<int64_t>();
      tp.offset = next && *next >= 0 ? *next : RD_KAFKA_OFFSET_BEGINNING;
    }
    if (cooperative) {
      error = rd_kafka_incremental_assign(rk, partitions);
    } else {
      assign_err = rd_kafka_assign(rk, partitions);
    }
    if (error == nullptr && assign_err == RD_KAFKA_RESP_ERR_NO_ERROR) hold_for_registry(partitions);
  } else {
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) errors_.record(err, "rebalance");
    // Partitions that stay (cooperative) must not wait on registry partitions that left.
    registry_pending_.clear();
    release_held("partitions were revoked");
    if (cooperative) {
      error = rd_kafka_incremental_unassign(rk, partitions);
    } else {
      assign_err = rd_kafka_assign(rk, nullptr);
    }
  }
  if (error != nullptr) {
    assign_err = rd_kafka_error_code(error);
    rd_kafka_error_destroy(error);
  }
  if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) errors_.record(assign_err, "partition assignment");
  refresh_assignment();
}

void KafkaSource::rebalance_tasks(rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = consumer_.get();
  rebalances_.add();
  std::vector<int32_t> tasks;
  for (int i = 0; i < partitions->cnt; ++i) {
    if (input_topic(partitions->elems[i].topic) == InTopic::kTelemetry) {
      tasks.push_back(partitions->elems[i].partition);
    }
  }
  const std::vector<InTopic> topics = task_topics();
  for (int32_t p : tasks) {
    for (InTopic t : topics) moved_.emplace_back(t, p);
    not_taken_.erase(p);  // the group moved it: the engine may take it now
  }
  rd_kafka_topic_partition_list_t* all =
      rd_kafka_topic_partition_list_new(static_cast<int>(tasks.size() * topics.size()));
  rd_kafka_error_t* error = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    TaskHooks::Offsets resume;
    if (task_error_) {
      auto r = tasks_.assign(tasks);
      if (r) {
        resume = std::move(r).value();
      } else {
        task_error_ = r.error();
      }
    }
    if (!task_error_) {
      // A task that could not be restored is not read: its records stay for the next owner.
      tasks.clear();
      log::error(kComponent, "tasks not taken over: ", task_error_.error().message);
    }
    for (int32_t p : tasks) {
      for (InTopic t : topics) {
        auto it = resume.find({t, p});
        rd_kafka_topic_partition_list_add(all, topics_.of(t).c_str(), p)->offset =
            it != resume.end() ? it->second : RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    // The group's own partitions (telemetry) must be assigned even if not read, else the
    // group protocol stalls; a failed restore pauses them instead.
    error = rd_kafka_incremental_assign(rk, task_error_ ? all : partitions);
    if (error == nullptr && task_error_) hold_for_registry(all);
    if (error == nullptr && !task_error_) rd_kafka_pause_partitions(rk, partitions);
  } else {
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) errors_.record(err, "rebalance");
    registry_pending_.clear();
    release_held("tasks were revoked");
    if (task_error_) {
      if (auto s = tasks_.revoke(tasks, lost); !s) task_error_ = s;
    }
    // Every partition of each task: the ones this source added, and the group's telemetry.
    rd_kafka_topic_partition_list_t* current = nullptr;
    if (rd_kafka_assignment(rk, &current) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < current->cnt; ++i) {
        const auto& tp = current->elems[i];
        if (std::find(tasks.begin(), tasks.end(), tp.partition) != tasks.end()) {
          rd_kafka_topic_partition_list_add(all, tp.topic, tp.partition);
        }
      }
      rd_kafka_topic_partition_list_destroy(current);
    }
    error = rd_kafka_incremental_unassign(rk, all);
  }
  rd_kafka_topic_partition_list_destroy(all);
  if (error != nullptr) {
    errors_.record(rd_kafka_error_code(error), "task assignment");
    rd_kafka_error_destroy(error);
  }
  refresh_assignment();
  std::string list;
  for (int32_t p : tasks) list += " " + std::to_string(p);
  log::info(kComponent, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "tasks assigned:" : "tasks revoked:",
            list);
}

size_t drop_records_of(std::vector<InputRecord>& out, size_t n,
                       const std::vector<std::pair<InTopic, int32_t>>& moved) {
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto where = std::make_pair(out[i].topic, out[i].partition);
    if (std::find(moved.begin(), moved.end(), where) != moved.end()) continue;
    if (kept != i) std::swap(out[kept], out[i]);  // slots keep their buffers (the pool)
    ++kept;
  }
  return kept;
}

size_t KafkaSource::drop_moved(std::vector<InputRecord>& out, size_t n) {
  const size_t kept = drop_records_of(out, n, moved_);
  moved_.clear();
  if (kept < n) {
    stale_.add(n - kept);
    log::info(kComponent, "dropped ", n - kept, " records fetched before a rebalance moved "
              "their partitions; they are read again from where their owner resumes");
  }
  return kept;
}

std::vector<InTopic> KafkaSource::task_topics() const {
  std::vector<InTopic> topics = {InTopic::kTelemetry, InTopic::kCalls, InTopic::kAgency,
                                 InTopic::kRegistry};
  if (routed_orders_) topics.push_back(InTopic::kOrders);
  return topics;
}

void KafkaSource::take_back_kept_tasks() {
  const int64_t now = RealClock::instance().steady_ns();
  if (now < next_kept_check_ns_) return;
  next_kept_check_ns_ = now + int64_t{kKeptCheckMs} * 1'000'000;
  rd_kafka_t* rk = consumer_.get();
  // A failed restore stops the engine; a lost assignment is revoked by the next callback.
  if (!task_error_ || closed_ || rd_kafka_assignment_lost(rk) != 0) {
    kept_since_.clear();
    return;
  }
  rd_kafka_topic_partition_list_t* current = nullptr;
  if (rd_kafka_assignment(rk, &current) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  std::map<int32_t, int64_t> kept;
  std::vector<int32_t> due;
  for (int i = 0; i < current->cnt; ++i) {
    const int32_t p = current->elems[i].partition;
    if (input_topic(current->elems[i].topic) != InTopic::kTelemetry || tasks_.owns(p) ||
        not_taken_.contains(p)) {
      continue;
    }
    auto it = kept_since_.find(p);
    const int64_t since = it != kept_since_.end() ? it->second : now;
    kept[p] = since;
    if (now - since >= int64_t{lease_ms()} * 1'000'000) due.push_back(p);
  }
  rd_kafka_topic_partition_list_destroy(current);
  kept_since_ = std::move(kept);
  if (due.empty()) return;
  for (int32_t p : due) kept_since_.erase(p);
  take_back(due);
}

void KafkaSource::take_back(const std::vector<int32_t>& tasks) {
  std::string list;
  for (int32_t p : tasks) list += " " + std::to_string(p);
  log::warn(kComponent, "tasks taken back:", list, ": the engine gave them up (a fenced "
            "checkpoint) but this member still holds their partitions ", lease_ms(), " ms later "
            "and no rebalance came; they resume from their last checkpoint, and the next "
            "checkpoint asks the group again whether this member owns them");
  auto resumed = tasks_.assign(tasks);
  if (!resumed) {
    task_error_ = resumed.error();
    log::error(kComponent, "tasks not taken back: ", task_error_.error().message);
    return;
  }
  // A partition the engine has no task for (a topic grown past the changelog's partitions
  // while running) stays unowned: not rewound, and not tried again.
  std::vector<int32_t> taken;
  for (int32_t p : tasks) {
    if (tasks_.owns(p)) {
      taken.push_back(p);
    } else {
      not_taken_.insert(p);
      log::warn(kComponent, "task ", p, ": the engine did not take it over; its partitions "
                "stay unread by it (is the topic larger than the changelog?)");
    }
  }
  if (taken.empty()) return;
  rd_kafka_t* rk = consumer_.get();
  rd_kafka_topic_partition_list_t* held = nullptr;
  if (rd_kafka_assignment(rk, &held) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    held = rd_kafka_topic_partition_list_new(0);
  }
  // Every partition of each task to where the engine resumes it: the ones still assigned are
  // sought (librdkafka drops what it fetched from the old position), the others assigned.
  rd_kafka_topic_partition_list_t* seek = rd_kafka_topic_partition_list_new(8);
  rd_kafka_topic_partition_list_t* add = rd_kafka_topic_partition_list_new(8);
  for (int32_t p : taken) {
    for (InTopic t : task_topics()) {
      const std::string& name = topics_.of(t);
      auto it = resumed.value().find({t, p});
      const int64_t offset = it != resumed.value().end() ? it->second : RD_KAFKA_OFFSET_BEGINNING;
      auto* to = rd_kafka_topic_partition_list_find(held, name.c_str(), p) != nullptr ? seek : add;
      rd_kafka_topic_partition_list_add(to, name.c_str(), p)->offset = offset;
    }
  }
  rd_kafka_topic_partition_list_destroy(held);
  Status failed = ok();
  if (add->cnt > 0) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, add); e != nullptr) {
      failed = make_error(Errc::kBroker, log::cat("cannot assign the partitions of tasks", list,
                                                  " taken back: ", rd_kafka_error_string(e)));
      rd_kafka_error_destroy(e);
    }
  }
  if (failed && seek->cnt > 0) {
    rd_kafka_error_t* e = rd_kafka_seek_partitions(rk, seek, 10'000);
    std::string why = e != nullptr ? rd_kafka_error_string(e) : std::string();
    if (e != nullptr) rd_kafka_error_destroy(e);
    for (int i = 0; i < seek->cnt && why.empty(); ++i) {
      if (seek->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        why = log::cat(seek->elems[i].topic, "[", seek->elems[i].partition, "]: ",
                       rd_kafka_err2str(seek->elems[i].err));
      }
    }
    if (!why.empty()) {
      failed = make_error(Errc::kBroker, log::cat("cannot rewind the partitions of tasks", list,
                                                  " taken back: ", why));
    }
  }
  if (!failed) {
    // The engine expects the records from where it resumed; the consumer would go on from
    // elsewhere: stop, and let the restart take the tasks from the changelog.
    task_error_ = failed;
    log::error(kComponent, failed.error().message);
  } else {
    for (int i = 0; i < add->cnt; ++i) {
      rd_kafka_topic_partition_list_add(seek, add->elems[i].topic, add->elems[i].partition);
    }
    hold_for_registry(seek);
    taken_back_.add(taken.size());
  }
  const bool assigned = add->cnt > 0;
  rd_kafka_topic_partition_list_destroy(seek);
  rd_kafka_topic_partition_list_destroy(add);
  if (assigned) refresh_assignment();  // a seek alone leaves the assignment as it was
}

void KafkaSource::hold_for_registry(const rd_kafka_topic_partition_list_t* added) {
  rd_kafka_topic_partition_list_t* others = rd_kafka_topic_partition_list_new(added->cnt);
  for (int i = 0; i < added->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = added->elems[i];
    if (input_topic(tp.topic) == InTopic::kRegistry) {
      registry_pending_.push_back(tp.partition);
    } else {
      rd_kafka_topic_partition_list_add(others, tp.topic, tp.partition);
    }
  }
  if (!registry_pending_.empty() && others->cnt > 0) {
    rd_kafka_pause_partitions(consumer_.get(), others);
    for (int i = 0; i < others->cnt; ++i) {
      held_.emplace_back(others->elems[i].topic, others->elems[i].partition);
    }
    hold_deadline_ns_ =
        RealClock::instance().steady_ns() + int64_t{kRegistryCatchUpMs} * 1'000'000;
    log::info(kComponent, "holding ", held_.size(), " input partitions until ",
              registry_pending_.size(), " registry partitions are read to their end");
  }
  rd_kafka_topic_partition_list_destroy(others);
}

void KafkaSource::registry_caught_up(int32_t partition) {
  std::erase(registry_pending_, partition);
  if (registry_pending_.empty()) release_held("the registry is read to its end");
}

void KafkaSource::release_held(const char* why) {
  if (held_.empty()) return;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(held_.size()));
  for (const auto& [topic, partition] : held_) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  }
  // Partitions no longer assigned report an error here, which is expected and harmless.
  rd_kafka_resume_partitions(consumer_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  log::info(kComponent, "resuming ", held_.size(), " input partitions: ", why);
  held_.clear();
  registry_pending_.clear();
}

void KafkaSource::refresh_assignment() {
  rd_kafka_topic_partition_list_t* current = nullptr;
  std::vector<std::pair<InTopic, int32_t>> owned;
  if (rd_kafka_assignment(consumer_.get(), &current) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < current->cnt; ++i) {
      if (auto topic = input_topic(current->elems[i].topic)) {
        owned.emplace_back(*topic, current->elems[i].partition);
      }
    }
    rd_kafka_topic_partition_list_destroy(current);
  }
  log::info(kComponent, "rebalance: ", owned.size(), " input partitions assigned");
  std::lock_guard lock(assignment_mu_);
  assignment_ = std::move(owned);
}

std::optional<InTopic> KafkaSource::input_topic(std::string_view full_name) const {
  std::optional<InTopic> topic = parse_in_topic(topics_.strip(full_name));
  if (topic == InTopic::kClock) return std::nullopt;  // replay-only, never on Kafka
  if (topic == InTopic::kOrders && !routed_orders_) return std::nullopt;
  return topic;
}

}  // namespace vigil::ingest
