#include "engine/runtime/engine.h"


#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>

#include "engine/core/log.h"
#include "engine/core/metrics.h"
#include "engine/core/thread_sched.h"
#include "engine/pipeline/shard_router.h"
#include "engine/rules/local_time.h"
#include "engine/rules/rule_engine.h"
#include "engine/runtime/dispatch_core.h"
#include "engine/runtime/ring_slot.h"
#include "engine/runtime/shard_core.h"

namespace vigil::runtime {

void detail::idle(int& spins) {
  if (++spins < 64) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

namespace {
using detail::idle;

//! A shard's or the dispatcher's turn found nothing to do: a few yields (a record may be a
//! moment away), then parked until a producer publishes or kParkNs passes (the thread's timers
//! are due on time to the millisecond).
constexpr int64_t kParkNs = 1'000'000;
template <class HasWork>
void rest(int& spins, pipeline::Parker& parker, HasWork&& has_work) {
  if (++spins < 4) {
    std::this_thread::yield();
  } else {
    parker.park(has_work, kParkNs);
  }
}
}  // namespace

//! A shard's DispatchPort in live mode: puts order work on the shard's ring to the dispatcher.
//! Used by that shard's thread only.
class Engine::RingPort final : public dispatch::DispatchPort {
 public:
  explicit RingPort(pipeline::SpscRing<DispatchMsg>& ring) : ring_(ring) {}
  void request_order(const dispatch::OrderRequest& request) override {
    DispatchMsg* m = claim();
    m->kind = DispatchMsg::Kind::kOrder;
    m->order = request;
    ring_.publish();
  }
  void order_action(const dispatch::OrderActionRequest& request) override {
    DispatchMsg* m = claim();
    m->kind = DispatchMsg::Kind::kOrderAction;
    m->action = request;
    ring_.publish();
  }
  DispatchMsg* claim() {
    DispatchMsg* m;
    int spins = 0;
    while ((m = ring_.try_claim()) == nullptr) idle(spins);
    return m;
  }

 private:
  pipeline::SpscRing<DispatchMsg>& ring_;
};

Engine::Engine(EngineOptions options, std::shared_ptr<const rules::RuleSet> rules,
               egress::Sink& sink, const Clock& clock)
    : options_(std::move(options)), rules_(std::move(rules)), sink_(sink), clock_(clock) {}

Engine::~Engine() { (void)stop(); }

namespace {
//! Nanoseconds as seconds with two decimals, for log lines.
std::string seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(ns) / 1e9);
  return buf;
}
}  // namespace

Status Engine::load_shards() {
  // Each shard reads every stored elder key and keeps its own (keys are not grouped by
  // shard), so the shards load at once, a thread each, rather than one after the other: the
  // load is most of a restart, and one after the other it used one core of two
  // (bench/README.md, session 11). A shard's load touches only that shard and the store.
  std::vector<std::optional<Error>> failed(shards_.size());
  std::vector<std::thread> loaders;
  loaders.reserve(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    loaders.emplace_back([this, i, &failed] {
      if (auto s = shards_[i]->load(*store_); !s) failed[i] = s.error();
    });
  }
  for (auto& t : loaders) t.join();
  for (auto& f : failed) {
    if (f) return *f;
  }
  return ok();
}

Engine::StartTimes Engine::start_times() const {
  StartTimes t = start_times_;
  if (!options_.background_load || task_mode()) return t;
  int64_t last = 0;
  for (const auto& d : shard_loaded_ns_) {
    const int64_t ns = d->load(std::memory_order_acquire);
    if (ns == 0) return StartTimes{t.open_s, -1};
    last = std::max(last, ns);
  }
  t.load_s = static_cast<double>(last - start_ns_) / 1e9;
  return t;
}

bool Engine::loaded() const {
  if (!started_) return false;
  for (const auto& d : shard_loaded_ns_) {
    if (d->load(std::memory_order_acquire) == 0) return false;
  }
  return true;
}

Status Engine::start() {
  if (options_.shards == 0) options_.shards = 1;
  if (auto s = rules::load_time_zones(); !s) return s;  // before any thread reads a local time
  // Elapsed time of the start's two long parts, for its log line: RocksDB's open (the WAL
  // replay after a crash) and the shards' load of the elders.
  const int64_t open_ns = RealClock::instance().steady_ns();
  start_ns_ = clock_.steady_ns();
  auto store = state::StateStore::open(options_.data_dir);
  if (!store) return store.error();
  store_ = std::move(store.value());
  store_->set_ingest_min_bytes(static_cast<size_t>(
      std::min<uint64_t>(options_.checkpoint_file_min_bytes, SIZE_MAX)));
  const int64_t opened_ns = RealClock::instance().steady_ns();
  auto offsets = store_->load_offsets();
  if (!offsets) return offsets.error();
  stored_offsets_ = offsets.value();
  offsets_ = stored_offsets_;
  if (auto s = load_identity_and_recover(); !s) return s;

  // Every owner thread writes into its own sink (engine/runtime/outbox.h).
  const uint32_t owners = options_.shards + 1;
  for (uint32_t i = 0; i < owners; ++i) {
    owner_sinks_.push_back(std::make_unique<OwnerSink>(options_.observer,
                                                       options_.exactly_once ? nullptr : &sink_));
  }
  sealed_.resize(owners);
  const int32_t tasks = task_mode() ? options_.task_log->partitions() : 0;
  options_.dispatch.task_partitions = tasks;
  dispatch_ = std::make_unique<DispatchCore>(options_.dispatch, *owner_sinks_.back());
  const bool routed = options_.dispatch.routing == dispatch::Routing::kKafka;
  if (routed) dispatch_->route_through_kafka(options_.agency_region);
  // Task mode: state comes from the changelog as tasks are assigned (assign_tasks); what the
  // data directory holds may be stale (another instance owned the task since).
  if (!task_mode()) {
    if (auto s = dispatch_->dispatcher().load(*store_, clock_.now_ms()); !s) return s;
  }
  dispatch_ring_ = std::make_unique<pipeline::SpscRing<DispatchMsg>>(options_.ring_capacity);
  dispatch_ring_->set_consumer(&dispatch_parker_);
  const uint32_t n = options_.shards;
  shard_ops_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    shard_to_dispatch_.push_back(std::make_unique<pipeline::SpscRing<DispatchMsg>>(1024));
    shard_to_dispatch_.back()->set_consumer(&dispatch_parker_);
    if (routed) {  // order work to the region's owner via `orders`, from the shard's own sink
      auto region_of = [this, i](const std::string& id) {
        const registry::ElderState* e = shards_[i]->elder(id);
        return e != nullptr ? std::string(e->profile.region()) : std::string();
      };
      ports_.push_back(std::make_unique<RoutedPort>(*owner_sinks_[i], std::move(region_of)));
    } else {
      ports_.push_back(std::make_unique<RingPort>(*shard_to_dispatch_.back()));
    }
    shard_rings_.push_back(std::make_unique<pipeline::SpscRing<ShardMsg>>(
        options_.ring_capacity, [](ShardMsg& m) { reserve_slot(m.rec); }));
    shard_parkers_.push_back(std::make_unique<pipeline::Parker>());
    shard_rings_.back()->set_consumer(shard_parkers_.back().get());
    ShardOptions so;
    so.max_out_of_order_ms = options_.max_out_of_order_ms;
    so.late_timer_ms = options_.late_timer_ms;
    so.alarm = options_.alarm;
    so.task_partitions = tasks;
    shards_.push_back(std::make_unique<ShardCore>(i, n, rules_, *owner_sinks_[i], *ports_.back(), so));
    shards_.back()->start_timers_at(timer_now());
    shard_done_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    shard_reloads_.push_back(std::make_unique<std::atomic<uint64_t>>(0));
    shard_loaded_ns_.push_back(std::make_unique<std::atomic<int64_t>>(0));
  }
  const int64_t load_ns = RealClock::instance().steady_ns();
  const bool background = options_.background_load && !task_mode();
  if (background) {
    for (auto& sh : shards_) sh->begin_load(*store_);
  } else {
    if (!task_mode()) {
      if (auto s = load_shards(); !s) return s;
    }
    const int64_t now_ns = std::max<int64_t>(clock_.steady_ns(), 1);
    for (auto& d : shard_loaded_ns_) d->store(now_ns, std::memory_order_release);
  }
  const int64_t loaded_ns = RealClock::instance().steady_ns();
  start_times_.open_s = static_cast<double>(opened_ns - open_ns) / 1e9;
  start_times_.load_s = static_cast<double>(loaded_ns - load_ns) / 1e9;
  if (task_mode()) {
    const auto tasks = static_cast<size_t>(options_.task_log->partitions());
    owned_.assign(tasks, false);
    barrier_owned_.assign(tasks, false);
    fenced_.assign(tasks, false);
    task_bytes_.assign(tasks, 0);
  }
  size_t elders = 0, timers = 0;
  for (auto& s : shards_) {
    elders += s->elders();
    timers += s->timers();
  }
  log::info("engine", "state ", background ? "opened" : "loaded", " from ", options_.data_dir, ": ",
            background ? "elders load in the background, " : "",
            elders, " elders, ", timers,
            " armed timers, ", dispatch_->dispatcher().agencies().size(), " agencies, ",
            dispatch_->dispatcher().orders_held(), " open or recent orders (",
            dispatch_->dispatcher().orders_closed(), " closed), ",
            stored_offsets_.size(), " partition offsets; ", seconds(loaded_ns - open_ns),
            " s (RocksDB open ", seconds(opened_ns - open_ns), " s, elders ",
            seconds(loaded_ns - load_ns), " s)");
  shard_cpus_ = shard_cpus(options_.pin_shards, n, allowed_cpus());
  for (uint32_t i = 0; i < n; ++i) threads_.emplace_back([this, i] { shard_loop(i); });
  threads_.emplace_back([this] { dispatch_loop(); });
  committer_ = std::thread([this] { commit_loop(); });
  started_ = true;
  last_checkpoint_ns_ = clock_.steady_ns();
  return ok();
}

void Engine::submit(const InputRecord& rec) {
  // The next offset of the record's partition: a direct slot per (topic, partition < 64) into
  // offsets_ (map nodes do not move), so the hot path does no map search.
  const size_t at =
      static_cast<size_t>(rec.topic) * kOffsetSlots + static_cast<size_t>(rec.partition);
  if (rec.partition >= 0 && rec.partition < static_cast<int32_t>(kOffsetSlots)) {
    if (at >= offset_slot_.size()) offset_slot_.resize(at + 1, nullptr);
    int64_t*& slot = offset_slot_[at];
    if (slot == nullptr) slot = &offsets_[{rec.topic, rec.partition}];
    if (task_mode() && !owns(rec, *slot)) return;
    *slot = rec.offset + 1;
  } else {
    int64_t& next = offsets_[{rec.topic, rec.partition}];
    if (task_mode() && !owns(rec, next)) return;
    next = rec.offset + 1;
  }
  bool to_dispatch = rec.topic == InTopic::kAgency || rec.topic == InTopic::kOrders;
  if (rec.topic == InTopic::kRegistry &&
      codec::decode(rec.payload, rec.format, &registry_) && registry_.has_agency()) {
    to_dispatch = true;
  }
  if (to_dispatch) {
    push(*dispatch_ring_, [&](DispatchMsg& m) {
      m.kind = DispatchMsg::Kind::kRecord;
      copy_to_slot(rec, m.rec);
    });
    return;
  }
  const uint64_t hash = pipeline::stable_hash(rec.key);
  const uint32_t i = pipeline::shard_of_hash(hash, options_.shards);
  push(*shard_rings_[i], [&](ShardMsg& m) {
    m.kind = ShardMsg::Kind::kRecord;
    m.key_hash = hash;
    copy_to_slot(rec, m.rec);
  });
}

void Engine::shard_loop(uint32_t i) {
  enter_shard_thread(i);  // name, nice, slice, CPU (engine_threads.cc)
  ShardCore& core = *shards_[i];
  auto& ring = *shard_rings_[i];
  auto& to_dispatch = *shard_to_dispatch_[i];
  // Elders serialised per loop turn while a snapshot is in progress (~1-1.5 us each): few while
  // records are flowing, more when the ring was empty. A snapshot of every elder is ~75 ms of
  // a shard's CPU; taken 128 per turn it held records back ~50 ms at each checkpoint of the
  // bench's half-rate phase. It has no deadline of its own: an elder still owed is serialised
  // before its next change (copy-on-write), so records go first. An idle turn's step is
  // followed by a yield (background work: whoever else is runnable on this CPU goes first).
  // Session 15: 256 a turn with no yield took a core flat out for ~100 ms while the other core
  // ran the other shard, the dispatcher's snapshot and the feeder in turns (perf sched);
  // bench/README.md "Session 15".
  constexpr size_t kSnapshotStepBusy = 16;
  constexpr size_t kSnapshotStepIdle = 64;
  // Rule timers fired per loop turn (a few us each): a burst due at one instant is worked off
  // between batches of records instead of holding them back.
  constexpr size_t kTimerStep = 128;
  // Stored elders loaded per loop turn during a background load (a few us each): few while
  // records are flowing, so they wait ~100 us at most; many when the ring was empty.
  constexpr size_t kLoadStepBusy = 32;
  constexpr size_t kLoadStepIdle = 512;
  // How far ahead each prefetch stage looks (ShardCore::prefetch): the index line first, the
  // elder's record once that line is there, then what the record points to.
  // Stages 3 and 4 (the whole slot block, then the slots' extras) only for an elder a snapshot
  // in progress still owes (ShardCore::prefetch).
  constexpr size_t kLookAhead[5] = {12, 6, 2, 2, 1};
  uint64_t snapshot_epoch = 0;  //!< the barrier whose snapshot is being written, 0 if none
  int spins = 0;
  for (;;) {
    int n = 0;
    ShardMsg* m;
    const TimeMs now = clock_.now_ms();  // one clock read per batch, not per record
    while (n < 512 && (m = ring.front()) != nullptr) {
      ++n;
      // Look-ahead: each record's lookup and rules miss the cache several times (100,000s of
      // elders do not fit in it); asking for those lines a few records ahead, in the order
      // the lookup needs them, overlaps the misses with this record's work.
      for (int stage = 0; stage < (snapshot_epoch != 0 ? 5 : 3); ++stage) {
        const ShardMsg* a = ring.peek(kLookAhead[stage]);
        if (a != nullptr && a->kind == ShardMsg::Kind::kRecord) core.prefetch(a->key_hash, stage);
      }
      switch (m->kind) {
        case ShardMsg::Kind::kRecord:
          core.process(m->rec, now);
          break;
        case ShardMsg::Kind::kBarrier: {
          // Copy-on-write: the dirty elders are serialised over the next batches (or just
          // before they change), not all here; the barrier goes on to the dispatcher at once,
          // ahead of any order request made after it.
          if (m->tasks) {
            for (int32_t t : m->tasks->rewrite) core.mark_task_dirty(t);
          }
          core.begin_snapshot(shard_ops_[i]);
          owner_sinks_[i]->seal(sealed_[i].records);
          if (m->tasks) {  // handed over: serialised above, forgotten now, before any timer
            for (int32_t t : m->tasks->drop) core.drop_task(t);
            m->tasks.reset();
          }
          snapshot_epoch = m->epoch;
          push(to_dispatch, [&](DispatchMsg& d) {
            d.kind = DispatchMsg::Kind::kBarrier;
            d.epoch = snapshot_epoch;
          });
          break;
        }
        case ShardMsg::Kind::kRestore:
          core.restore(m->tasks->kv, clock_.now_ms());
          m->tasks.reset();
          break;
        case ShardMsg::Kind::kReload: {
          const auto stats = core.reload(std::move(m->rules), clock_.now_ms());
          m->rules.reset();
          log::info("engine", "shard ", i, " reloaded rules: ", stats.kept, " kept, ",
                    stats.changed, " changed, ", stats.added, " added, ", stats.removed,
                    " removed (", stats.alarms_cleared, " alarms cleared), ",
                    stats.timers_rearmed, " timers kept");
          shard_reloads_[i]->fetch_add(1, std::memory_order_release);
          break;
        }
        case ShardMsg::Kind::kStop:
          push(to_dispatch, [&](DispatchMsg& d) { d.kind = DispatchMsg::Kind::kStop; });
          ring.pop();
          return;
      }
      ring.pop();
    }
    const bool timers_done = core.advance_to(timer_now(), kTimerStep);
    if (core.loading() && core.continue_load(n > 0 ? kLoadStepBusy : kLoadStepIdle)) {
      const int64_t done_ns = clock_.steady_ns();
      const auto st = core.load_stats();
      log::info("engine", "shard ", i, " loaded ", st.background + st.on_demand, " elders in ",
                seconds(done_ns - start_ns_), " s since start (", st.on_demand,
                " of them first asked for by a record), ", core.timers(), " armed timers");
      shard_loaded_ns_[i]->store(std::max<int64_t>(done_ns, 1), std::memory_order_release);
    }
    if (snapshot_epoch != 0 &&
        core.continue_snapshot(n > 0 ? kSnapshotStepBusy : kSnapshotStepIdle)) {
      shard_done_[i]->store(snapshot_epoch, std::memory_order_release);
      snapshot_epoch = 0;
      continue;
    }
    if (snapshot_epoch != 0 || !timers_done || core.loading()) {  // more to do: no idling
      // A snapshot's idle step is background work (kSnapshotStepIdle): others go first.
      if (snapshot_epoch != 0 && n == 0) std::this_thread::yield();
      continue;
    }
    if (n == 0) rest(spins, *shard_parkers_[i], [&] { return ring.front() != nullptr; });
    else spins = 0;
  }
}

void Engine::reload(std::shared_ptr<const rules::RuleSet> rules) {
  if (!started_ || stopped_) return;
  rules_ = rules;
  for (auto& ring : shard_rings_) {
    push(*ring, [&](ShardMsg& m) {
      m.kind = ShardMsg::Kind::kReload;
      m.rules = rules;
    });
  }
  metrics().rule_reloads.add();
}

uint64_t Engine::reloads_applied() const {
  uint64_t least = UINT64_MAX;
  for (const auto& r : shard_reloads_) least = std::min(least, r->load(std::memory_order_acquire));
  return shard_reloads_.empty() ? 0 : least;
}

void Engine::dispatch_loop() {
  enter_dispatch_thread();
  DispatchCore& core = *dispatch_;
  // Ring 0 is from ingest, ring 1+i from shard i.
  std::vector<pipeline::SpscRing<DispatchMsg>*> rings{dispatch_ring_.get()};
  for (auto& r : shard_to_dispatch_) rings.push_back(r.get());
  std::vector<uint64_t> at_barrier(rings.size(), 0);  // epoch a ring is held at, 0 if none
  std::vector<bool> stopped(rings.size(), false);
  size_t stops = 0;
  uint64_t aligning = 0;
  uint64_t snapshot_epoch = 0;  //!< the barrier whose snapshot is being written, 0 if none
  // Orders serialised per loop turn while a snapshot is in progress (~4 us each, two entries);
  // an idle turn's step is followed by a yield, as the shards' (shard_loop).
  constexpr size_t kSnapshotStepBusy = 8;
  constexpr size_t kSnapshotStepIdle = 16;
  std::shared_ptr<const TaskWork> work;  // of the barrier being aligned
  int spins = 0;
  while (stops < rings.size()) {
    int n = 0;
    for (size_t r = 0; r < rings.size(); ++r) {
      if (stopped[r] || at_barrier[r] != 0) continue;
      DispatchMsg* m;
      int taken = 0;
      while (taken < 256 && at_barrier[r] == 0 && !stopped[r] && (m = rings[r]->front()) != nullptr) {
        ++taken;
        const TimeMs now = clock_.now_ms();
        switch (m->kind) {
          case DispatchMsg::Kind::kRecord: core.process(m->rec, now); break;
          case DispatchMsg::Kind::kOrder: core.advance_to(now); core.request_order(m->order); break;
          case DispatchMsg::Kind::kOrderAction: core.order_action(m->action); break;
          case DispatchMsg::Kind::kRestore:
            core.restore(m->tasks->kv, now);
            m->tasks.reset();
            break;
          case DispatchMsg::Kind::kBarrier:
            at_barrier[r] = m->epoch;
            aligning = m->epoch;
            if (m->tasks) work = std::move(m->tasks);  // only the ingest ring's barrier has it
            break;
          case DispatchMsg::Kind::kStop:
            stopped[r] = true;
            ++stops;
            break;
        }
        rings[r]->pop();
      }
      n += taken;
    }
    if (aligning != 0) {
      bool aligned = true;
      for (size_t r = 0; r < rings.size(); ++r) aligned &= (at_barrier[r] == aligning || stopped[r]);
      if (aligned) {
        if (work) {
          for (int32_t t : work->rewrite) core.mark_task_dirty(t);
        }
        // Copy-on-write, as the shards': the orders changed since the last checkpoint are
        // serialised over the next turns (or just before they change), not all here, where
        // ~12,000 of them held the dispatch thread for 50-120 ms at each checkpoint of the
        // bench (bench/README.md, session 9).
        core.dispatcher().begin_snapshot(dispatch_ops_);
        snapshot_epoch = aligning;
        owner_sinks_.back()->seal(sealed_.back().records);
        if (work) {
          for (int32_t t : work->drop) core.drop_task(t);  // finishes the snapshot first
          work.reset();
        }
        std::fill(at_barrier.begin(), at_barrier.end(), 0);
        aligning = 0;
      }
    }
    core.advance_to(clock_.now_ms());
    if (snapshot_epoch != 0 &&
        core.dispatcher().continue_snapshot(n > 0 ? kSnapshotStepBusy : kSnapshotStepIdle)) {
      dispatch_done_.store(snapshot_epoch, std::memory_order_release);
      snapshot_epoch = 0;
      continue;
    }
    if (snapshot_epoch != 0) {  // more to write: no idling, but others runnable here go first
      if (n == 0) std::this_thread::yield();
      continue;
    }
    if (n == 0) {
      rest(spins, dispatch_parker_, [&] {
        for (size_t r = 0; r < rings.size(); ++r) {
          if (!stopped[r] && at_barrier[r] == 0 && rings[r]->front() != nullptr) return true;
        }
        return false;
      });
    } else {
      spins = 0;
    }
  }
}

void Engine::begin_checkpoint(std::shared_ptr<const TaskWork> work) {
  ++epoch_;
  in_flight_ = true;
  timing_ = CheckpointTiming{epoch_, clock_.steady_ns()};
  barrier_offsets_ = offsets_;
  if (task_mode()) {
    barrier_owned_ = owned_;
    std::vector<int32_t> rewrite;
    {
      std::lock_guard lock(rewrite_mu_);
      rewrite.swap(rewrite_due_);
    }
    std::erase_if(rewrite, [&](int32_t t) { return !owned_[static_cast<size_t>(t)]; });
    if (!rewrite.empty()) {
      auto w = std::make_shared<TaskWork>(work ? *work : TaskWork{});
      w->rewrite = std::move(rewrite);
      work = std::move(w);
    }
  }
  barrier_work_ = work;
  for (auto& ring : shard_rings_) {
    push(*ring, [&](ShardMsg& m) {
      m.kind = ShardMsg::Kind::kBarrier;
      m.epoch = epoch_;
      m.tasks = work;
    });
  }
  push(*dispatch_ring_, [&](DispatchMsg& m) {
    m.kind = DispatchMsg::Kind::kBarrier;
    m.epoch = epoch_;
    m.tasks = work;
  });
}

bool Engine::checkpoint_done() const {
  for (const auto& d : shard_done_) {
    if (d->load(std::memory_order_acquire) != epoch_) return false;
  }
  return dispatch_done_.load(std::memory_order_acquire) == epoch_;
}

Status Engine::load_identity_and_recover() {
  auto id = store_->get(state::kInstanceKey);
  if (!id) return id.error();
  if (id.value()) {
    instance_id_ = *id.value();
  } else {
    std::random_device rd;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%08x%08x", rd(), rd());
    instance_id_ = buf;
    state::StateOps ops;
    ops.put(state::kInstanceKey, instance_id_);
    if (auto s = store_->commit({&ops}, {}); !s) return s;
  }
  auto read_u64 = [&](const char* key) -> Result<uint64_t> {
    auto v = store_->get(key);
    if (!v) return v.error();
    uint64_t n = 0;
    if (v.value()) std::from_chars(v.value()->data(), v.value()->data() + v.value()->size(), n);
    return n;
  };
  auto epoch = read_u64(state::kEpochKey);
  if (!epoch) return epoch.error();
  auto delivered = read_u64(state::kDeliveredKey);
  if (!delivered) return delivered.error();
  epoch_ = epoch.value();
  committed_epoch_.store(epoch_);
  if (epoch.value() <= delivered.value()) return ok();
  // Task mode: each task's last outputs are in its changelog marker, delivered by whoever
  // restores the task (assign_tasks), which may be another instance; the outbox here is moot.
  if (task_mode()) return ok();

  // The last checkpoint's outputs may be partly delivered: send what the sink lacks.
  auto blob = store_->get(state::kOutboxKey);
  if (!blob) return blob.error();
  std::vector<OutRecord> outbox;
  if (blob.value() && !decode_outbox(*blob.value(), &outbox)) {
    return make_error(Errc::kIo, "the outbox of checkpoint " + std::to_string(epoch_) +
                                     " in " + options_.data_dir + " is unreadable");
  }
  std::vector<uint32_t> present;
  if (!outbox.empty() && sink_.can_find_tagged()) {
    auto pos = store_->get(state::kOutputPositionsKey);
    if (!pos) return pos.error();
    auto found = sink_.find_tagged(decode_positions(pos.value() ? *pos.value() : std::string()),
                                   instance_id_, epoch_, options_.delivery_timeout_ms);
    if (!found) {
      return make_error(Errc::kBroker, "cannot tell which outputs of checkpoint " +
                                           std::to_string(epoch_) + " were delivered: " +
                                           found.error().message);
    }
    present = std::move(found).value();
  }
  deliver(outbox, epoch_, present, sink_);
  // The observer (the API's views, rebuilt from the topics before this) sees them too.
  if (options_.observer != nullptr) deliver(outbox, epoch_, present, *options_.observer);
  found_delivered_ = present.size();
  redelivered_ = outbox.size() - present.size();
  if (auto s = wait_delivered(); !s) return s;
  state::StateOps ops;
  ops.put(state::kDeliveredKey, std::to_string(epoch_));
  if (auto s = store_->commit({&ops}, {}); !s) return s;
  log::info("engine", "checkpoint ", epoch_, " outputs: ", present.size(),
            " found delivered, ", redelivered_, " delivered again after a crash");
  return ok();
}

Status Engine::maybe_checkpoint() {
  if (!started_ || stopped_) return ok();
  if (!in_flight_ && task_mode()) {
    if (auto d = drop_fenced(); !d) return d;
  }
  if (in_flight_) {
    if (committing_) {
      if (commit_finished()) {
        last_checkpoint_took_ns_ = commit_done_ns_ - last_checkpoint_ns_;
        return take_commit_result();
      }
    } else if (checkpoint_done()) {
      start_commit();
    }
    return ok();
  }
  // The interval is elapsed time, not engine time: a clock that follows event time (replay,
  // the bench's feed clock) must not change how often state reaches the disk.
  const int64_t now_ns = clock_.steady_ns();
  int64_t interval_ns = options_.commit_interval_ms * 1'000'000;
  if (options_.commit_max_busy > 0) {
    const auto stretched = static_cast<int64_t>(static_cast<double>(last_checkpoint_took_ns_) /
                                                options_.commit_max_busy);
    interval_ns = std::max(interval_ns, std::min(stretched, options_.commit_max_interval_ms * 1'000'000));
  }
  if (now_ns - last_checkpoint_ns_ >= interval_ns) {
    last_checkpoint_ns_ = now_ns;
    begin_checkpoint();
  }
  return ok();
}

Status Engine::stop() {
  if (!started_ || stopped_) return ok();
  // Finish the checkpoint in flight, then take a final one of everything submitted.
  Status result = finish_in_flight();
  begin_checkpoint();
  if (auto s = finish_in_flight(); !s) result = s;
  {
    std::lock_guard lock(commit_mu_);
    commit_exit_ = true;
  }
  commit_cv_.notify_one();
  committer_.join();
  if (result && options_.exactly_once) {
    // A clean stop leaves nothing to look for at the next start.
    if (auto s = wait_delivered(); !s) {
      result = s;
    } else {
      state::StateOps ops;
      ops.put(state::kDeliveredKey, std::to_string(committed_epoch_.load()));
      if (auto c = store_->commit({&ops}, {}); !c) result = c;
    }
  }
  for (auto& ring : shard_rings_) push(*ring, [](ShardMsg& m) { m.kind = ShardMsg::Kind::kStop; });
  push(*dispatch_ring_, [](DispatchMsg& m) { m.kind = DispatchMsg::Kind::kStop; });
  for (auto& t : threads_) t.join();
  threads_.clear();
  stopped_ = true;
  return result;
}

alarm::AnswerTimeReport Engine::answer_times() const {
  alarm::AnswerTimes all(options_.alarm.first_escalation, options_.alarm.second_escalation);
  for (const auto& s : shards_) all.merge(s->answer_times());
  return all.report();
}

}  // namespace vigil::runtime
