#include "engine/egress/sink.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <charconv>

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

void Sink::emit_serialized(OutTopic topic, std::string_view key, std::string_view bytes,
                           const OutputTag&) {
  auto msg = codec::new_message(topic);
  if (msg->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) emit(topic, key, *msg);
}

std::string format_tag(const OutputTag& tag) {
  std::string out(tag.instance);
  out += '/';
  out += std::to_string(tag.epoch);
  out += '/';
  out += std::to_string(tag.index);
  return out;
}

bool parse_tag(std::string_view value, std::string_view instance, uint64_t* epoch,
               uint32_t* index) {
  if (value.size() <= instance.size() + 1 || value.substr(0, instance.size()) != instance ||
      value[instance.size()] != '/') {
    return false;
  }
  std::string_view rest = value.substr(instance.size() + 1);
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  const char* p = rest.data();
  return std::from_chars(p, p + slash, *epoch).ec == std::errc() &&
         std::from_chars(p + slash + 1, p + rest.size(), *index).ec == std::errc();
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
