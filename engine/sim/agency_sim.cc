#include "engine/sim/agency_sim.h"

#include <algorithm>
#include <cmath>

#include "engine/core/time_util.h"
#include "engine/sim/geo.h"
#include "engine/sim/random.h"

namespace vigil::sim {

namespace {

constexpr double kAcceptP = 0.85;
constexpr double kEmergencyAcceptP = 0.95;
constexpr double kIgnoreP = 0.03;  //!< of all offers; the rest of the non-accepts are declines
constexpr double kEmergencyIgnoreP = 0.01;
constexpr double kFailP = 0.02;  //!< everyday visits only: nobody opens the door

constexpr double kVehicleKmh = 25;  //!< emergency_response, city traffic
constexpr double kWalkingKmh = 4;
constexpr double kMinTravelMs = 30 * kSecond;  //!< parking, stairs, finding the door
constexpr double kEtaMargin = 1.3;             //!< eta = nominal travel time * margin
constexpr double kDelayedP = 0.05;             //!< traffic or a missed bus: 1.5-2.5x nominal

constexpr const char* kNoStaff = "no staff free in that window";
constexpr const char* kAtCapacity = "at capacity";
constexpr const char* kNobodyHome = "nobody answered the door";

}  // namespace

AgencySimulator::AgencySimulator(const Population& population, const SimOptions& options)
    : options_(options) {
  options_.time_scale = std::max(0.0, options_.time_scale);
  agencies_.reserve(population.agencies.size());
  for (const vigil::v1::Agency& a : population.agencies) {
    agency_index_.emplace(a.agency_id(), static_cast<uint32_t>(agencies_.size()));
    agencies_.push_back(Agency{a.agency_id(), a.lat(), a.lon(), a.capacity(), a.rating(), 0});
  }
}

std::string AgencySimulator::job_key(std::string_view order_id, std::string_view agency_id) {
  std::string key;
  key.reserve(order_id.size() + agency_id.size() + 1);
  key.append(order_id).push_back('\n');
  key.append(agency_id);
  return key;
}

void AgencySimulator::on_offer(const vigil::v1::DispatchOffer& offer, TimeMs now) {
  ++stats_.offers;
  const auto found = agency_index_.find(offer.agency_id());
  if (found == agency_index_.end()) {
    ++stats_.unknown_agency;
    return;
  }
  std::string key = job_key(offer.order_id(), offer.agency_id());
  if (const auto it = jobs_.find(key); it != jobs_.end()) {
    Job& open = it->second;
    if (open.next != Job::Step::kAnswer || offer.attempt() <= open.attempt) {
      ++stats_.duplicates;
      return;
    }
    release(open);
    jobs_.erase(it);
  }

  Agency& agency = agencies_[found->second];
  const uint64_t offer_hash =
      stable_hash(offer.agency_id(), stable_hash("\n", stable_hash(offer.order_id())));
  SimRandom rng(mix64(options_.seed ^ offer_hash ^ mix64(offer.attempt())));
  const bool emergency =
      offer.priority() == vigil::v1::EMERGENCY || offer.category() == kEmergencyResponse;
  const auto scaled = [this](double ms) {
    return static_cast<TimeMs>(std::llround(ms * options_.time_scale));
  };

  const TimeMs answer_at =
      now + scaled(emergency ? rng.uniform(3, 15) * kSecond : rng.uniform(10, 120) * kSecond);
  const double draw = rng.uniform();
  const double ignore_p = emergency ? kEmergencyIgnoreP : kIgnoreP;
  const bool expired = offer.has_expires_at() && answer_at >= to_ms(offer.expires_at());
  if (draw < ignore_p || expired) {
    ++stats_.ignored;
    return;
  }

  Job job;
  job.serial = next_serial_++;
  job.order_id = offer.order_id();
  job.elder_id = offer.elder_id();
  job.agency = found->second;
  job.attempt = offer.attempt();
  job.accept =
      draw < ignore_p + (emergency ? kEmergencyAcceptP : kAcceptP) && agency.busy < agency.capacity;
  job.answer_at = answer_at;
  // An offer without a location ((0, 0) is in the Atlantic) counts as next door.
  const bool located = offer.lat() != 0 || offer.lon() != 0;
  job.lat = located ? offer.lat() : agency.lat;
  job.lon = located ? offer.lon() : agency.lon;
  if (job.accept) {
    ++stats_.accepted;
    ++agency.busy;
    const double kmh = offer.category() == kEmergencyResponse ? kVehicleKmh : kWalkingKmh;
    const double nominal_ms = std::max(
        kMinTravelMs, distance_m(agency.lat, agency.lon, job.lat, job.lon) / (kmh / 3.6) * 1000);
    const double factor = rng.chance(kDelayedP) ? rng.uniform(1.5, 2.5) : rng.uniform(0.9, 1.25);
    job.en_route_at =
        answer_at + std::max<TimeMs>(1, scaled(emergency ? rng.uniform(5, 30) * kSecond
                                                         : rng.uniform(1, 10) * kMinute));
    job.eta = job.en_route_at + scaled(nominal_ms * kEtaMargin);
    job.arrive_at = job.en_route_at + std::max<TimeMs>(1, scaled(nominal_ms * factor));
    job.fail = !emergency && rng.chance(kFailP);
    if (job.fail) job.note = kNobodyHome;
    job.in_service_at =
        job.arrive_at + std::max<TimeMs>(1, scaled(job.fail ? rng.uniform(2, 10) * kMinute
                                                            : rng.uniform(5, 60) * kSecond));
    job.finish_at =
        job.in_service_at + std::max<TimeMs>(1, scaled(emergency ? rng.uniform(10, 20) * kMinute
                                                                 : rng.uniform(20, 60) * kMinute));
    // The elder's side, drawn last so that the agency's own decisions stay as they were.
    if (!emergency && rng.chance(options_.elder_cancel_p)) {
      const auto before_setting_out = static_cast<TimeMs>(
          static_cast<double>(job.en_route_at - job.answer_at) * rng.uniform(0.2, 0.8));
      job.cancel_at = job.answer_at + std::max<TimeMs>(1, before_setting_out);
    } else if (!job.fail && rng.chance(options_.elder_rate_p)) {
      const double late = job.arrive_at > job.eta ? 1 : 0;
      job.rating = static_cast<int>(
          std::clamp<long>(std::lround(agency.rating + rng.uniform(-1.5, 0.75) - late), 1, 5));
      job.rate_at = job.finish_at + std::max<TimeMs>(1, scaled(rng.uniform(10, 60) * kMinute));
    }
  } else {
    ++stats_.declined;
    job.note = agency.busy >= agency.capacity ? kAtCapacity : kNoStaff;
  }
  queue_.push(Entry{job.answer_at, job.serial, key});
  jobs_.insert_or_assign(std::move(key), std::move(job));
}

void AgencySimulator::on_cancel(std::string_view order_id) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.order_id != order_id) {
      ++it;
      continue;
    }
    release(it->second);
    ++stats_.cancelled;
    it = jobs_.erase(it);
  }
}

void AgencySimulator::release(Job& job) {
  if (!job.accept || job.released) return;
  --agencies_[job.agency].busy;
  job.released = true;
}

TimeMs AgencySimulator::step_time(const Job& job) {
  switch (job.next) {
    case Job::Step::kAnswer:
      return job.answer_at;
    case Job::Step::kEnRoute:
      return job.en_route_at;
    case Job::Step::kArrive:
      return job.arrive_at;
    case Job::Step::kInService:
      return job.in_service_at;
    case Job::Step::kElderCancel:
      return job.cancel_at;
    case Job::Step::kElderRate:
      return job.rate_at;
    case Job::Step::kFinish:
    case Job::Step::kDone:
      return job.finish_at;
  }
  return job.finish_at;
}

void AgencySimulator::emit_elder_call(Job& job, std::vector<SimRecord>& out) {
  SimRecord& record = out.emplace_back();
  record.topic = InTopic::kCalls;
  record.key = job.elder_id;
  record.ts = step_time(job);
  auto& call = record.message.emplace<vigil::v1::CallEvent>();
  const bool cancel = job.next == Job::Step::kElderCancel;
  call.set_call_id((cancel ? "cancel-" : "rate-") + job.order_id);
  call.set_elder_id(job.elder_id);
  call.set_operator_id(cancel ? "op-01" : "ivr");  // rating is the automatic phone survey
  set_ts(call.mutable_ts(), record.ts);
  auto* action = call.mutable_order_action();
  action->set_order_id(job.order_id);
  if (cancel) {
    action->set_action(vigil::v1::OrderAction::CANCEL);
    action->set_note("elder cancelled: plans changed");
    ++stats_.elder_cancels;
    release(job);
  } else {
    action->set_action(vigil::v1::OrderAction::RATE);
    action->set_rating(job.rating);
    ++stats_.ratings;
  }
  job.next = Job::Step::kDone;
}

void AgencySimulator::emit(Job& job, std::vector<SimRecord>& out) {
  using Update = vigil::v1::AgencyUpdate;
  if (job.next == Job::Step::kElderCancel || job.next == Job::Step::kElderRate) {
    emit_elder_call(job, out);
    return;
  }
  const Agency& agency = agencies_[job.agency];
  SimRecord& record = out.emplace_back();
  record.topic = InTopic::kAgency;
  record.key = job.order_id;
  record.ts = step_time(job);
  auto& update = record.message.emplace<Update>();
  update.set_agency_id(agency.agency_id);
  update.set_order_id(job.order_id);
  set_ts(update.mutable_ts(), record.ts);
  // Where the agency's people are: at base until they set out, at the elder's from arrival.
  const bool at_base = job.next == Job::Step::kAnswer || job.next == Job::Step::kEnRoute;
  update.set_lat(at_base ? agency.lat : job.lat);
  update.set_lon(at_base ? agency.lon : job.lon);

  switch (job.next) {
    case Job::Step::kAnswer:
      if (!job.accept) {
        update.set_status(Update::DECLINED);
        update.set_note(job.note);
        job.next = Job::Step::kDone;
        return;
      }
      update.set_status(Update::ACCEPTED);
      set_ts(update.mutable_eta(), job.eta);
      job.next = job.cancel_at != 0 ? Job::Step::kElderCancel : Job::Step::kEnRoute;
      return;
    case Job::Step::kEnRoute:
      update.set_status(Update::EN_ROUTE);
      set_ts(update.mutable_eta(), job.eta);
      job.next = Job::Step::kArrive;
      return;
    case Job::Step::kArrive:
      update.set_status(Update::ARRIVED);
      job.next = Job::Step::kInService;
      return;
    case Job::Step::kInService:
      if (job.fail) {
        update.set_status(Update::FAILED);
        update.set_note(job.note);
        ++stats_.failed;
        job.next = Job::Step::kDone;
        return;
      }
      update.set_status(Update::IN_SERVICE);
      job.next = Job::Step::kFinish;
      return;
    case Job::Step::kFinish:
    case Job::Step::kElderCancel:
    case Job::Step::kElderRate:
    case Job::Step::kDone:
      update.set_status(Update::COMPLETED);
      ++stats_.completed;
      release(job);  // the agency is free again; the rating may come later
      job.next = job.rating != 0 ? Job::Step::kElderRate : Job::Step::kDone;
      return;
  }
}

void AgencySimulator::due(TimeMs now, std::vector<SimRecord>& out) {
  while (!queue_.empty() && queue_.top().t <= now) {
    Entry entry = queue_.top();
    queue_.pop();
    const auto it = jobs_.find(entry.key);
    if (it == jobs_.end() || it->second.serial != entry.serial) continue;  // cancelled/replaced
    Job& job = it->second;
    emit(job, out);
    if (job.next == Job::Step::kDone) {
      release(job);
      jobs_.erase(it);
      continue;
    }
    entry.t = step_time(job);
    queue_.push(std::move(entry));
  }
}

std::optional<TimeMs> AgencySimulator::next_due() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.top().t;
}

}  // namespace vigil::sim
