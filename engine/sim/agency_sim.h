#pragma once
// The agency side of the simulated world: service agencies that read the dispatch feed, accept
// or decline offers, travel to the elder and report progress on the agency topic.

#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/core/clock.h"
#include "engine/sim/population.h"
#include "engine/sim/sim_options.h"
#include "engine/sim/sim_record.h"
#include "schemas/outputs.pb.h"

namespace vigil::sim {

//! What the agencies did with the offers they saw.
struct AgencySimStats {
  uint64_t offers = 0;  //!< offers handed to on_offer()
  uint64_t accepted = 0;
  uint64_t declined = 0;
  uint64_t ignored = 0;         //!< left to expire
  uint64_t unknown_agency = 0;  //!< offers for an agency not in the population (dropped)
  uint64_t duplicates = 0;      //!< offers already being answered (redelivery)
  uint64_t completed = 0;
  uint64_t failed = 0;         //!< nobody at home
  uint64_t cancelled = 0;      //!< open jobs dropped by on_cancel()
  uint64_t elder_cancels = 0;  //!< CANCEL calls the simulated elders made
  uint64_t ratings = 0;        //!< RATE calls the simulated elders made
};

//! Simulates the agencies of a Population answering DispatchOffers like real ones: most offers
//! are accepted (85%, emergency 95%), some declined, a few ignored until they expire; an
//! agency at capacity declines. Answers come 3-15 s after an emergency offer and 10-120 s
//! after others. An accepted order goes EN_ROUTE soon after, ARRIVED after the travel time from
//! the agency to the order's location (25 km/h for emergency_response, 4 km/h walking
//! otherwise, with noise and now and then a long delay that makes it late for its eta),
//! IN_SERVICE right after, then COMPLETED after 10-20 min (emergency) or 20-60 min; about 2% of
//! everyday visits end FAILED instead (nobody at home). All delays are multiplied by
//! SimOptions::time_scale.
//!
//! It also plays the elder's side of the orders it serves, on the calls topic: an everyday
//! order is sometimes cancelled by phone after it was accepted and before the agency sets out
//! (SimOptions::elder_cancel_p; the job ends there and frees its place), and a finished visit is
//! often rated 10-60 min later (elder_rate_p; around the agency's rating, one star less when it
//! arrived after its eta). Call ids are `cancel-<order_id>` and `rate-<order_id>`.
//!
//! Deterministic: each decision and delay is drawn from the seed and the offer's (order_id,
//! agency_id, attempt), so the same offers give the same answers in any order. Memory holds
//! only open jobs; finished ones are forgotten. Owned and used by one thread (the driver that
//! reads the dispatch topic and produces to the agency topic, or a test).
class AgencySimulator {
 public:
  AgencySimulator(const Population& population, const SimOptions& options);

  //! Takes an offer seen on the dispatch topic at `now` and decides what its agency does.
  //! Ignores offers for unknown agencies, offers already being answered (same order, agency
  //! and attempt), and offers whose answer would come after their expires_at. A new attempt
  //! for an order whose earlier offer is still unanswered replaces it.
  void on_offer(const vigil::v1::DispatchOffer& offer, TimeMs now);

  //! The order was cancelled (tracking topic): every agency drops what it had planned for it
  //! and frees the capacity it took.
  void on_cancel(std::string_view order_id);

  //! Appends, in time order, the records due at or before `now`: AgencyUpdates (topic kAgency,
  //! key order_id) and the elders' CANCEL and RATE calls (topic kCalls, key elder_id), ts the
  //! time each was due.
  void due(TimeMs now, std::vector<SimRecord>& out);

  //! When the next update is due, if any: lets the driver sleep until then (after a cancel it
  //! may be a time at which nothing turns out to be due).
  std::optional<TimeMs> next_due() const;

  //! Jobs with updates still to come.
  size_t open_jobs() const { return jobs_.size(); }

  const AgencySimStats& stats() const { return stats_; }

 private:
  struct Agency {
    std::string agency_id;
    double lat = 0;
    double lon = 0;
    int capacity = 0;
    double rating = 0;
    int busy = 0;  //!< accepted and not finished
  };

  //! An order an agency is answering or working on, with the time of every step decided up
  //! front.
  struct Job {
    enum class Step : uint8_t {
      kAnswer,
      kEnRoute,
      kArrive,
      kInService,
      kFinish,
      kElderCancel,
      kElderRate,
      kDone
    };
    uint64_t serial = 0;  //!< tells a live queue entry from one left by a replaced job
    std::string order_id;
    std::string elder_id;
    uint32_t agency = 0;
    uint32_t attempt = 0;
    bool accept = false;
    bool fail = false;      //!< ends FAILED at the door instead of IN_SERVICE and COMPLETED
    bool released = false;  //!< its place at the agency was given back
    int rating = 0;         //!< the elder rates the visit (1..5), 0 if not
    TimeMs cancel_at = 0;   //!< the elder cancels before EN_ROUTE, 0 if not
    TimeMs rate_at = 0;
    const char* note = "";  //!< why it declines or fails
    double lat = 0;         //!< where the order is
    double lon = 0;
    TimeMs eta = 0;
    TimeMs answer_at = 0;
    TimeMs en_route_at = 0;
    TimeMs arrive_at = 0;
    TimeMs in_service_at = 0;
    TimeMs finish_at = 0;
    Step next = Step::kAnswer;
  };

  struct Entry {
    TimeMs t = 0;
    uint64_t serial = 0;  //!< also the tie-break: earlier jobs first
    std::string key;      //!< jobs_ key
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.t != b.t ? a.t > b.t : a.serial > b.serial;
    }
  };

  static std::string job_key(std::string_view order_id, std::string_view agency_id);
  static TimeMs step_time(const Job& job);
  void emit(Job& job, std::vector<SimRecord>& out);
  void emit_elder_call(Job& job, std::vector<SimRecord>& out);
  void release(Job& job);

  SimOptions options_;
  std::vector<Agency> agencies_;
  std::unordered_map<std::string, uint32_t> agency_index_;
  std::unordered_map<std::string, Job> jobs_;  //!< by job_key(order_id, agency_id)
  std::priority_queue<Entry, std::vector<Entry>, Later> queue_;
  uint64_t next_serial_ = 1;
  AgencySimStats stats_;
};

}  // namespace vigil::sim
