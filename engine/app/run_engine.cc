#include "engine/app/run_engine.h"

#include <iostream>
#include <thread>

#include "engine/core/clock.h"
#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/egress/kafka_changelog.h"
#include "engine/egress/kafka_sink.h"
#include "engine/ingest/agency_regions.h"
#include "engine/ingest/kafka_source.h"
#include "engine/rules/rule_set.h"
#include "engine/app/signals.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/rules_watcher.h"
#include "engine/runtime/shard_core.h"
#include "engine/api/api_service.h"
#include "engine/api/input_producer.h"
#include "engine/api/views_rebuild.h"
#include "engine/dispatch/order_history.h"

#include <mutex>

namespace vigil::app {

void print_summary(std::ostream& out, const char* label) {
  const Metrics& m = metrics();
  out << label << ": events in " << m.events_in.get() << ", alarms raised " << m.alarms_raised.get()
      << " (repeats " << m.alarm_repeats.get() << ", cleared " << m.alarms_cleared.get()
      << "), orders created " << m.orders_created.get() << ", dispatched " << m.orders_offered.get()
      << ", accepted " << m.orders_accepted.get() << ", completed " << m.orders_completed.get()
      << ", escalated " << m.orders_escalated.get() << ", deadletters " << m.deadletters.get()
      << ", checkpoints " << m.checkpoints.get() << std::endl;
}

namespace {
//! Task mode: the source's rebalances take tasks over and hand them over through the engine.
ingest::TaskHooks task_hooks(runtime::Engine& engine) {
  ingest::TaskHooks hooks;
  if (!engine.task_mode()) return hooks;
  hooks.assign = [&engine](const std::vector<int32_t>& tasks) { return engine.assign_tasks(tasks); };
  hooks.revoke = [&engine](const std::vector<int32_t>& tasks, bool lost) {
    return engine.revoke_tasks(tasks, lost);
  };
  hooks.owns = [&engine](int32_t task) { return engine.owns_task(task); };
  return hooks;
}
}  // namespace

int run_engine(const Settings& s, std::atomic<bool>& stop, std::ostream& out) {
  if (s.brokers.empty()) {
    std::cerr << "vigil: --brokers (or brokers: in --config) is required\n";
    return 2;
  }
  auto loaded = rules::load_rule_dir(s.rules_dir);
  for (const auto& d : loaded.diagnostics) std::cerr << d.str() << "\n";
  if (!loaded.ok()) {
    std::cerr << "vigil: rules in " << s.rules_dir << " have errors; not starting\n";
    return 2;
  }
  const TopicNames topics(s.topic_prefix);
  auto sink = egress::KafkaSink::start(s.brokers, topics);
  if (!sink) {
    std::cerr << "vigil: " << sink.error().message << "\n";
    return 1;
  }
  // Tasks (docs/design.md "State that moves with its partition"): the changelog decides.
  std::unique_ptr<egress::KafkaChangelog> changelog;
  if (s.changelog) {
    if (!s.exactly_once || s.dispatch.routing != dispatch::Routing::kKafka) {
      std::cerr << "vigil: changelog: true needs exactly_once: true and dispatch.routing: kafka "
                   "(a task's outputs and its regions' dispatch move with it)\n";
      return 2;
    }
    auto log = egress::KafkaChangelog::start(s.brokers, topics);
    if (!log) {
      std::cerr << "vigil: " << log.error().message << "\n";
      return 1;
    }
    changelog = std::move(log).value();
  }
  runtime::EngineOptions eo;
  eo.task_log = changelog.get();
  eo.changelog_rewrite_bytes = static_cast<uint64_t>(s.changelog_rewrite_mb * (1 << 20));
  eo.shards = s.shards;
  eo.data_dir = s.data_dir;
  eo.commit_interval_ms = s.commit_interval_ms;
  eo.commit_max_busy = s.commit_max_busy;
  eo.commit_max_interval_ms = s.commit_max_interval_ms;
  eo.checkpoint_file_min_bytes = static_cast<uint64_t>(s.checkpoint_file_min_mb * (1 << 20));
  eo.pin_shards = s.pin_shards;
  eo.shard_nice = s.shard_nice;
  eo.exactly_once = s.exactly_once;
  eo.dispatch = s.dispatch;
  eo.max_out_of_order_ms = s.max_out_of_order_ms;
  eo.late_timer_ms = s.late_timer_ms;
  const Clock& clock = RealClock::instance();
  // Routed dispatch (docs/design.md "Several instances"): agency updates go to the owner of
  // their agency's region, found in the whole registry by a consumer of its own.
  const bool routed = s.dispatch.routing == dispatch::Routing::kKafka;
  std::unique_ptr<ingest::AgencyRegions> agency_regions;
  if (routed) {
    auto regions = ingest::AgencyRegions::start(s.brokers, topics);
    if (!regions) {
      std::cerr << "vigil: " << regions.error().message << "\n";
      return 1;
    }
    agency_regions = std::move(regions).value();
    eo.agency_region = [r = agency_regions.get()](const std::string& id) { return r->region_of(id); };
  }

  // The console and HTTP API (engine/api): a tee in front of the Kafka sink feeds its views;
  // operator and agency actions go to the calls and agency topics like any other input.
  std::atomic<bool> ready{false};
  std::mutex rules_mu;
  std::shared_ptr<const rules::RuleSet> current_rules = loaded.rules;
  std::shared_ptr<const rules::RuleSet> pending_rules;
  const state::StateStore* store = nullptr;
  api::ApiHooks hooks;
  auto inputs = api::InputProducer::start(s.brokers, topics);
  if (!inputs) {
    std::cerr << "vigil: " << inputs.error().message << "\n";
    return 1;
  }
  inputs.value()->attach(hooks);
  hooks.ready = [&] { return ready.load(); };
  hooks.rules = [&] {
    std::lock_guard lock(rules_mu);
    return current_rules;
  };
  hooks.reload_rules = [&] {  // io thread: validate here, swap on the main loop
    auto r = rules::load_rule_dir(s.rules_dir);
    if (r.ok()) {
      std::lock_guard lock(rules_mu);
      pending_rules = r.rules;
    }
    return r;
  };
  hooks.find_order = [&](const std::string& id) -> Result<std::optional<vigil::state::OrderRecord>> {
    if (store == nullptr) return std::optional<vigil::state::OrderRecord>();
    return dispatch::find_order(*store, id);
  };
  hooks.find_elder = [&](const std::string& id) -> std::optional<vigil::state::ElderRecord> {
    if (store == nullptr) return std::nullopt;
    return runtime::read_elder_record(*store, id);  // p/ (profile) + e/ (rule and alarm state)
  };
  api::ApiConfig ac;
  ac.http = s.http;
  ac.static_dir = s.console_dir;
  ac.tokens = s.tokens;
  api::ApiService api(ac, hooks, clock);
  // The API's views see each output when it is made; Kafka gets it once its checkpoint is
  // durable (exactly-once delivery, engine/state/README.md).
  auto views = api.make_tee(nullptr);
  eo.observer = views.get();

  // The views are in memory: rebuild them from the tail of the output topics before the
  // engine emits, so the console shows the open alarms and recent orders after a restart.
  const bool http_on = !s.http.empty() && s.http != "off";
  if (auto rebuilt = http_on ? api::rebuild_views(s.brokers, topics, api.views())
                             : Result<api::RebuildStats>(api::RebuildStats{});
      rebuilt) {
    if (rebuilt.value().records > 0) {
      out << "console: views rebuilt from " << rebuilt.value().records << " output records"
          << std::endl;
    }
  } else {
    std::cerr << "vigil: console views start partial: " << rebuilt.error().message << "\n";
  }
  runtime::Engine engine(eo, loaded.rules, *sink.value(), clock);
  if (auto st = engine.start(); !st) {
    std::cerr << "vigil: " << st.error().message << "\n";
    return 1;
  }
  store = engine.store();
  if (!s.http.empty() && s.http != "off") {
    if (auto st = api.start(); !st) {
      std::cerr << "vigil: " << st.error().message << "\n";
      return 1;
    }
    out << "console: http://" << s.http.substr(0, s.http.rfind(':')) << ":" << api.port()
        << "/?token=<token> (" << ac.tokens.size() << " tokens)" << std::endl;
  }
  // The elder page's latest vitals: the API's own telemetry consumer (engine/api/vitals.h),
  // destroyed before `api`. Without it the console still works, without vitals.
  std::unique_ptr<api::VitalsFeed> vitals_feed;
  if (!s.http.empty() && s.http != "off") {
    auto feed = api::VitalsFeed::start(s.brokers, topics, api.vitals());
    if (feed) {
      vitals_feed = std::move(feed).value();
    } else {
      std::cerr << "vigil: console vitals off: " << feed.error().message << "\n";
    }
  }
  // Where an assigned partition starts: the engine's position, not the start-up snapshot. A
  // rebalance within the run (a broker outage longer than a heartbeat or two revokes and
  // re-assigns every partition) must not read again what the engine's state already holds:
  // that doubled outputs (tests/fault/broker_down_test.cc). Called on this (the ingest) thread
  // from inside poll_batch().
  auto source = ingest::KafkaSource::start(
      s.brokers, s.group_id, topics, {},
      [&engine](InTopic t, int32_t p) -> std::optional<int64_t> {
        const auto& at = engine.submitted_offsets();
        auto it = at.find({t, p});
        if (it == at.end()) return std::nullopt;
        return it->second;
      },
      routed, task_hooks(engine));
  if (!source) {
    std::cerr << "vigil: " << source.error().message << "\n";
    return 1;
  }
  // A zombie (an instance the group moved on from without its knowing) must write nothing
  // more of its tasks: the group's coordinator says who owns them (docs/design.md).
  if (engine.task_mode()) engine.set_task_fence(source.value().get());
  out << "engine: " << loaded.rules->rules().size() << " rules from " << s.rules_dir << ", "
      << s.shards << " shards, state in " << s.data_dir << ", brokers " << s.brokers
      << ", outputs " << (s.exactly_once ? "exactly-once (sent after their checkpoint)"
                                         : "at once (at-least-once across a crash)")
      << (routed ? ", dispatch routed by region through " + topics.of(InTopic::kOrders) : "")
      << (changelog ? ", " + std::to_string(changelog->partitions()) + " tasks with their state in " +
                          topics.changelog()
                    : "")
      << std::endl;

  // Hot reload: SIGHUP, or a changed file in the rules directory (checked every rules_poll_s).
  auto& reload_requested = install_reload_signal();
  runtime::RulesWatcher watcher(s.rules_dir);
  const int64_t poll_ns = static_cast<int64_t>(s.rules_poll_s * 1e9);

  const int64_t start_ns = clock.steady_ns();
  int64_t next_rules_check_ns = start_ns + poll_ns;
  int64_t next_progress_ns = start_ns + static_cast<int64_t>(s.progress_s * 1e9);
  std::vector<InputRecord> batch;
  int exit_code = 0;
  uint64_t last_events = 0;
  while (!stop.load()) {
    const int64_t now_ns = clock.steady_ns();
    if (s.duration_s > 0 && now_ns - start_ns >= static_cast<int64_t>(s.duration_s * 1e9)) break;
    size_t n = source.value()->poll_batch(batch, 4096, 20);
    if (const Status& t = source.value()->task_error(); !t) {
      std::cerr << "vigil: " << t.error().message << "; stopping\n";
      exit_code = 1;
      break;
    }
    for (size_t i = 0; i < n; ++i) engine.submit(batch[i]);
    if (auto st = engine.maybe_checkpoint(); !st) {
      std::cerr << "vigil: " << st.error().message << "; stopping\n";
      exit_code = 1;
      break;
    }
    ready.store(true);
    {
      std::shared_ptr<const rules::RuleSet> next;
      {
        std::lock_guard lock(rules_mu);
        next.swap(pending_rules);
      }
      if (next) {  // a reload asked for through the API, validated on its thread
        engine.reload(next);
        std::lock_guard lock(rules_mu);
        current_rules = next;
      }
    }
    const bool hup = reload_requested.exchange(false);
    if (hup || (poll_ns > 0 && now_ns >= next_rules_check_ns)) {
      next_rules_check_ns = now_ns + poll_ns;
      const uint64_t refused = watcher.refusals();
      if (auto next = watcher.poll(hup)) {
        engine.reload(next);
        {
          std::lock_guard lock(rules_mu);
          current_rules = next;
        }
        out << "engine: rules reloaded from " << s.rules_dir << " (" << next->rules().size()
            << " rules)" << std::endl;
      } else if (watcher.refusals() != refused) {
        // The watcher logged every error as file:line:col.
        out << "engine: new rules in " << s.rules_dir << " refused; the previous rules stay in force"
            << std::endl;
      }
    }
    if (s.progress_s > 0 && now_ns >= next_progress_ns) {
      const uint64_t events = metrics().events_in.get();
      out << "progress: " << static_cast<int>((now_ns - start_ns) / 1e9) << " s, "
          << static_cast<uint64_t>((events - last_events) / s.progress_s) << " events/s, ";
      last_events = events;
      print_summary(out, "total");
      next_progress_ns += static_cast<int64_t>(s.progress_s * 1e9);
    }
  }
  out << "engine: stopping (final checkpoint)" << std::endl;
  ready.store(false);
  if (auto st = engine.stop(); !st) {
    std::cerr << "vigil: " << st.error().message << "\n";
    exit_code = 1;
  }
  vitals_feed.reset();
  api.stop();
  (void)source.value()->close();
  if (auto st = sink.value()->flush(10'000); !st) {
    std::cerr << "vigil: " << st.error().message << "\n";
    exit_code = 1;
  }
  print_summary(out, "summary");
  out << engine.answer_times().str();
  return exit_code;
}

}  // namespace vigil::app
