#include "engine/api/tee_sink.h"

#include "engine/codec/codec.h"

namespace vigil::api {

void TeeSink::emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) {
  if (next_) next_->emit(topic, key, msg);
  views_.apply(topic, msg);
  if (topic == OutTopic::kReminders || topic == OutTopic::kDeadletter) return;
  if (!hub_.has_listeners()) return;
  PushMessage push;
  std::string json = R"({"topic":")";
  json.append(name(topic));
  json.append(R"(","value":)");
  json.append(codec::to_json(msg));
  json.push_back('}');
  push.json = std::make_shared<const std::string>(std::move(json));
  if (topic == OutTopic::kDispatch) {
    push.agency_id = static_cast<const vigil::v1::DispatchOffer&>(msg).agency_id();
  } else if (topic == OutTopic::kTracking) {
    push.agency_id = static_cast<const vigil::v1::OrderEvent&>(msg).agency_id();
  } else {
    push.operators_only = true;
  }
  hub_.publish(std::move(push));
}

}  // namespace vigil::api
