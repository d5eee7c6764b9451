#pragma once
// Read models for the console and the HTTP API, built from the engine's output records (the
// TeeSink feeds apply()). Outputs are rare next to inputs, so one mutex guards everything; a
// writer holds it for O(log n) work, a reader copies out at most a page (`limit`) of items.
// Memory is bounded: closed alarms and finished orders beyond ViewLimits are forgotten
// (oldest first), histories and per-agency/per-elder lists are capped.
//
// Thread-safe: apply() from the shard and dispatch threads, queries from the io threads.

#include <google/protobuf/message.h>

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/codec/topics.h"
#include "engine/core/clock.h"
#include "schemas/outputs.pb.h"

namespace vigil::api {

struct ViewLimits {
  size_t closed_alarms = 5000;      //!< CLOSED alarms kept (newest)
  size_t finished_orders = 5000;    //!< COMPLETED/RATED/CANCELLED/FAILED orders kept (newest)
  size_t alarm_history = 64;        //!< records kept per alarm (the first and the newest)
  size_t order_timeline = 64;       //!< OrderEvents kept per order
  size_t tasks = 2000;              //!< newest operator tasks
  size_t offers_per_agency = 500;   //!< newest offers per agency
  size_t orders_per_elder = 50;     //!< newest orders per elder
};

//! One alarm: its latest record and its records, oldest first.
struct AlarmView {
  vigil::v1::AlarmEvent latest;
  std::vector<vigil::v1::AlarmEvent> history;
};

//! One order as the console shows it. category/priority/window_end come from its offers.
struct OrderView {
  std::string order_id;
  std::string elder_id;
  std::string agency_id;  //!< the agency that holds it (accepted), or the latest one offered
  vigil::v1::OrderState state = vigil::v1::ORDER_STATE_UNSPECIFIED;
  std::string category;
  vigil::v1::Priority priority = vigil::v1::NORMAL;
  TimeMs window_end_ms = 0;
  TimeMs created_ms = 0;
  TimeMs updated_ms = 0;
  std::vector<vigil::v1::OrderEvent> timeline;
  std::vector<vigil::v1::DispatchOffer> offers;
  std::vector<std::string> offered_to;  //!< every agency that got an offer (they may see it)

  bool visible_to_agency(const std::string& agency) const;
};

struct ElderView {
  std::string elder_id;
  std::vector<vigil::v1::AlarmEvent> active_alarms;  //!< open alarms, queue order
  std::vector<OrderView> orders;                     //!< newest first, without timelines
  std::vector<vigil::v1::OperatorTask> tasks;        //!< newest first
};

//! An offer with whether the agency can still answer it (the order is OFFERED to it now).
struct OfferView {
  vigil::v1::DispatchOffer offer;
  bool pending = false;
};

//! One agency's figures for the big screen.
struct AgencyCounters {
  uint64_t offers = 0;
  uint64_t accepted = 0;
  uint64_t arrived = 0;          //!< arrivals with a known window end
  uint64_t arrived_on_time = 0;  //!< ... at or before it
  double acceptance_rate() const { return offers ? double(accepted) / offers : 0; }
  double on_time_rate() const { return arrived ? double(arrived_on_time) / arrived : 0; }
};

//! Figures for the big screen and /metrics. "today" is the UTC day of the view clock.
struct ViewCounters {
  uint64_t alarms_today = 0;
  uint64_t orders_today = 0;
  uint64_t alarms_total = 0;   //!< distinct alarms seen
  uint64_t orders_total = 0;   //!< distinct orders seen
  //! Alarms by [severity][status] (enum values). Open statuses are current counts; CLOSED counts
  //! every alarm closed since start.
  std::array<std::array<uint64_t, 6>, 5> alarms_by_severity_status{};
  std::array<uint64_t, 5> active_by_severity{};  //!< ACTIVE_UNACK + ACTIVE_ACK
  //! Open states: orders in that state now; finished states: every order that ended there.
  std::array<uint64_t, 12> orders_by_state{};
  uint64_t offers = 0;
  uint64_t offers_accepted = 0;
  uint64_t arrived = 0;          //!< arrivals with a known window end
  uint64_t arrived_on_time = 0;  //!< ... at or before it
  uint64_t answered = 0;         //!< alarms first ACKed/cleared by an operator
  uint64_t answered_within_60s = 0;
  uint64_t answered_within_180s = 0;
  uint64_t tasks_total = 0;
  std::array<uint64_t, 6> records_out{};  //!< by OutTopic
  std::map<std::string, AgencyCounters> agencies;
  double acceptance_rate() const { return offers ? double(offers_accepted) / offers : 0; }
  double on_time_rate() const { return arrived ? double(arrived_on_time) / arrived : 0; }
  double answer_share_60s() const { return alarms_total ? double(answered_within_60s) / alarms_total : 0; }
  double answer_share_180s() const { return alarms_total ? double(answered_within_180s) / alarms_total : 0; }
};

struct AlarmFilter {
  //! "open" (default: not CLOSED, in queue order), "all", or a status name (ACTIVE_UNACK, ...).
  std::string status = "open";
  std::optional<vigil::v1::Severity> severity;
  std::string elder_id;
  std::string rule_id;
  size_t limit = 200;
};

class ViewStore {
 public:
  explicit ViewStore(const Clock& clock, ViewLimits limits = {}) : clock_(clock), limits_(limits) {}

  //! Folds one output record into the views. Any thread.
  void apply(OutTopic topic, const google::protobuf::Message& msg);

  //! Open alarms by severity (CRITICAL first), then age (oldest first); other statuses newest
  //! first.
  std::vector<vigil::v1::AlarmEvent> alarms(const AlarmFilter& filter) const;
  std::optional<AlarmView> alarm(const std::string& alarm_id) const;
  //! Orders newest first; `state` UNSPECIFIED means any; `agency` non-empty keeps only the
  //! orders that agency may see. Without timelines unless `with_timeline`.
  std::vector<OrderView> orders(vigil::v1::OrderState state, const std::string& agency,
                                size_t limit, bool with_timeline = false) const;
  std::optional<OrderView> order(const std::string& order_id) const;
  std::vector<vigil::v1::OperatorTask> tasks(size_t limit) const;
  std::optional<ElderView> elder(const std::string& elder_id, size_t limit) const;
  std::vector<OfferView> offers_of(const std::string& agency_id, size_t limit) const;
  ViewCounters counters() const;

 private:
  using QueueKey = std::tuple<int, TimeMs, std::string>;  // severity, raised_at, alarm_id
  struct AlarmEntry {
    AlarmView view;
    bool answered = false;
  };
  struct ElderEntry {
    std::set<QueueKey> open;       // open alarms of this elder
    std::deque<std::string> orders;  // newest last
    std::deque<vigil::v1::OperatorTask> tasks;
  };
  void apply_alarm(const vigil::v1::AlarmEvent& a);
  void apply_offer(const vigil::v1::DispatchOffer& o);
  void apply_order_event(const vigil::v1::OrderEvent& e);
  void apply_task(const vigil::v1::OperatorTask& t);
  OrderView& order_entry(const std::string& order_id, const std::string& elder_id, TimeMs ts);
  void count_day(std::map<int64_t, uint64_t>& days, TimeMs ts);
  static bool finished(vigil::v1::OrderState s);
  static QueueKey key_of(const vigil::v1::AlarmEvent& a);

  const Clock& clock_;
  const ViewLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, AlarmEntry> alarms_;
  std::set<QueueKey> open_;              // the queue
  std::deque<std::string> closed_;       // CLOSED alarm ids, oldest first
  std::unordered_map<std::string, OrderView> orders_;
  std::deque<std::string> order_seq_;    // every kept order id, oldest first (list order)
  std::deque<std::string> finished_;     // finished order ids, oldest first
  std::unordered_set<std::string> finished_set_;
  std::deque<vigil::v1::OperatorTask> tasks_;
  std::unordered_map<std::string, ElderEntry> elders_;
  std::unordered_map<std::string, std::deque<vigil::v1::DispatchOffer>> offers_;
  std::map<int64_t, uint64_t> alarm_days_, order_days_;  // UTC day -> count (last few days)
  ViewCounters counters_;
};

}  // namespace vigil::api
