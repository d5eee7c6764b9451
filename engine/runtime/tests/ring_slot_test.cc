// How a record is copied into a ring slot (ring_slot.h): the slot's buffers are kept between
// records, except one grown past kSlotKeepBytes, which is given back at the next small record.

#include "engine/runtime/ring_slot.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/pipeline/spsc_ring.h"

namespace vigil::runtime {
namespace {

InputRecord record(size_t payload_bytes, int64_t offset) {
  InputRecord r;
  r.topic = InTopic::kCalls;
  r.partition = 3;
  r.offset = offset;
  r.key = "elder-0000042";
  r.payload.assign(payload_bytes, 'p');
  r.format = codec::Format::kJson;
  r.ingest_ns = 77;
  return r;
}

void expect_same(const InputRecord& a, const InputRecord& b) {
  EXPECT_EQ(a.topic, b.topic);
  EXPECT_EQ(a.partition, b.partition);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.ingest_ns, b.ingest_ns);
}

TEST(RingSlot, ARecordUpToTheReserveGoesIntoTheSlotsOwnBuffer) {
  InputRecord slot;
  reserve_slot(slot);
  ASSERT_GE(slot.payload.capacity(), kSlotPayloadBytes);
  const char* buffer = slot.payload.data();
  for (size_t bytes : {48u, 100u, 1u, 128u}) {
    const InputRecord r = record(bytes, static_cast<int64_t>(bytes));
    copy_to_slot(r, slot);
    expect_same(slot, r);
    EXPECT_EQ(slot.payload.data(), buffer) << bytes << " bytes moved the slot's buffer";
  }
}

TEST(RingSlot, ABufferGrownByAHugeRecordIsGivenBackAtTheNextSmallOne) {
  InputRecord slot;
  reserve_slot(slot);
  const InputRecord huge = record(1 << 20, 1);
  copy_to_slot(huge, slot);
  expect_same(slot, huge);
  EXPECT_GE(slot.payload.capacity(), size_t{1} << 20);
  const InputRecord small = record(60, 2);
  copy_to_slot(small, slot);
  expect_same(slot, small);
  EXPECT_LE(slot.payload.capacity(), kSlotKeepBytes);
  EXPECT_GE(slot.payload.capacity(), kSlotPayloadBytes);
}

TEST(RingSlot, ABufferUpToTheKeepBoundStaysForTheNextRecords) {
  InputRecord slot;
  reserve_slot(slot);
  copy_to_slot(record(kSlotKeepBytes, 1), slot);
  const char* buffer = slot.payload.data();
  const size_t capacity = slot.payload.capacity();
  const InputRecord small = record(60, 2);
  copy_to_slot(small, slot);
  expect_same(slot, small);
  EXPECT_EQ(slot.payload.data(), buffer);
  EXPECT_EQ(slot.payload.capacity(), capacity);
}

TEST(RingSlot, TheRingRunsTheInitialiserOnEverySlot) {
  pipeline::SpscRing<InputRecord> ring(8, [](InputRecord& r) { reserve_slot(r); });
  for (int lap = 0; lap < 2; ++lap) {
    for (size_t i = 0; i < ring.capacity(); ++i) {
      InputRecord* slot = ring.try_claim();
      ASSERT_NE(slot, nullptr);
      EXPECT_GE(slot->payload.capacity(), kSlotPayloadBytes) << "slot " << i;
      ring.publish();
    }
    while (ring.front() != nullptr) ring.pop();
  }
}

}  // namespace
}  // namespace vigil::runtime
