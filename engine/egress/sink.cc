#include "engine/egress/sink.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "engine/codec/codec.h"

namespace vigil::egress {

void append_output_line(std::string* out, OutTopic topic, std::string_view key,
                        const google::protobuf::Message& msg) {
  out->append(R"({"topic":")");
  out->append(name(topic));
  out->append(R"(","key":)");
  out->append(boost::json::serialize(boost::json::string(key)));
  out->append(R"(,"value":)");
  out->append(codec::to_json(msg));
  out->push_back('}');
}

void JsonLinesSink::emit(OutTopic topic, std::string_view key,
                         const google::protobuf::Message& msg) {
  append_output_line(out_, topic, key, msg);
  out_->push_back('\n');
}

void CollectingSink::emit(OutTopic topic, std::string_view key,
                          const google::protobuf::Message& msg) {
  std::lock_guard lock(mu_);
  records_.push_back({topic, std::string(key), codec::to_json(msg)});
}

std::vector<CapturedRecord> CollectingSink::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::vector<CapturedRecord> CollectingSink::of(OutTopic topic) const {
  std::lock_guard lock(mu_);
  std::vector<CapturedRecord> out;
  for (const auto& r : records_) {
    if (r.topic == topic) out.push_back(r);
  }
  return out;
}

}  // namespace vigil::egress
