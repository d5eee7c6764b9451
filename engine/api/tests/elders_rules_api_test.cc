// Elders, tasks, big-screen stats and rules endpoints, through a real client.

#include "engine/api/tests/server_fixture.h"

namespace vigil::api {
namespace {

// --- elders, tasks, stats ---------------------------------------------------------------------

TEST_F(ApiServerTest, ElderPageHasProfileDevicesAlarmsAndOrders) {
  Reply r = get("/api/elders/e1");
  ASSERT_EQ(r.status, 200);
  SCOPED_TRACE(r.body);
  auto j = r.json();
  EXPECT_EQ(j.at("profile").at("name"), "Wang Fang");
  EXPECT_EQ(j.at("devices").as_array().size(), 1u);
  EXPECT_EQ(j.at("active_alarms").at(0).at("alarm_id"), "a1");
  EXPECT_EQ(j.at("orders").at(0).at("order_id"), "o1");
  EXPECT_EQ(j.at("tasks").at(0).at("task_id"), "t1");
  EXPECT_EQ(get("/api/elders/e9").status, 200);  // registered, nothing happened yet
  EXPECT_EQ(get("/api/elders/nobody").status, 404);
}

vigil::v1::DeviceEvent reading(const std::string& elder, const std::string& type, double value,
                               TimeMs ts, double value2 = 0) {
  vigil::v1::DeviceEvent e;
  e.set_event_id(elder + "-" + type + "-" + std::to_string(ts));
  e.set_device_id(elder + "-d1");
  e.set_elder_id(elder);
  e.set_type(type);
  e.set_value(value);
  e.set_value2(value2);
  if (type == "location") {
    e.set_lat(31.2304);
    e.set_lon(121.4737);
  }
  set_ts(e.mutable_ts(), ts);
  return e;
}

TEST_F(ApiServerTest, ElderPageHasTheLatestVitals) {
  VitalsStore& v = service_->vitals();
  v.apply(reading("e1", "heart_rate", 71, kT0 - 2000));
  v.apply(reading("e1", "heart_rate", 88, kT0 - 1000));
  v.apply(reading("e1", "heart_rate", 60, kT0 - 3000));  // late: does not replace the newer one
  v.apply(reading("e1", "blood_pressure", 135, kT0 - 1500, 85));
  for (const char* t : {"spo2", "body_temperature", "respiration_rate", "battery", "location"}) {
    v.apply(reading("e1", t, 42, kT0 - 500));
  }
  v.apply(reading("e1", "sos", 1, kT0));     // an event, not a vital
  v.apply(reading("e1", "motion", 1, kT0));  // likewise
  Reply r = get("/api/elders/e1");
  ASSERT_EQ(r.status, 200);
  SCOPED_TRACE(r.body);
  auto vit = r.json().at("vitals").as_object();
  EXPECT_EQ(vit.size(), 7u);
  EXPECT_FALSE(vit.contains("sos"));
  EXPECT_DOUBLE_EQ(vit.at("heart_rate").at("value").to_number<double>(), 88);
  EXPECT_EQ(json::value_to<std::string>(vit.at("heart_rate").at("event_id")),
            "e1-heart_rate-" + std::to_string(kT0 - 1000));
  EXPECT_TRUE(vit.at("heart_rate").at("ts").is_string());
  EXPECT_EQ(vit.at("heart_rate").at("device_id"), "e1-d1");
  EXPECT_DOUBLE_EQ(vit.at("blood_pressure").at("value2").to_number<double>(), 85);
  EXPECT_DOUBLE_EQ(vit.at("location").at("lat").to_number<double>(), 31.2304);
  // An elder the views and the store do not know, but whose devices report: 200 with vitals.
  v.apply(reading("e7", "spo2", 97, kT0));
  Reply e7 = get("/api/elders/e7");
  ASSERT_EQ(e7.status, 200);
  EXPECT_DOUBLE_EQ(e7.json().at("vitals").at("spo2").at("value").to_number<double>(), 97);
  // An elder without readings has an empty object; agencies may not see vitals at all.
  EXPECT_TRUE(get("/api/elders/e9").json().at("vitals").as_object().empty());
  EXPECT_EQ(get("/api/elders/e1", "demo-agency-ag1").status, 403);
  EXPECT_EQ(get("/api/elders/e1", "").status, 401);
}

TEST(VitalsStoreTest, BoundedByElders) {
  VitalsStore store(2);
  for (const char* e : {"e1", "e2", "e3"}) store.apply(reading(e, "spo2", 95, kT0));
  EXPECT_EQ(store.elders(), 2u);
  EXPECT_TRUE(store.latest("e3").empty());
  store.apply(reading("e1", "spo2", 91, kT0 + 1));  // known elders still update
  EXPECT_DOUBLE_EQ(store.latest("e1").at("spo2").value(), 91);
  EXPECT_FALSE(is_vital("fall"));
  EXPECT_TRUE(is_vital("battery"));
}

TEST_F(ApiServerTest, TasksAndBigScreenStats) {
  Reply t = get("/api/tasks");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.json().at("tasks").at(0).at("task_id"), "t1");
  Reply s = get("/api/stats");
  ASSERT_EQ(s.status, 200);
  auto j = s.json();
  EXPECT_EQ(j.at("alarms_today").to_number<uint64_t>(), 2u);
  EXPECT_EQ(j.at("orders_today").to_number<uint64_t>(), 2u);
  EXPECT_EQ(j.at("active_alarms_by_severity").at("CRITICAL").to_number<uint64_t>(), 1u);
  EXPECT_DOUBLE_EQ(j.at("acceptance_rate").as_double(), 0.5);
  auto agencies = j.at("agencies").as_array();
  ASSERT_EQ(agencies.size(), 2u);
  EXPECT_EQ(agencies[1].at("agency_id"), "ag2");
  EXPECT_DOUBLE_EQ(agencies[1].at("acceptance_rate").as_double(), 1.0);
}


// --- rules ------------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsRules) {
  Reply r = get("/api/rules");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("rules").at(0).at("id"), "pillow");
  EXPECT_EQ(r.json().at("rules").at(0).at("severity"), "MINOR");
}

TEST_F(ApiServerTest, ValidatesRuleText) {
  Reply good = post("/api/rules/validate", kValidRule);
  ASSERT_EQ(good.status, 200);
  EXPECT_EQ(good.json().at("ok"), true);
  EXPECT_EQ(good.json().at("rules").at(0), "pillow");
  Reply bad = post("/api/rules/validate", kInvalidRule);
  ASSERT_EQ(bad.status, 200);
  EXPECT_EQ(bad.json().at("ok"), false);
  auto diag = bad.json().at("diagnostics").at(0);
  EXPECT_EQ(diag.at("line").as_int64(), 5);
  EXPECT_NE(json::value_to<std::string>(diag.at("text")).find("request.yaml:5"), std::string::npos);
  EXPECT_EQ(post("/api/rules/validate", "").status, 400);
  EXPECT_EQ(post("/api/rules/validate", kValidRule, "demo-agency-ag1").status, 403);
}

TEST_F(ApiServerTest, RuleReloadIsForAdmins) {
  EXPECT_EQ(post("/api/rules/reload", "", "demo-operator").status, 403);
  Reply r = post("/api/rules/reload", "", "demo-admin");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("rules").as_int64(), 1);
  reload_ok_ = false;
  Reply bad = post("/api/rules/reload", "", "demo-admin");
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.error().find("pack.yaml:5"), std::string::npos);
}

}  // namespace
}  // namespace vigil::api
