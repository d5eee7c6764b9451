// GET /api/alarms, /api/alarms/{id} and the alarm actions, through a real client.

#include "engine/api/tests/server_fixture.h"

namespace vigil::api {
namespace {

// --- alarms -----------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsAlarmsInQueueOrderWithFilters) {
  Reply r = get("/api/alarms");
  ASSERT_EQ(r.status, 200);
  auto items = r.json().at("alarms").as_array();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].at("alarm_id"), "a1");
  EXPECT_EQ(items[0].at("severity"), "CRITICAL");
  EXPECT_EQ(get("/api/alarms?severity=minor").json().at("alarms").as_array().size(), 1u);
  EXPECT_EQ(get("/api/alarms?status=ACTIVE_UNACK").json().at("alarms").as_array().size(), 1u);
  EXPECT_EQ(get("/api/alarms?elder_id=e2").json().at("alarms").at(0).at("alarm_id"), "a2");
  EXPECT_EQ(get("/api/alarms?rule_id=fever").json().at("alarms").at(0).at("alarm_id"), "a2");
  EXPECT_EQ(get("/api/alarms?severity=LOUD").status, 400);
  EXPECT_EQ(get("/api/alarms?status=SLEEPING").status, 400);
}

TEST_F(ApiServerTest, OneAlarmWithHistory) {
  tee_->emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::ACTIVE_UNACK, kT0 - 5000, kT0 - 1000));
  Reply r = get("/api/alarms/a1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("alarm_id"), "a1");
  EXPECT_EQ(r.json().at("history").as_array().size(), 2u);
  EXPECT_EQ(get("/api/alarms/nope").status, 404);
}

TEST_F(ApiServerTest, AlarmActionsBecomeCallEvents) {
  Reply ack = post("/api/alarms/a1/ack", R"({"note":"calling her"})");
  ASSERT_EQ(ack.status, 202) << ack.body;
  Reply assign = post("/api/alarms/a1/assign", R"({"assignee":"nurse-7"})");
  ASSERT_EQ(assign.status, 202) << assign.body;
  ASSERT_EQ(post("/api/alarms/a1/escalate", "").status, 202);
  ASSERT_EQ(post("/api/alarms/a1/clear", R"({"resolution":"false_alarm"})").status, 202);
  auto c = calls();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].elder_id(), "e1");
  EXPECT_EQ(c[0].operator_id(), "demo-operator");
  EXPECT_EQ(c[0].alarm_action().alarm_id(), "a1");
  EXPECT_EQ(c[0].alarm_action().rule_id(), "sos");
  EXPECT_EQ(c[0].alarm_action().action(), vigil::v1::AlarmAction::ACK);
  EXPECT_EQ(c[0].alarm_action().note(), "calling her");
  EXPECT_EQ(to_ms(c[0].ts()), kT0);
  EXPECT_EQ(c[1].alarm_action().action(), vigil::v1::AlarmAction::ASSIGN);
  EXPECT_EQ(c[1].alarm_action().assignee(), "nurse-7");
  EXPECT_EQ(c[2].alarm_action().action(), vigil::v1::AlarmAction::ESCALATE);
  EXPECT_EQ(c[3].alarm_action().action(), vigil::v1::AlarmAction::CLEAR);
  EXPECT_EQ(c[3].alarm_action().resolution(), "false_alarm");
  EXPECT_NE(c[0].call_id(), c[1].call_id());
  EXPECT_EQ(json::value_to<std::string>(ack.json().at("call").at("call_id")), c[0].call_id());
}

TEST_F(ApiServerTest, AlarmActionErrors) {
  EXPECT_EQ(post("/api/alarms/nope/ack", "{}").status, 404);
  EXPECT_EQ(post("/api/alarms/a1/ack", "{not json").status, 400);
  EXPECT_EQ(post("/api/alarms/a1/ack", R"({"colour":"red"})").status, 400);
  EXPECT_EQ(post("/api/alarms/a1/assign", "{}").status, 400);
  EXPECT_EQ(post("/api/alarms/a2/ack", "{}").status, 409);  // already acknowledged
  tee_->emit(OutTopic::kAlarms, "e1", alarm("a1", "e1", vigil::v1::CRITICAL, vigil::v1::CLOSED, kT0 - 5000, kT0));
  EXPECT_EQ(post("/api/alarms/a1/clear", "{}").status, 409);
  fail_submit_ = true;
  Reply down = post("/api/alarms/a2/escalate", "{}");
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.error().find("broker down"), std::string::npos);
  EXPECT_TRUE(calls().empty());
}

}  // namespace
}  // namespace vigil::api
