#include "engine/codec/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace vigil::codec {
namespace {

TEST(Codec, DecodesJsonWithProtoAndCamelCaseNames) {
  vigil::v1::DeviceEvent e;
  ASSERT_TRUE(decode(R"({"elder_id":"e1","deviceId":"d1","type":"sos","ts":"2026-01-01T00:00:00Z"})",
                     Format::kJson, &e));
  EXPECT_EQ(e.elder_id(), "e1");
  EXPECT_EQ(e.device_id(), "d1");
  EXPECT_TRUE(validate(e));
}

TEST(Codec, RejectsFieldOfWrongTypeWithReason) {
  vigil::v1::DeviceEvent e;
  auto s = decode(R"({"elder_id":"e1","value":"high"})", Format::kJson, &e);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidInput);
  EXPECT_NE(s.error().message.find("vigil.v1.DeviceEvent"), std::string::npos);
}

TEST(Codec, RejectsUnknownJsonField) {
  vigil::v1::DeviceEvent e;
  EXPECT_FALSE(decode(R"({"elder_id":"e1","colour":"red"})", Format::kJson, &e));
}

TEST(Codec, RejectsOversizedRecordWithItsSize) {
  vigil::v1::DeviceEvent e;
  e.set_elder_id("e1");
  e.set_device_id(std::string(kMaxRecordBytes, 'd'));  // a valid message, but too large
  const std::string bytes = e.SerializeAsString();
  auto s = decode(bytes, Format::kBinary, &e);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::kInvalidInput);
  EXPECT_EQ(s.error().message, "record of " + std::to_string(bytes.size()) +
                                   " bytes is over the limit of 262144 bytes");
  EXPECT_TRUE(e.elder_id().empty());  // cleared, not half-filled
  EXPECT_FALSE(decode(std::string(kMaxRecordBytes, ' ') + "{}", Format::kJson, &e));
}

TEST(Codec, RejectsGarbageWireBytes) {
  vigil::v1::DeviceEvent e;
  EXPECT_FALSE(decode(std::string("\xff\xff\xff\xff", 4), Format::kBinary, &e));
}

TEST(Codec, ValidateNamesMissingField) {
  vigil::v1::DeviceEvent e;
  e.set_elder_id("e1");
  e.set_type("sos");
  auto s = validate(e);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "DeviceEvent lacks ts");
}

TEST(Codec, JsonUsesProtoFieldNamesAndEnumNames) {
  vigil::v1::AlarmEvent a;
  a.set_alarm_id("a1");
  a.set_severity(vigil::v1::CRITICAL);
  a.set_count(2);
  EXPECT_EQ(to_json(a), R"({"alarm_id":"a1","severity":"CRITICAL","count":2})");
}

TEST(Topics, PrefixAndStrip) {
  TopicNames names("x.");
  EXPECT_EQ(names.of(InTopic::kTelemetry), "x.telemetry");
  EXPECT_EQ(names.strip("x.alarms"), "alarms");
  EXPECT_EQ(names.strip("y.alarms"), "");
  EXPECT_EQ(parse_in_topic("clock"), InTopic::kClock);
  EXPECT_FALSE(parse_out_topic("nope"));
}

}  // namespace
}  // namespace vigil::codec

namespace vigil::codec {
namespace {

// Found by tests/fuzz/fuzz_decode: wire bytes may carry a Timestamp outside protobuf's range.
TEST(Codec, RejectsTimestampsOutsideTheValidRange) {
  vigil::v1::DeviceEvent e;
  e.set_elder_id("e1");
  e.set_type("sos");
  e.mutable_ts()->set_seconds(400'000'000'000);  // year ~14700
  auto s = validate(e);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("DeviceEvent ts is outside years 1..9999"), std::string::npos);
  e.mutable_ts()->set_seconds(0);
  e.mutable_ts()->set_nanos(-5);
  EXPECT_FALSE(validate(e));
  EXPECT_EQ(to_json(e), "null");  // never half-printed JSON
  e.mutable_ts()->set_nanos(0);
  EXPECT_TRUE(validate(e));
}

// NaN and infinities parse from JSON ("NaN", "Infinity") and from wire bytes; they are refused
// with the field named, so the record is dead-lettered instead of silently matching nothing.
TEST(Codec, RejectsReadingsAndPositionsThatAreNotFiniteNumbers) {
  vigil::v1::DeviceEvent e;
  ASSERT_TRUE(decode(R"({"elder_id":"e1","type":"heart_rate","value":"NaN","ts":"2026-03-01T08:00:00Z"})",
                     Format::kJson, &e));
  auto s = validate(e);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("DeviceEvent value is not a finite number"), std::string::npos);
  e.set_value(72);
  e.set_lon(std::numeric_limits<double>::infinity());
  s = validate(e);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("DeviceEvent lon"), std::string::npos);
  e.set_lon(121.47);
  EXPECT_TRUE(validate(e));

  vigil::v1::RegistryUpdate r;
  r.mutable_agency()->set_agency_id("a1");
  r.mutable_agency()->set_lat(std::nan(""));
  s = validate(r);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("Agency lat is not a finite number"), std::string::npos);
  vigil::v1::RegistryUpdate elder;
  elder.mutable_elder()->set_elder_id("e1");
  (*elder.mutable_elder()->mutable_overrides())["hr_high.threshold"] = std::nan("");
  s = validate(elder);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("overrides['hr_high.threshold']"), std::string::npos);
}

}  // namespace
}  // namespace vigil::codec
