#include "engine/codec/codec.h"

#include <cmath>
#include <cstring>
#include <initializer_list>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "engine/codec/wire.h"

namespace vigil::codec {

namespace pb = google::protobuf;

Status decode(std::string_view payload, Format format, pb::Message* msg) {
  msg->Clear();
  if (payload.size() > kMaxRecordBytes) {
    return make_error(Errc::kInvalidInput, "record of " + std::to_string(payload.size()) +
                                               " bytes is over the limit of " +
                                               std::to_string(kMaxRecordBytes) + " bytes");
  }
  if (format == Format::kBinary) {
    if (!msg->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return make_error(Errc::kInvalidInput,
                        "not a valid " + msg->GetTypeName() + " in Protobuf wire format");
    }
    return ok();
  }
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(payload.data(), payload.size()),
                                              msg, options);
  if (!status.ok()) {
    return make_error(Errc::kInvalidInput,
                      "not a valid " + msg->GetTypeName() + " in JSON: " +
                          std::string(status.message()));
  }
  return ok();
}

namespace {

bool ascii(std::string_view s) {
  uint8_t any = 0;
  for (char c : s) any |= static_cast<uint8_t>(c);
  return any < 0x80;
}

double as_double(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

bool decode_timestamp(std::string_view b, google::protobuf::Timestamp* ts) {
  ts->set_seconds(0);
  ts->set_nanos(0);
  size_t at = 0;
  wire::Field f;
  while (at < b.size()) {
    if (!wire::next(b, &at, &f) || f.type != 0) return false;
    if (f.number == 1) ts->set_seconds(static_cast<int64_t>(f.value));
    else if (f.number == 2) ts->set_nanos(static_cast<int32_t>(f.value));
    else return false;
  }
  return true;
}

}  // namespace

bool decode_fast(std::string_view b, vigil::v1::DeviceEvent* e) {
  e->clear_event_id();  // clear_*() of a string keeps its buffer
  e->clear_device_id();
  e->clear_elder_id();
  e->clear_type();
  e->set_value(0);
  e->set_value2(0);
  e->set_lat(0);
  e->set_lon(0);
  e->set_seq(0);
  bool ts = false;
  size_t at = 0;
  wire::Field f;
  while (at < b.size()) {
    if (!wire::next(b, &at, &f)) return false;
    switch (f.number) {
      case 1:
      case 2:
      case 3:
      case 4: {
        if (f.type != 2 || !ascii(f.body)) return false;
        std::string* s = f.number == 1   ? e->mutable_event_id()
                         : f.number == 2 ? e->mutable_device_id()
                         : f.number == 3 ? e->mutable_elder_id()
                                         : e->mutable_type();
        s->assign(f.body);  // proto3: the last one wins
        break;
      }
      case 5:
      case 6:
      case 7:
      case 8: {
        if (f.type != 1) return false;
        const double d = as_double(f.value);
        if (f.number == 5) e->set_value(d);
        else if (f.number == 6) e->set_value2(d);
        else if (f.number == 7) e->set_lat(d);
        else e->set_lon(d);
        break;
      }
      case 9:  // a second ts would merge into the first: protobuf's business
        if (f.type != 2 || ts || !decode_timestamp(f.body, e->mutable_ts())) return false;
        ts = true;
        break;
      case 10:
        if (f.type != 0) return false;
        e->set_seq(f.value);
        break;
      default: return false;
    }
  }
  if (!ts) e->clear_ts();
  return true;
}

Status decode(std::string_view payload, Format format, vigil::v1::DeviceEvent* msg) {
  if (format == Format::kBinary && payload.size() <= kMaxRecordBytes && decode_fast(payload, msg)) {
    return ok();
  }
  Status s = decode(payload, format, static_cast<pb::Message*>(msg));
  // The fast path resets only the known fields of the reused message: drop the unknown ones
  // protobuf kept (nothing reads them; a dead letter carries the record's own bytes).
  msg->DiscardUnknownFields();
  return s;
}

namespace {
//! NaN and infinities parse (proto3 JSON takes "NaN" and "Infinity") but mean nothing: a NaN
//! reading compares false with every threshold and a NaN position breaks the agencies' R-tree.
Status check_finite(std::initializer_list<std::pair<const char*, double>> fields, const char* type) {
  for (const auto& [name, v] : fields) {
    if (!std::isfinite(v)) {
      return make_error(Errc::kInvalidInput,
                        std::string(type) + " " + name + " is not a finite number");
    }
  }
  return ok();
}

Status missing(const char* type, const char* field) {
  return make_error(Errc::kInvalidInput, std::string(type) + " lacks " + field);
}

//! Timestamps must lie in protobuf's range (years 1..9999, nanos 0..999999999): outside it
//! they cannot be printed as RFC 3339 and overflow engine time (found by tests/fuzz).
Status check_time(const google::protobuf::Timestamp& ts, const char* type, const char* field) {
  using google::protobuf::util::TimeUtil;
  if (ts.seconds() < TimeUtil::kTimestampMinSeconds || ts.seconds() > TimeUtil::kTimestampMaxSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return make_error(Errc::kInvalidInput, std::string(type) + " " + field +
                                               " is outside years 1..9999 (seconds " +
                                               std::to_string(ts.seconds()) + ", nanos " +
                                               std::to_string(ts.nanos()) + ")");
  }
  return ok();
}
}  // namespace

Status validate(const vigil::v1::DeviceEvent& e) {
  if (e.elder_id().empty()) return missing("DeviceEvent", "elder_id");
  if (e.type().empty()) return missing("DeviceEvent", "type");
  if (!e.has_ts()) return missing("DeviceEvent", "ts");
  if (auto s = check_finite({{"value", e.value()}, {"value2", e.value2()}, {"lat", e.lat()},
                             {"lon", e.lon()}},
                            "DeviceEvent");
      !s) {
    return s;
  }
  return check_time(e.ts(), "DeviceEvent", "ts");
}

Status validate(const vigil::v1::CallEvent& e) {
  if (e.call_id().empty()) return missing("CallEvent", "call_id");
  if (e.elder_id().empty()) return missing("CallEvent", "elder_id");
  if (!e.has_ts()) return missing("CallEvent", "ts");
  if (e.action_case() == vigil::v1::CallEvent::ACTION_NOT_SET) {
    return missing("CallEvent", "an action (service_request, alarm_action or order_action)");
  }
  if (auto s = check_time(e.ts(), "CallEvent", "ts"); !s) return s;
  if (e.has_service_request()) {
    const auto& sr = e.service_request();
    if (sr.has_window_start()) {
      if (auto s = check_time(sr.window_start(), "ServiceRequest", "window_start"); !s) return s;
    }
    if (sr.has_window_end()) {
      if (auto s = check_time(sr.window_end(), "ServiceRequest", "window_end"); !s) return s;
    }
  }
  return ok();
}

Status validate(const vigil::v1::AgencyUpdate& e) {
  if (e.agency_id().empty()) return missing("AgencyUpdate", "agency_id");
  if (e.order_id().empty()) return missing("AgencyUpdate", "order_id");
  if (!e.has_ts()) return missing("AgencyUpdate", "ts");
  if (e.status() == vigil::v1::AgencyUpdate::STATUS_UNSPECIFIED) {
    return missing("AgencyUpdate", "status");
  }
  if (auto s = check_time(e.ts(), "AgencyUpdate", "ts"); !s) return s;
  if (auto s = check_finite({{"lat", e.lat()}, {"lon", e.lon()}}, "AgencyUpdate"); !s) return s;
  if (e.has_eta()) return check_time(e.eta(), "AgencyUpdate", "eta");
  return ok();
}

Status validate(const vigil::v1::RegistryUpdate& e) {
  switch (e.entry_case()) {
    case vigil::v1::RegistryUpdate::kElder:
      if (e.elder().elder_id().empty()) return missing("Elder", "elder_id");
      for (const auto& [key, v] : e.elder().overrides()) {
        if (!std::isfinite(v)) {
          return make_error(Errc::kInvalidInput,
                            "Elder overrides['" + key + "'] is not a finite number");
        }
      }
      return check_finite({{"home_lat", e.elder().home_lat()},
                           {"home_lon", e.elder().home_lon()},
                           {"geofence_radius_m", e.elder().geofence_radius_m()}},
                          "Elder");
    case vigil::v1::RegistryUpdate::kDevice:
      if (e.device().device_id().empty()) return missing("Device", "device_id");
      if (e.device().elder_id().empty()) return missing("Device", "elder_id");
      return ok();
    case vigil::v1::RegistryUpdate::kAgency:
      if (e.agency().agency_id().empty()) return missing("Agency", "agency_id");
      return check_finite({{"lat", e.agency().lat()},
                           {"lon", e.agency().lon()},
                           {"rating", e.agency().rating()}},
                          "Agency");
    case vigil::v1::RegistryUpdate::ENTRY_NOT_SET:
      break;
  }
  return missing("RegistryUpdate", "an entry (elder, device or agency)");
}

std::string to_json(const pb::Message& msg) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  std::string out;
  if (!pb::util::MessageToJsonString(msg, &out, options).ok()) {
    return "null";  // e.g. a Timestamp out of range: valid JSON, never a half-printed object
  }
  return out;
}

std::unique_ptr<pb::Message> new_message(InTopic topic) {
  switch (topic) {
    case InTopic::kTelemetry: return std::make_unique<vigil::v1::DeviceEvent>();
    case InTopic::kCalls: return std::make_unique<vigil::v1::CallEvent>();
    case InTopic::kAgency: return std::make_unique<vigil::v1::AgencyUpdate>();
    case InTopic::kRegistry: return std::make_unique<vigil::v1::RegistryUpdate>();
    case InTopic::kClock: return nullptr;
    case InTopic::kOrders: return std::make_unique<vigil::v1::RoutedOrder>();
  }
  return nullptr;
}

std::unique_ptr<pb::Message> new_message(OutTopic topic) {
  switch (topic) {
    case OutTopic::kAlarms: return std::make_unique<vigil::v1::AlarmEvent>();
    case OutTopic::kDispatch: return std::make_unique<vigil::v1::DispatchOffer>();
    case OutTopic::kTracking: return std::make_unique<vigil::v1::OrderEvent>();
    case OutTopic::kOperator: return std::make_unique<vigil::v1::OperatorTask>();
    case OutTopic::kReminders: return std::make_unique<vigil::v1::Reminder>();
    case OutTopic::kDeadletter: return std::make_unique<vigil::v1::DeadLetter>();
    case OutTopic::kOrders: return std::make_unique<vigil::v1::RoutedOrder>();
  }
  return nullptr;
}

}  // namespace vigil::codec
