// The order and agency endpoints, through a real client.

#include "engine/api/tests/server_fixture.h"

namespace vigil::api {
namespace {

// --- orders -----------------------------------------------------------------------------------

TEST_F(ApiServerTest, ListsOrdersByStateAndShowsTimeline) {
  Reply all = get("/api/orders");
  ASSERT_EQ(all.status, 200);
  ASSERT_EQ(all.json().at("orders").as_array().size(), 2u);
  EXPECT_EQ(all.json().at("orders").at(0).at("order_id"), "o2");  // newest first
  Reply accepted = get("/api/orders?state=accepted");
  ASSERT_EQ(accepted.json().at("orders").as_array().size(), 1u);
  EXPECT_EQ(accepted.json().at("orders").at(0).at("agency_id"), "ag2");
  EXPECT_EQ(get("/api/orders?state=LOST").status, 400);
  Reply one = get("/api/orders/o2");
  ASSERT_EQ(one.status, 200);
  auto timeline = one.json().at("timeline").as_array();
  ASSERT_EQ(timeline.size(), 3u);
  EXPECT_EQ(timeline[0].at("state"), "CREATED");
  EXPECT_EQ(timeline[1].at("state"), "OFFERED");
  EXPECT_EQ(timeline[2].at("state"), "ACCEPTED");
  EXPECT_EQ(one.json().at("category"), "meal_delivery");
  EXPECT_EQ(get("/api/orders/nope").status, 404);
}

TEST_F(ApiServerTest, OrderNoLongerInViewsComesFromTheStore) {
  Reply r = get("/api/orders/archived");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("state"), "RATED");
  EXPECT_EQ(r.json().at("timeline").as_array().size(), 2u);
  EXPECT_EQ(get("/api/orders/archived", "demo-agency-ag2").status, 403);
  EXPECT_EQ(post("/api/orders/archived/cancel", "{}").status, 409);
}

TEST_F(ApiServerTest, PlacesAnOrderForAnElderWhoPhonedIn) {
  Reply r = post("/api/orders", R"({"call_id":"c-100","elder_id":"e3","service_request":)"
                                R"({"category":"bathing","priority":"URGENT","notes":"after lunch"}})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json().at("order_id"), "c-100");
  Reply gen = post("/api/orders", R"({"elderId":"e4","serviceRequest":{"category":"cleaning"}})");
  ASSERT_EQ(gen.status, 202) << gen.body;
  auto c = calls();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].call_id(), "c-100");
  EXPECT_EQ(c[0].service_request().category(), "bathing");
  EXPECT_EQ(c[0].service_request().priority(), vigil::v1::URGENT);
  EXPECT_EQ(c[0].operator_id(), "demo-operator");
  EXPECT_FALSE(c[1].call_id().empty());
  EXPECT_EQ(json::value_to<std::string>(gen.json().at("order_id")), c[1].call_id());
}

TEST_F(ApiServerTest, PlaceOrderErrors) {
  EXPECT_EQ(post("/api/orders", "[1,2]").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"service_request":{"category":"bathing"}})").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"elder_id":"e3"})").status, 400);
  EXPECT_EQ(post("/api/orders", R"({"call_id":"o1","elder_id":"e1","service_request":{"category":"bathing"}})").status, 409);
  EXPECT_TRUE(calls().empty());
}

TEST_F(ApiServerTest, CancelsAndRatesOrders) {
  Reply r = post("/api/orders/o1/cancel", R"({"note":"elder is in hospital"})");
  ASSERT_EQ(r.status, 202) << r.body;
  auto c = calls();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].elder_id(), "e1");
  EXPECT_EQ(c[0].order_action().order_id(), "o1");
  EXPECT_EQ(c[0].order_action().action(), vigil::v1::OrderAction::CANCEL);
  EXPECT_EQ(post("/api/orders/nope/cancel", "{}").status, 404);
  EXPECT_EQ(post("/api/orders/o1/cancel", "{oops").status, 400);
  EXPECT_EQ(post("/api/orders/o2/rate", R"({"rating":5})").status, 409);  // not completed
  tee_->emit(OutTopic::kTracking, "o2", order_event("o2", "e2", "ag2", vigil::v1::COMPLETED, kT0));
  EXPECT_EQ(post("/api/orders/o2/rate", R"({"rating":9})").status, 400);
  EXPECT_EQ(post("/api/orders/o2/rate", R"({"rating":"five"})").status, 400);  // malformed
  EXPECT_EQ(post("/api/orders/nope/rate", R"({"rating":5})").status, 404);
  ASSERT_EQ(post("/api/orders/o2/rate", R"({"rating":5})").status, 202);
  EXPECT_EQ(calls().back().order_action().rating(), 5);
}


// --- agencies ---------------------------------------------------------------------------------

TEST_F(ApiServerTest, AgencySeesItsOffersAndOrders) {
  Reply offers = get("/api/agencies/ag1/offers", "demo-agency-ag1");
  ASSERT_EQ(offers.status, 200);
  ASSERT_EQ(offers.json().at("offers").as_array().size(), 1u);
  EXPECT_EQ(offers.json().at("offers").at(0).at("order_id"), "o1");
  EXPECT_EQ(offers.json().at("offers").at(0).at("pending"), true);
  Reply orders = get("/api/agencies/ag2/orders", "demo-agency-ag2");
  ASSERT_EQ(orders.status, 200);
  ASSERT_EQ(orders.json().at("orders").as_array().size(), 1u);
  EXPECT_EQ(orders.json().at("orders").at(0).at("timeline").as_array().size(), 3u);
  EXPECT_EQ(get("/api/agencies/ag2/orders?state=NONSENSE", "demo-agency-ag2").status, 400);
  EXPECT_EQ(get("/api/agencies/ag2/orders").status, 200);  // operators see every agency
}

TEST_F(ApiServerTest, AgencyAcceptsDeclinesAndReportsProgress) {
  Reply accept = post("/api/agencies/ag1/orders/o1/accept", R"({"eta":"2026-11-19T08:30:00Z"})", "demo-agency-ag1");
  ASSERT_EQ(accept.status, 202) << accept.body;
  Reply decline = post("/api/agencies/ag1/orders/o1/decline", "", "demo-agency-ag1");
  ASSERT_EQ(decline.status, 202) << decline.body;
  Reply progress = post("/api/agencies/ag2/orders/o2/progress", R"({"status":"EN_ROUTE","lat":31.2,"lon":121.4})", "demo-agency-ag2");
  ASSERT_EQ(progress.status, 202) << progress.body;
  auto u = updates();
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u[0].agency_id(), "ag1");
  EXPECT_EQ(u[0].order_id(), "o1");
  EXPECT_EQ(u[0].status(), vigil::v1::AgencyUpdate::ACCEPTED);
  EXPECT_TRUE(u[0].has_eta());
  EXPECT_EQ(u[1].status(), vigil::v1::AgencyUpdate::DECLINED);
  EXPECT_EQ(u[2].status(), vigil::v1::AgencyUpdate::EN_ROUTE);
  EXPECT_DOUBLE_EQ(u[2].lat(), 31.2);
}

TEST_F(ApiServerTest, AgencyActionErrors) {
  EXPECT_EQ(post("/api/agencies/ag1/orders/nope/accept", "{}", "demo-agency-ag1").status, 404);
  EXPECT_EQ(post("/api/agencies/ag1/orders/o1/accept", "{bad", "demo-agency-ag1").status, 400);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/accept", "{}", "demo-agency-ag2").status, 409);  // already accepted
  EXPECT_EQ(post("/api/agencies/ag1/orders/o1/progress", R"({"status":"ARRIVED"})", "demo-agency-ag1").status, 409);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/progress", "{}", "demo-agency-ag2").status, 400);
  EXPECT_EQ(post("/api/agencies/ag2/orders/o2/progress", R"({"status":"ACCEPTED"})", "demo-agency-ag2").status, 400);
  EXPECT_EQ(get("/api/agencies/ag1/orders/o1/accept", "demo-agency-ag1").status, 405);
  EXPECT_TRUE(updates().empty());
}

}  // namespace
}  // namespace vigil::api
