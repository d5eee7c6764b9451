#include "engine/runtime/replay.h"

#include <boost/json.hpp>
#include <google/protobuf/util/time_util.h>

#include "engine/core/time_util.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/shard_core.h"

namespace vigil::runtime {
namespace {

//! The event time a record carries, or nullopt if it has none (registry) or cannot be decoded.
std::optional<TimeMs> event_time(InTopic topic, const std::string& json) {
  auto msg = codec::new_message(topic);
  if (!msg || !codec::decode(json, codec::Format::kJson, msg.get())) return std::nullopt;
  const auto* d = msg->GetDescriptor()->FindFieldByName("ts");
  if (d == nullptr || !msg->GetReflection()->HasField(*msg, d)) return std::nullopt;
  const auto& ts = static_cast<const google::protobuf::Timestamp&>(msg->GetReflection()->GetMessage(*msg, d));
  return to_ms(ts);
}

//! The key a Kafka producer would have used: elder_id, order_id for agency, agency_id for
//! registry agencies.
std::string routing_key(InTopic topic, const boost::json::object& value) {
  auto get = [&](const char* a, const char* b) -> std::string {
    for (const char* k : {a, b}) {
      if (auto* v = value.if_contains(k); v && v->is_string()) return std::string(v->as_string());
    }
    return "";
  };
  switch (topic) {
    case InTopic::kAgency: return get("order_id", "orderId");
    case InTopic::kRegistry:
      for (const char* k : {"elder", "device", "agency"}) {
        if (auto* v = value.if_contains(k); v && v->is_object()) {
          const auto& o = v->as_object();
          const char* id = std::string_view(k) == "agency" ? "agency_id" : "elder_id";
          const char* camel = std::string_view(k) == "agency" ? "agencyId" : "elderId";
          for (const char* f : {id, camel}) {
            if (auto* x = o.if_contains(f); x && x->is_string()) return std::string(x->as_string());
          }
        }
      }
      return "";
    default: return get("elder_id", "elderId");
  }
}

}  // namespace

//! The most one record may move the replay clock forward (31 days: a month-long gap in a test
//! file is fine, years of timers firing at once are not).
constexpr TimeMs kMaxClockJumpMs = TimeMs{31} * 24 * 3600 * 1000;

ReplayStats replay(std::istream& in, std::shared_ptr<const rules::RuleSet> rules,
                   const dispatch::DispatchConfig& config, egress::Sink& sink) {
  ReplayStats stats;
  DispatchCore dispatch(config, sink);
  ShardCore shard(0, 1, std::move(rules), sink, dispatch);
  TimeMs now = 0;

  // Moves time to `t`, firing the shard's and the dispatcher's timers in due order.
  auto advance = [&](TimeMs t) {
    if (t <= now) return;
    for (;;) {
      TimeMs next = std::min(shard.next_due(), dispatch.next_due());
      if (next > t) break;
      if (shard.next_due() <= dispatch.next_due()) shard.advance_to(next);
      else dispatch.advance_to(next);
    }
    now = t;
    shard.advance_to(t);
    dispatch.advance_to(t);
  };

  std::string line;
  InputRecord rec;
  while (std::getline(in, line)) {
    ++stats.lines;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rec.partition = 0;
    rec.offset = static_cast<int64_t>(stats.lines);
    rec.format = codec::Format::kJson;
    rec.key.clear();

    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(line, ec);
    const boost::json::object* obj = (!ec && doc.is_object()) ? &doc.as_object() : nullptr;
    const boost::json::value* topic_v = obj ? obj->if_contains("topic") : nullptr;
    const boost::json::value* value_v = obj ? obj->if_contains("value") : nullptr;
    std::optional<InTopic> topic;
    if (topic_v && topic_v->is_string()) topic = parse_in_topic(std::string(topic_v->as_string()));
    if (!topic || !value_v || !value_v->is_object()) {
      ++stats.bad_lines;
      rec.topic = topic.value_or(InTopic::kTelemetry);
      rec.payload = line;
      std::string why = ec ? "line " + std::to_string(stats.lines) + " is not JSON: " + ec.message()
                            : "line " + std::to_string(stats.lines) +
                                  " is not {\"topic\": telemetry|calls|agency|registry|clock, \"value\": {...}}";
      emit_deadletter(sink, rec, why, now);
      continue;
    }
    rec.topic = *topic;
    if (*topic == InTopic::kClock) {
      const auto* ts = value_v->as_object().if_contains("ts");
      google::protobuf::Timestamp parsed;
      if (ts && ts->is_string() &&
          google::protobuf::util::TimeUtil::FromString(std::string(ts->as_string()), &parsed)) {
        const TimeMs t = to_ms(parsed);
        if (now != 0 && t - now > kMaxClockJumpMs) {
          ++stats.bad_lines;
          rec.payload = line;
          emit_deadletter(sink, rec, "clock record moves the clock more than 31 days ahead", now);
        } else {
          advance(t);
        }
      } else {
        ++stats.bad_lines;
        rec.payload = line;
        emit_deadletter(sink, rec, "clock record lacks an RFC 3339 ts", now);
      }
      continue;
    }
    rec.payload = boost::json::serialize(*value_v);
    rec.key = routing_key(*topic, value_v->as_object());
    // A device clock far ahead moves no timer: as in the live engine (whose timer clock is the
    // wall clock) the event is processed at the current clock. Otherwise one record dated 2100
    // fired every daily timer in between (53,938 reminders for one elder; fuzz_replay found a
    // year-4052 record that timed out). docs/operations.md, "Bad input".
    if (auto t = event_time(*topic, rec.payload); t && (now == 0 || *t - now <= kMaxClockJumpMs)) {
      advance(*t);
    }

    const bool to_dispatch =
        *topic == InTopic::kAgency ||
        (*topic == InTopic::kRegistry && value_v->as_object().contains("agency"));
    if (to_dispatch) dispatch.process(rec, now);
    else shard.process(rec, now);
  }
  stats.answers = shard.answer_times().report();
  return stats;
}

}  // namespace vigil::runtime
