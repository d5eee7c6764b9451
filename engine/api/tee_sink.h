#pragma once
// The sink the engine writes to when the API runs: forwards every record to the real sink
// (Kafka), then folds it into the views and, if a console listens, queues its JSON for the
// WebSocket push. Never blocks on I/O or on clients.
//
// Thread-safe if the downstream sink is (KafkaSink is). Owned by the ApiService.

#include "engine/api/push_hub.h"
#include "engine/api/views.h"
#include "engine/egress/sink.h"

namespace vigil::api {

class TeeSink final : public egress::Sink {
 public:
  TeeSink(egress::Sink* next, ViewStore& views, PushHub& hub)
      : next_(next), views_(views), hub_(hub) {}

  void emit(OutTopic topic, std::string_view key, const google::protobuf::Message& msg) override;
  Status flush(int timeout_ms) override { return next_ ? next_->flush(timeout_ms) : ok(); }

 private:
  egress::Sink* next_;  // may be null: views only
  ViewStore& views_;
  PushHub& hub_;
};

}  // namespace vigil::api
