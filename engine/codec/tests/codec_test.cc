#include "engine/codec/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

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

// The DeviceEvent fast path (decode_fast) against protobuf's own parser: whenever the fast path
// accepts bytes, its message must be exactly what protobuf makes of them; and it must accept the
// ordinary events the devices send.
vigil::v1::DeviceEvent random_event(std::mt19937_64& rng) {
  vigil::v1::DeviceEvent e;
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  if (pick(4) != 0) e.set_event_id("ev-" + std::to_string(rng() % 100000));
  if (pick(8) != 0) e.set_device_id("dev-" + std::to_string(pick(1000)));
  if (pick(8) != 0) e.set_elder_id("e" + std::to_string(pick(100000)));
  if (pick(8) != 0) e.set_type(pick(2) ? "heart_rate" : "sos");
  if (pick(2) != 0) e.set_value(static_cast<double>(pick(2000)) / 10.0 - 50);
  if (pick(3) == 0) e.set_value2(pick(200));
  if (pick(4) == 0) e.set_lat(31.2 + pick(1000) / 1e4);
  if (pick(4) == 0) e.set_lon(121.4 + pick(1000) / 1e4);
  if (pick(6) != 0) {
    e.mutable_ts()->set_seconds(1'767'225'600 + pick(1'000'000));
    if (pick(2) != 0) e.mutable_ts()->set_nanos(pick(1'000'000'000));
  }
  if (pick(3) == 0) e.set_seq(rng());
  return e;
}

TEST(CodecFast, DecodesWhatDevicesSendExactlyAsProtobuf) {
  std::mt19937_64 rng(7);
  vigil::v1::DeviceEvent fast;  // reused, as a shard reuses its decode buffer
  for (int i = 0; i < 5000; ++i) {
    const vigil::v1::DeviceEvent e = random_event(rng);
    const std::string bytes = e.SerializeAsString();
    ASSERT_TRUE(decode_fast(bytes, &fast)) << e.ShortDebugString();
    EXPECT_EQ(fast.SerializeAsString(), bytes) << e.ShortDebugString();
    EXPECT_EQ(fast.has_ts(), e.has_ts());
    ASSERT_TRUE(decode(bytes, Format::kBinary, &fast));
    EXPECT_EQ(fast.SerializeAsString(), bytes);
  }
}

TEST(CodecFast, AcceptsOnlyWhatProtobufAcceptsAndAgreesOnIt) {
  // Mutated events: flipped bytes, cut tails, appended fields. The fast path may decline any of
  // them; what it accepts, protobuf must accept with the same message.
  std::mt19937_64 rng(11);
  vigil::v1::DeviceEvent fast, slow;
  int accepted = 0, declined = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = random_event(rng).SerializeAsString();
    switch (rng() % 4) {
      case 0:
        if (!bytes.empty()) bytes[rng() % bytes.size()] = static_cast<char>(rng());
        break;
      case 1:
        if (!bytes.empty()) bytes.resize(rng() % bytes.size());
        break;
      case 2:
        bytes += random_event(rng).SerializeAsString();  // fields repeated: the last one wins
        break;
      default:
        bytes.push_back(static_cast<char>(rng()));
        bytes.push_back(static_cast<char>(rng()));
    }
    const bool ok_fast = decode_fast(bytes, &fast);
    const bool ok_slow = slow.ParseFromString(bytes);
    if (!ok_fast) {
      ++declined;
      // decode() then gives protobuf's verdict.
      EXPECT_EQ(static_cast<bool>(decode(bytes, Format::kBinary, &fast)), ok_slow);
      continue;
    }
    ++accepted;
    ASSERT_TRUE(ok_slow) << "fast path accepted bytes protobuf rejects, case " << i;
    EXPECT_EQ(fast.SerializeAsString(), slow.SerializeAsString()) << "case " << i;
    EXPECT_EQ(fast.has_ts(), slow.has_ts()) << "case " << i;
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(declined, 1000);
}

TEST(CodecFast, DeclinesWhatItCannotDecodeExactly) {
  vigil::v1::DeviceEvent e, out;
  e.set_elder_id("e1");
  e.set_type("sos");
  e.mutable_ts()->set_seconds(1'767'225'600);
  const std::string base = e.SerializeAsString();
  // ts twice: protobuf merges the two, so it is protobuf's to parse.
  vigil::v1::DeviceEvent second;
  second.mutable_ts()->set_nanos(5);
  EXPECT_FALSE(decode_fast(base + second.SerializeAsString(), &out));
  // A field number the schema lacks (kept by protobuf as an unknown field).
  EXPECT_FALSE(decode_fast(base + std::string("\xa0\x06\x01", 3), &out));
  // A string that is not ASCII: protobuf checks its UTF-8.
  vigil::v1::DeviceEvent named = e;
  named.set_device_id("\xe9\x97\xa8");
  EXPECT_FALSE(decode_fast(named.SerializeAsString(), &out));
  // decode() still decodes all three, through protobuf.
  EXPECT_TRUE(decode(named.SerializeAsString(), Format::kBinary, &out));
  EXPECT_EQ(out.device_id(), "\xe9\x97\xa8");
  EXPECT_TRUE(decode(base + second.SerializeAsString(), Format::kBinary, &out));
  EXPECT_EQ(out.ts().nanos(), 5);
  EXPECT_EQ(out.ts().seconds(), 1'767'225'600);
}

}  // namespace
}  // namespace vigil::codec
