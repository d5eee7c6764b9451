// /metrics: the Prometheus text exposition format (version 0.0.4).

#include <cstdio>
#include <string>

#include "engine/api/routes.h"
#include "engine/core/metrics.h"

namespace vigil::api {

namespace {

class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", value);
    out_.append(buf);
  }
  void one(std::string_view name, std::string_view type, std::string_view help, double value) {
    family(name, type, help);
    sample(name, {}, value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + std::string(value) + "\"";
}

}  // namespace

std::string render_metrics(const ApiContext& ctx) {
  const Metrics& m = metrics();
  Exposition x;
  x.one("vigil_events_in_total", "counter", "Input records taken from every topic.", m.events_in.get());
  x.one("vigil_records_out_total", "counter", "Output records handed to egress.", m.records_out.get());
  x.one("vigil_deadletters_total", "counter", "Inputs that could not be used.", m.deadletters.get());
  x.one("vigil_alarms_raised_total", "counter", "New alarms (not repeats).", m.alarms_raised.get());
  x.one("vigil_alarm_repeats_total", "counter", "Repeats of an active alarm.", m.alarm_repeats.get());
  x.one("vigil_alarms_cleared_total", "counter", "Alarms cleared.", m.alarms_cleared.get());
  x.one("vigil_orders_created_total", "counter", "Orders created.", m.orders_created.get());
  x.one("vigil_orders_offered_total", "counter", "Offers sent (every attempt).", m.orders_offered.get());
  x.one("vigil_orders_accepted_total", "counter", "Orders accepted by an agency.", m.orders_accepted.get());
  x.one("vigil_orders_completed_total", "counter", "Orders completed.", m.orders_completed.get());
  x.one("vigil_orders_escalated_total", "counter", "Orders escalated to an operator.", m.orders_escalated.get());
  x.one("vigil_checkpoints_total", "counter", "RocksDB commits of state and offsets.", m.checkpoints.get());
  x.one("vigil_checkpoint_bytes_total", "counter", "Bytes the checkpoints wrote to RocksDB.",
        m.checkpoint_bytes.get());
  x.one("vigil_checkpoint_write_seconds_total", "counter",
        "Time in RocksDB's write of the checkpoints (WAL and memtables).",
        static_cast<double>(m.checkpoint_write_us.get()) / 1e6);
  x.one("vigil_checkpoint_files_total", "counter",
        "Checkpoints written to RocksDB as one ingested table file (the large ones) rather than "
        "a WAL batch.",
        m.checkpoint_files.get());
  x.one("vigil_checkpoint_snapshot_seconds_total", "counter",
        "Time from each checkpoint's barrier until every shard and the dispatcher had taken its "
        "snapshot.",
        static_cast<double>(m.checkpoint_snapshot_us.get()) / 1e6);
  x.one("vigil_checkpoint_durable_seconds_total", "counter",
        "Time from each checkpoint's barrier until it was durable and its outputs handed to "
        "Kafka (how long an exactly-once output waits at most, beyond the interval).",
        static_cast<double>(m.checkpoint_durable_us.get()) / 1e6);
  x.one("vigil_timers_fired_total", "counter", "Rule and workflow timers fired.", m.timers_fired.get());

  ViewCounters c = ctx.views.counters();
  x.family("vigil_output_records_total", "counter", "Output records seen by the API, by topic.");
  for (OutTopic t : kOutputs) {
    x.sample("vigil_output_records_total", label("topic", name(t)), c.records_out[static_cast<size_t>(t)]);
  }
  x.family("vigil_alarms", "gauge",
           "Alarms by severity and status: open statuses now, CLOSED since start.");
  for (int s = vigil::v1::CRITICAL; s <= vigil::v1::WARNING; ++s) {
    for (int st = vigil::v1::ACTIVE_UNACK; st <= vigil::v1::CLOSED; ++st) {
      x.sample("vigil_alarms",
               label("severity", vigil::v1::Severity_Name(static_cast<vigil::v1::Severity>(s))) + "," +
                   label("status", vigil::v1::AlarmStatus_Name(static_cast<vigil::v1::AlarmStatus>(st))),
               c.alarms_by_severity_status[s][st]);
    }
  }
  x.family("vigil_alarms_active", "gauge", "Active alarms (acknowledged or not) by severity.");
  for (int s = vigil::v1::CRITICAL; s <= vigil::v1::WARNING; ++s) {
    x.sample("vigil_alarms_active",
             label("severity", vigil::v1::Severity_Name(static_cast<vigil::v1::Severity>(s))),
             c.active_by_severity[s]);
  }
  x.family("vigil_orders", "gauge",
           "Orders by state: open states now, finished states since start.");
  for (int s = vigil::v1::CREATED; s <= vigil::v1::FAILED; ++s) {
    x.sample("vigil_orders", label("state", vigil::v1::OrderState_Name(static_cast<vigil::v1::OrderState>(s))),
             c.orders_by_state[s]);
  }
  x.one("vigil_alarms_today", "gauge", "Alarms raised today (UTC).", c.alarms_today);
  x.one("vigil_orders_today", "gauge", "Orders created today (UTC).", c.orders_today);
  x.one("vigil_offer_acceptance_ratio", "gauge", "Accepted orders per offer sent.", c.acceptance_rate());
  x.one("vigil_order_on_time_ratio", "gauge", "Arrivals at or before the window end.", c.on_time_rate());
  x.family("vigil_alarm_answer_share", "gauge",
           "Share of alarms first acknowledged or cleared within the answer target.");
  x.sample("vigil_alarm_answer_share", label("target", "60s"), c.answer_share_60s());
  x.sample("vigil_alarm_answer_share", label("target", "180s"), c.answer_share_180s());
  x.family("vigil_agency_acceptance_ratio", "gauge", "Accepted orders per offer, by agency.");
  for (const auto& [id, a] : c.agencies) {
    x.sample("vigil_agency_acceptance_ratio", label("agency_id", id), a.acceptance_rate());
  }
  x.family("vigil_agency_on_time_ratio", "gauge", "Arrivals at or before the window end, by agency.");
  for (const auto& [id, a] : c.agencies) {
    x.sample("vigil_agency_on_time_ratio", label("agency_id", id), a.on_time_rate());
  }
  x.one("vigil_operator_tasks_total", "counter", "Operator tasks created.", c.tasks_total);

  ServerStats s = ctx.stats();
  x.one("vigil_http_requests_total", "counter", "HTTP requests answered.", s.http_requests);
  x.one("vigil_ws_clients", "gauge", "Connected WebSocket clients.", s.ws_clients);
  x.one("vigil_ws_sent_total", "counter", "WebSocket messages sent.", s.ws_sent);
  x.one("vigil_ws_dropped_total", "counter", "WebSocket messages dropped from full client queues.",
        s.ws_dropped);
  x.one("vigil_push_dropped_total", "counter", "Console updates dropped before the io thread took them.",
        s.push_dropped);

  if (ctx.hooks.gauges) {
    std::string last;
    for (const Gauge& g : ctx.hooks.gauges()) {
      if (g.name != last) x.family(g.name, g.counter ? "counter" : "gauge", g.help.empty() ? g.name : g.help);
      last = g.name;
      x.sample(g.name, g.labels, g.value);
    }
  }
  return x.take();
}

}  // namespace vigil::api
