#include "engine/runtime/outbox.h"

#include <charconv>

namespace vigil::runtime {
namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool get_bytes(std::string_view& in, std::string* out) {
  uint64_t n = 0;
  if (!get_varint(in, &n) || n > in.size()) return false;
  out->assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

void OwnerSink::emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) {
  // Internal topics (routed orders) are engine plumbing, not something the views show.
  if (observer_ != nullptr && !is_internal(topic)) observer_->emit(topic, key, msg);
  if (direct_ != nullptr) {
    direct_->emit(topic, key, msg);
    return;
  }
  OutRecord& r = records_.emplace_back();
  r.topic = topic;
  r.key.assign(key);
  msg.SerializeToString(&r.bytes);
  r.task = task_;
}

void OwnerSink::seal(std::vector<OutRecord>& out) {
  for (auto& r : records_) out.push_back(std::move(r));
  clear_keeping_recent(records_, recent_);
}

std::string encode_outbox(const std::vector<OutRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    out.push_back(static_cast<char>(r.topic));
    put_varint(out, r.key.size());
    out += r.key;
    put_varint(out, r.bytes.size());
    out += r.bytes;
  }
  return out;
}

bool decode_outbox(std::string_view value, std::vector<OutRecord>* records) {
  records->clear();
  while (!value.empty()) {
    const auto topic = static_cast<uint8_t>(value.front());
    value.remove_prefix(1);
    if (topic > static_cast<uint8_t>(OutTopic::kOrders)) return false;
    OutRecord& r = records->emplace_back();
    r.topic = static_cast<OutTopic>(topic);
    if (!get_bytes(value, &r.key) || !get_bytes(value, &r.bytes)) return false;
  }
  return true;
}

std::string encode_positions(const egress::OutputPositions& positions) {
  std::string out;
  for (const auto& [tp, offset] : positions) {
    out += name(tp.first);
    out += '/';
    out += std::to_string(tp.second);
    out += '=';
    out += std::to_string(offset);
    out += '\n';
  }
  return out;
}

egress::OutputPositions decode_positions(std::string_view value) {
  egress::OutputPositions out;
  while (!value.empty()) {
    const auto nl = value.find('\n');
    std::string_view line = value.substr(0, nl);
    value.remove_prefix(nl == std::string_view::npos ? value.size() : nl + 1);
    const auto slash = line.find('/');
    const auto eq = line.find('=');
    if (slash == std::string_view::npos || eq == std::string_view::npos || eq < slash) continue;
    auto topic = parse_out_topic(line.substr(0, slash));
    int32_t partition = 0;
    int64_t offset = 0;
    if (!topic ||
        std::from_chars(line.data() + slash + 1, line.data() + eq, partition).ec != std::errc() ||
        std::from_chars(line.data() + eq + 1, line.data() + line.size(), offset).ec != std::errc()) {
      continue;  // an unreadable line only widens the search (that partition from its start)
    }
    out[{*topic, partition}] = offset;
  }
  return out;
}

}  // namespace vigil::runtime
