#pragma once
// The order workflow of SPEC section 4: candidates in the service circle, offers with expiry,
// next candidate on decline or timeout, escalation, late orders (`order_late` alarm and
// `late_order` task), tracking of every transition. One dispatcher owns all agencies' load, so
// an agency is never offered more than it can take: an unanswered offer reserves a place just
// like an accepted order.
// Owned by one thread (the dispatch thread in live mode, the replay loop in replay).

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "engine/core/result.h"
#include "engine/dispatch/agency_index.h"
#include "engine/dispatch/closed_orders.h"
#include "engine/dispatch/dispatch_config.h"
#include "engine/dispatch/order_request.h"
#include "engine/egress/sink.h"
#include "engine/pipeline/timer_queue.h"
#include "engine/state/state_store.h"
#include "schemas/agency.pb.h"
#include "schemas/outputs.pb.h"

namespace vigil::dispatch {

class Dispatcher {
 public:
  Dispatcher(DispatchConfig config, egress::Sink& sink) : config_(std::move(config)), sink_(sink) {}

  //! Registry: an agency appeared or changed.
  void upsert_agency(const vigil::v1::Agency& agency);

  //! A new order. A duplicate order_id (a replayed request) is ignored.
  void create_order(const OrderRequest& request, TimeMs now);

  //! An agency's answer or progress. Returns kNotFound for an unknown order and kRejected for
  //! an update from an agency the order is not offered or assigned to, or an illegal
  //! transition; nothing is applied then.
  Status on_agency_update(const vigil::v1::AgencyUpdate& update, TimeMs now);

  //! CANCEL or RATE from the elder or an operator. Same errors as on_agency_update.
  Status on_order_action(const OrderActionRequest& request, TimeMs now);

  //! An operator's ACK/ASSIGN/CLEAR/ESCALATE of an order's `order_late` alarm (by alarm_id, or
  //! by rule_id when the elder has exactly one open). kNotFound for no such open alarm,
  //! kRejected for an action its status does not allow; nothing changes then.
  Status on_late_alarm_action(const OrderActionRequest& request, TimeMs now);

  //! Fires offer expiries, late-order deadlines and closings due at or before `now`, earliest
  //! first.
  void advance_to(TimeMs now);
  //! Earliest armed timer (INT64_MAX if none).
  TimeMs next_due() const { return timers_.next_due(); }

  //! Moves what changed since the last call into `ops`: begin_snapshot, then all of it.
  void collect_dirty(state::StateOps& ops);
  //! A checkpoint's snapshot taken copy-on-write, as the shards take theirs (the dispatch
  //! thread's part of a barrier, engine/dispatch/README.md "Snapshots"): the agencies and the
  //! records of orders closed since the last one go into `ops` at once, the orders changed
  //! since then are owed. continue_snapshot serialises up to `budget` owed orders and returns
  //! true once none is left (`ops` is then the state as of begin_snapshot); an owed order is
  //! serialised before anything changes it. One snapshot at a time: a second begin, and the
  //! task operations, finish the one in progress first.
  void begin_snapshot(state::StateOps& ops);
  bool continue_snapshot(size_t budget);
  //! Orders a snapshot in progress still owes (0 when none is in progress).
  size_t snapshot_owed() const { return owed_.size(); }
  //! Loads agencies and orders from the store and re-arms offer expiries, late deadlines and
  //! closings. Orders already closed at engine time `now` are not loaded: only their ids.
  Status load(const state::StateStore& store, TimeMs now);

  // Tasks (DispatchConfig::task_partitions > 0; engine/dispatch/README.md "Tasks"): the
  // dispatcher tells its sink each timer's task (set_task), annotates its StateOps with the
  // task of the agency's or order's region, and can drop and restore a task's state.
  int32_t task_partitions() const { return config_.task_partitions; }
  //! state::task_of(region_key(region), task_partitions); -1 without tasks.
  int32_t task_of_region(const std::string& region) const;
  //! The task of an order's region; -1 without tasks or for an unknown order.
  int32_t task_of_order(const std::string& order_id) const;
  //! Forgets the agencies and orders of regions of `task`, and their timers. Emits nothing.
  //! No-op without tasks.
  void drop_task(int32_t task);
  //! Replaces agencies and orders with the stored values of `kv` (keys g/<agency>, d/<order>
  //! and do/<elder>/<order> as collect_dirty writes them, any order; do/ carry nothing to load),
  //! as load() does: re-arms offer expiries and late deadlines (overdue ones fire on the next
  //! advance_to), recounts every agency's pending offers, and marks them all dirty so that the
  //! next checkpoint writes them again. `now` is the engine time of the restore.
  void restore(const std::vector<std::pair<std::string, std::string>>& kv, TimeMs now);
  //! Marks every agency and order of `task` dirty, so that the next collect_dirty writes the
  //! whole task (a changelog rewrite).
  void mark_task_dirty(int32_t task);

  //! An order the dispatcher holds (nullptr for an unknown or closed and let go one).
  const vigil::state::OrderRecord* order(const std::string& order_id) const;
  //! Orders held, and orders closed and let go of (their ids only).
  size_t orders_held() const { return orders_.size(); }
  size_t orders_closed() const { return closed_.size(); }
  AgencyIndex& agencies() { return agencies_; }

  //! The agencies a request would be offered to, best first: active, offering the category,
  //! inside its service circle, with capacity > 0 (full ones are kept: they may free up before
  //! their turn), at most config.max_candidates of them. No side effects beyond scratch
  //! buffers; this is the candidate selection the benchmark measures.
  std::vector<std::string> rank_candidates(const OrderRequest& r);

 private:
  enum TimerKind : uint32_t { kOfferExpiry = 0, kLateDeadline = 1, kClose = 2 };

  //! load()'s and restore()'s steps: one stored agency; one stored order with its timers.
  //! Return false for a value that does not parse.
  bool load_agency(std::string_view value);
  //! An order closed at `now` goes to the closed ids instead (and, with `write`, its record to
  //! the next collect_dirty: restore() must write what it restores).
  bool load_order(std::string_view order_id, std::string_view value, TimeMs now, bool write);
  //! Ended, and `closed_after` past its last transition, at `now`.
  bool closed(const vigil::state::OrderRecord& o, TimeMs now) const;
  //! The refusal of an update or action for a closed order.
  Status closed_error(const std::string& order_id) const;
  //! Lets go of a closed order: its id to closed_, its record (if not yet written) to
  //! closing_writes_.
  void close_order(std::unordered_map<std::string, vigil::state::OrderRecord>::iterator it);
  bool tasks_on() const { return config_.task_partitions > 0; }
  //! Before order `id` changes: if the snapshot in progress still owes it, serialise it now.
  void before_change(const std::string& id) {
    if (owed_.empty()) return;
    auto it = owed_.find(id);
    if (it != owed_.end()) write_owed(it);
  }
  //! The owed order's d/ and do/ entries into the snapshot's ops (nothing for an order let go
  //! of), and it is owed no more.
  void write_owed(std::unordered_set<std::string>::iterator it);

  void offer_next(vigil::state::OrderRecord& o, TimeMs now, const std::string& reason);
  void transition(vigil::state::OrderRecord& o, vigil::v1::OrderState state, TimeMs ts,
                  const std::string& reason);
  void escalate(vigil::state::OrderRecord& o, TimeMs now, const std::string& reason);
  void release(vigil::state::OrderRecord& o);
  TimeMs offer_timeout(const vigil::state::OrderRecord& o) const;
  //! (Re-)arms the order's late deadline after it was created or its eta changed.
  void arm_late(vigil::state::OrderRecord& o, TimeMs now);
  void raise_late(vigil::state::OrderRecord& o, TimeMs now);
  //! Clears and closes an open order_late alarm: the order arrived or ended.
  void close_late(vigil::state::OrderRecord& o, TimeMs now);
  void emit_late_alarm(const vigil::state::OrderRecord& o, vigil::v1::AlarmStatus status,
                       TimeMs now, const std::string& message);

  DispatchConfig config_;
  egress::Sink& sink_;
  AgencyIndex agencies_;
  std::unordered_map<std::string, vigil::state::OrderRecord> orders_;
  std::unordered_set<std::string> dirty_orders_;
  //! The snapshot in progress: where it goes, and the orders it still owes.
  state::StateOps* snap_ops_ = nullptr;
  std::unordered_set<std::string> owed_;
  ClosedOrders closed_;
  //! Records of orders closed while dirty, for the next collect_dirty: (order id, value).
  struct ClosingWrite {
    std::string order_id, elder_id, value;
    int32_t task = -1;
  };
  std::vector<ClosingWrite> closing_writes_;
  pipeline::TimerQueue timers_;

  struct Scored {
    double score;
    uint64_t offers;
    const AgencyEntry* agency;
  };
  //! Ranks the candidates of rank_candidates into scored_[0, returned count).
  size_t rank_into_scored(const OrderRequest& r);
  double score_of(const AgencyEntry& e, double d, double radius) const;
  //! The quantised distance term of an agency at `d` km: a floor of its whole score.
  double distance_floor(double d, double radius) const;
  //! Scores near_ into scored_ and sorts the best k to its front; returns how many.
  size_t score_near(double radius, size_t k, bool prunable);
  std::vector<std::pair<AgencyEntry*, double>> near_;  //!< rank_candidates scratch
  std::vector<Scored> scored_;                         //!< rank_candidates scratch
  std::vector<double> bound_;                          //!< rank_candidates scratch
  vigil::v1::DispatchOffer offer_;                     //!< offer_next scratch
};

const char* order_state_name(vigil::v1::OrderState s);

//! The alarm id of an order's order_late alarm: `<elder_id>:order_late:<order_id>` (one per
//! order, derived from inputs only).
std::string late_alarm_id(const vigil::state::OrderRecord& o);

}  // namespace vigil::dispatch
