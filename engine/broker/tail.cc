#include "engine/broker/tail.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <memory>
#include <optional>
#include <random>
#include <string_view>

#include "engine/codec/codec.h"
#include "engine/codec/topics.h"
#include "engine/core/clock.h"
#include "engine/core/log.h"
#include "engine/egress/sink.h"

namespace vigil::broker {
namespace {

constexpr int kPollMs = 100;

//! The topic a tail reads: an input or an output topic.
struct TailTopic {
  std::optional<InTopic> in;
  std::optional<OutTopic> out;
};

std::optional<TailTopic> resolve(std::string_view topic, const TopicNames& names) {
  std::string_view bare = names.strip(topic);
  if (bare.empty()) bare = topic;
  if (auto out = parse_out_topic(bare)) return TailTopic{std::nullopt, out};
  if (auto in = parse_in_topic(bare); in && *in != InTopic::kClock) {
    return TailTopic{in, std::nullopt};
  }
  return std::nullopt;
}

std::string random_group_id() {
  std::random_device rd;
  std::uniform_int_distribution<uint64_t> dist;
  return log::cat("vigil-tail-", std::hex, dist(rd));
}

// The replay output form for input topics too, so every topic tails the same way.
void append_line(std::string* line, const TailTopic& topic, std::string_view key,
                 const google::protobuf::Message& msg) {
  if (topic.out) {
    egress::append_output_line(line, *topic.out, key, msg);
    return;
  }
  line->append(R"({"topic":")");
  line->append(name(*topic.in));
  line->append(R"(","key":)");
  line->append(boost::json::serialize(boost::json::string(key)));
  line->append(R"(,"value":)");
  line->append(codec::to_json(msg));
  line->push_back('}');
}

}  // namespace

int run_tail(const TailOptions& options) {
  const TopicNames names(options.topic_prefix);
  std::optional<TailTopic> topic = resolve(options.topic, names);
  if (!topic) {
    *options.err << "vigil tail: unknown topic '" << options.topic
                 << "' (one of telemetry, calls, agency, registry, alarms, dispatch, tracking, "
                    "operator, reminders, deadletter)\n";
    return 2;
  }
  const std::string full_name =
      topic->out ? names.of(*topic->out) : names.of(*topic->in);

  ConfMap settings = {
      {"bootstrap.servers", options.brokers},
      {"group.id", random_group_id()},
      {"isolation.level", "read_committed"},
      {"auto.offset.reset", options.from_beginning ? "earliest" : "latest"},
      // A throwaway group: nothing to resume from later.
      {"enable.auto.commit", "false"},
  };
  auto conf = make_conf(merged(std::move(settings), options.extra_conf));
  if (!conf) {
    *options.err << "vigil tail: " << conf.error().message << "\n";
    return 1;
  }
  auto client = make_client(RD_KAFKA_CONSUMER, std::move(conf).value());
  if (!client) {
    *options.err << "vigil tail: " << client.error().message << "\n";
    return 1;
  }
  rd_kafka_t* rk = client.value().get();
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* subscription = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subscription, full_name.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t sub_err = rd_kafka_subscribe(rk, subscription);
  rd_kafka_topic_partition_list_destroy(subscription);
  if (sub_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *options.err << "vigil tail: cannot subscribe to " << full_name << ": "
                 << rd_kafka_err2str(sub_err) << "\n";
    rd_kafka_consumer_close(rk);
    return 1;
  }

  std::unique_ptr<google::protobuf::Message> msg =
      topic->out ? codec::new_message(*topic->out) : codec::new_message(*topic->in);
  ErrorTally errors("tail");
  const RealClock& clock = RealClock::instance();
  const int64_t deadline_ns =
      options.duration_s > 0
          ? clock.steady_ns() + static_cast<int64_t>(options.duration_s * 1e9)
          : 0;
  size_t printed = 0;
  std::string line;
  while (true) {
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed)) break;
    if (options.max_records > 0 && printed >= options.max_records) break;
    if (deadline_ns > 0 && clock.steady_ns() >= deadline_ns) break;
    rd_kafka_message_t* rec = rd_kafka_consumer_poll(rk, kPollMs);
    if (rec == nullptr) continue;
    if (rec->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (rec->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) errors.record(rec->err, "tail consumer");
      rd_kafka_message_destroy(rec);
      continue;
    }
    std::string_view key = rec->key != nullptr
                               ? std::string_view(static_cast<const char*>(rec->key), rec->key_len)
                               : std::string_view();
    std::string_view payload =
        rec->payload != nullptr
            ? std::string_view(static_cast<const char*>(rec->payload), rec->len)
            : std::string_view();
    auto decoded = codec::decode(payload, codec::Format::kBinary, msg.get());
    if (!decoded) {
      *options.err << "vigil tail: skipping " << full_name << "[" << rec->partition << "]@"
                   << rec->offset << ": " << decoded.error().message << "\n";
    } else {
      line.clear();
      append_line(&line, *topic, key, *msg);
      line.push_back('\n');
      *options.out << line << std::flush;
      ++printed;
    }
    rd_kafka_message_destroy(rec);
  }
  rd_kafka_consumer_close(rk);
  return 0;
}

}  // namespace vigil::broker
