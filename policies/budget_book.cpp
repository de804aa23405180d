#include "policies/budget_book.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace spendwall::policies {
namespace book_detail {

/// The limit of a window that has none: every reservation fits.
constexpr NanoUsd kNoLimit = std::numeric_limits<NanoUsd>::max();
/// In a slot's in-flight count: the control thread is resetting the slot for a new window.
constexpr std::uint64_t kLockedBit = std::uint64_t{1} << 63;
/// Slots per window: the current one, the one it rolled over from, and two spares, so a
/// rollover finds a slot free of reservations even when requests straddle two boundaries.
constexpr std::size_t kSlotsPerWindow = 4;
constexpr std::uint8_t kNoSlotIndex = 0xff;

/// One calendar window's counters. Workers touch only the atomics; `bounds` and
/// `generation` are the control thread's, written while the slot is locked.
struct alignas(64) WindowSlot {
  SpendLedger ledger;
  std::atomic<NanoUsd> limit{kNoLimit};
  std::atomic<NanoUsd> ceiling_limit{kNoLimit};
  std::atomic<std::int64_t> end_seconds{0};    ///< bounds.end, for retry-after on workers
  std::atomic<std::uint64_t> holders{0};       ///< reservations out, plus kLockedBit
  std::atomic<std::uint8_t> first_refusal{0};  ///< 1 + BudgetAction; 0 = none yet
  WindowBounds bounds;
  std::uint64_t generation = 0;  ///< 0: never opened
};

struct BudgetWindow {
  std::atomic<std::uint8_t> current{0};
  std::array<WindowSlot, kSlotsPerWindow> slots;
  std::atomic<NanoUsd> overshoot_total{0};
  std::uint8_t previous = kNoSlotIndex;  ///< control thread
  std::uint64_t opened = 0;              ///< control thread: windows opened so far
};

struct EffectiveLimit {
  NanoUsd limit = kNoLimit;
  NanoUsd ceiling_limit = kNoLimit;
  const config::OverrideSpec* from_override = nullptr;
};

}  // namespace book_detail

using book_detail::BudgetWindow;
using book_detail::kNoLimit;
using book_detail::WindowSlot;

struct WorkflowBudget {
  // Read by workers, written by the control thread (each field is valid on its own).
  std::atomic<std::uint8_t> on_exceeded{static_cast<std::uint8_t>(config::OnExceeded::block)};
  std::atomic<NanoUsd> session_cap{0};  ///< 0 = no cap
  std::array<BudgetWindow, kWindowKindCount> windows;
  /// Decisions by BudgetAction, for the metrics; relaxed counters.
  std::array<std::atomic<std::uint64_t>, kBudgetActionCount> decisions{};
  // Constant after creation.
  std::string name;
  std::uint32_t ordinal = 0;
  std::uint64_t name_hash = 0;
  // Control thread only.
  config::WorkflowPolicy policy;
  bool present = false;                        ///< in the current config
  std::optional<std::size_t> active_override;  ///< index into policy.overrides
};

namespace {

constexpr std::size_t kNoWindow = kWindowKindCount;

std::size_t index_of(WindowKind kind) noexcept { return static_cast<std::size_t>(kind); }

template <class Spec>
std::optional<NanoUsd> limit_of(const Spec& spec, WindowKind kind) noexcept {
  return kind == WindowKind::daily ? spec.daily : spec.monthly;
}

/// limit × ceiling, rounded down so the ceiling is never exceeded; kNoLimit beyond range.
NanoUsd scale(NanoUsd limit, double factor) noexcept {
  const long double scaled = std::floor(static_cast<long double>(limit) * factor);
  if (!(scaled < static_cast<long double>(kNoLimit))) return kNoLimit;
  return static_cast<NanoUsd>(scaled);
}

book_detail::EffectiveLimit effective_limit(const WorkflowBudget& workflow, WindowKind kind) {
  book_detail::EffectiveLimit result;
  if (!workflow.present) return result;
  std::optional<NanoUsd> limit;
  if (workflow.active_override) {
    const config::OverrideSpec& active = workflow.policy.overrides[*workflow.active_override];
    limit = limit_of(active, kind);
    if (limit) result.from_override = &active;
  }
  const auto& budget = workflow.policy.budget;
  if (!limit && budget) limit = limit_of(*budget, kind);
  if (!limit) return result;
  result.limit = std::max<NanoUsd>(*limit, 0);
  if (budget && budget->ceiling) result.ceiling_limit = scale(result.limit, *budget->ceiling);
  return result;
}

std::int64_t seconds_of(Seconds time) noexcept { return time.time_since_epoch().count(); }

/// Holds the current slot of `window` for a reservation. A stale index may point at a slot
/// the control thread is resetting (lock bit set): then the index is read again, and by
/// then it names the new current slot.
std::uint8_t hold_current(BudgetWindow& window) noexcept {
  for (;;) {
    const std::uint8_t index = window.current.load(std::memory_order_acquire);
    WindowSlot& slot = window.slots[index];
    if ((slot.holders.fetch_add(1, std::memory_order_acquire) & book_detail::kLockedBit) == 0) {
      return index;
    }
    slot.holders.fetch_sub(1, std::memory_order_relaxed);
  }
}

void unhold(WindowSlot& slot) noexcept { slot.holders.fetch_sub(1, std::memory_order_release); }

using HeldSlots = std::array<WindowSlot*, kWindowKindCount>;

enum class Bound : std::uint8_t { limit, ceiling };

NanoUsd bound_of(const WindowSlot& slot, Bound bound) noexcept {
  return (bound == Bound::limit ? slot.limit : slot.ceiling_limit).load(std::memory_order_relaxed);
}

/// Reserves `amount` in every window under `bound`. On the first window that refuses,
/// gives back what was taken and returns its index; kNoWindow when all accepted.
std::size_t reserve_all(const HeldSlots& slots, NanoUsd amount, Bound bound) noexcept {
  for (std::size_t kind = 0; kind < kWindowKindCount; ++kind) {
    const NanoUsd limit = bound_of(*slots[kind], bound);
    if (!slots[kind]->ledger.reserve(amount, limit, limit != kNoLimit)) {
      for (std::size_t taken = 0; taken < kind; ++taken) slots[taken]->ledger.release(amount);
      return kind;
    }
  }
  return kNoWindow;
}

void note_first_refusal(WindowSlot& slot, BudgetAction action) noexcept {
  // A load first: once set, the flag costs refused requests no contended write.
  if (slot.first_refusal.load(std::memory_order_relaxed) != 0) return;
  std::uint8_t none = 0;
  slot.first_refusal.compare_exchange_strong(
      none, static_cast<std::uint8_t>(1 + static_cast<int>(action)), std::memory_order_relaxed);
}

/// The latest end among the windows `amount` does not fit under `bound`: the earliest
/// instant the request could be admitted again.
std::int64_t reset_seconds(const HeldSlots& slots, NanoUsd amount, Bound bound) noexcept {
  std::int64_t latest = 0;
  for (const WindowSlot* slot : slots) {
    const NanoUsd limit = bound_of(*slot, bound);
    if (limit != kNoLimit && !slot->ledger.would_fit(amount, limit)) {
      latest = std::max(latest, slot->end_seconds.load(std::memory_order_relaxed));
    }
  }
  return latest;
}

/// Settled spend beyond `limit` that a settlement of `actual` adds, given the spend just
/// before it; the sum over settlements is exactly max(0, spent − limit) for a fixed limit.
NanoUsd overshoot_added(NanoUsd before, NanoUsd actual, NanoUsd limit) noexcept {
  const NanoUsd after = before + actual;
  const NanoUsd floor = std::max(before, limit);
  return after > floor ? after - floor : 0;
}

WindowView view_of(const WorkflowBudget& workflow, const BudgetWindow& window,
                   const WindowSlot& slot, WindowKind kind, bool current) {
  WindowView view;
  view.kind = kind;
  view.bounds = slot.bounds;
  view.spent = slot.ledger.spent();
  view.reserved = slot.ledger.reserved();
  const NanoUsd limit = slot.limit.load(std::memory_order_relaxed);
  if (limit != kNoLimit) {
    view.limit = limit;
    view.remaining = limit - view.spent - view.reserved;
    view.utilization = limit > 0 ? static_cast<double>(view.spent) / static_cast<double>(limit)
                                 : (view.spent > 0 ? 1.0 : 0.0);
    view.overshoot = std::max<NanoUsd>(view.spent - limit, 0);
  }
  const NanoUsd ceiling_limit = slot.ceiling_limit.load(std::memory_order_relaxed);
  if (ceiling_limit != kNoLimit) view.ceiling_limit = ceiling_limit;
  view.overshoot_total = window.overshoot_total.load(std::memory_order_relaxed);
  if (const std::uint8_t refusal = slot.first_refusal.load(std::memory_order_relaxed)) {
    view.first_refusal = static_cast<BudgetAction>(refusal - 1);
  }
  if (current) {
    if (const auto* active = effective_limit(workflow, kind).from_override) {
      view.override_name = active->name;
    }
  }
  return view;
}

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device() ^ 0x5157'4e44'7761'6c6cull;
}

}  // namespace

std::string_view budget_timezone(const config::WorkflowPolicy& policy) noexcept {
  return policy.budget ? std::string_view(policy.budget->timezone) : std::string_view("UTC");
}

WindowBounds workflow_window(const config::WorkflowPolicy& policy, WindowKind kind, TimePoint at) {
  if (auto bounds = window_bounds(kind, budget_timezone(policy), at)) return *bounds;
  return *window_bounds(kind, "UTC", at);
}

std::string_view to_string(BudgetAction action) noexcept {
  switch (action) {
    case BudgetAction::admit:
      return "admit";
    case BudgetAction::downgrade:
      return "downgrade";
    case BudgetAction::alert:
      return "alert";
    case BudgetAction::block:
      return "block";
    case BudgetAction::session_block:
      return "session_block";
  }
  return "admit";
}

std::string_view budget_action_label(BudgetAction action) noexcept {
  switch (action) {
    case BudgetAction::admit:
      return "none";
    case BudgetAction::downgrade:
      return "downgraded";
    case BudgetAction::alert:
      return "alerted";
    case BudgetAction::block:
      return "blocked";
    case BudgetAction::session_block:
      return "session_blocked";
  }
  return "none";
}

std::string_view to_string(RefusalCause cause) noexcept {
  switch (cause) {
    case RefusalCause::none:
      return "none";
    case RefusalCause::limit:
      return "limit";
    case RefusalCause::ceiling:
      return "ceiling";
    case RefusalCause::session_cap:
      return "session_cap";
    case RefusalCause::session_table_full:
      return "session_table_full";
  }
  return "none";
}

BudgetBook::BudgetBook(const config::ConfigSnapshot& config, const Clock& clock,
                       BudgetBookOptions options)
    : clock_(clock), options_(options), sessions_(options.max_sessions) {
  if (options_.hash_seed == 0) options_.hash_seed = random_seed();
  apply(config);
}

BudgetBook::~BudgetBook() = default;

// ---- Worker threads ----------------------------------------------------------------------

Admission BudgetBook::admit(WorkflowBudget& workflow, const AdmissionRequest& request) noexcept {
  Admission admission = decide(workflow, request);
  workflow.decisions[static_cast<std::size_t>(admission.action)].fetch_add(
      1, std::memory_order_relaxed);
  return admission;
}

Admission BudgetBook::decide(WorkflowBudget& workflow, const AdmissionRequest& request) noexcept {
  const NanoUsd asked = std::max<NanoUsd>(request.amount, 0);
  std::array<std::uint8_t, kWindowKindCount> indices{};
  HeldSlots slots{};
  for (std::size_t kind = 0; kind < kWindowKindCount; ++kind) {
    indices[kind] = hold_current(workflow.windows[kind]);
    slots[kind] = &workflow.windows[kind].slots[indices[kind]];
  }
  const auto release_windows = [&slots](NanoUsd amount) noexcept {
    for (WindowSlot* slot : slots) {
      slot->ledger.release(amount);
      unhold(*slot);
    }
  };

  Admission result;
  NanoUsd amount = asked;
  Bound blocked_by = Bound::limit;
  if (const std::size_t refused = reserve_all(slots, asked, Bound::limit); refused != kNoWindow) {
    result.cause = RefusalCause::limit;
    result.window = kWindowKinds[refused];
    const auto on_exceeded =
        static_cast<config::OnExceeded>(workflow.on_exceeded.load(std::memory_order_relaxed));
    if (on_exceeded == config::OnExceeded::block) {
      result.action = BudgetAction::block;
    } else {
      if (on_exceeded == config::OnExceeded::downgrade) {
        amount = std::max<NanoUsd>(request.downgrade_amount.value_or(asked), 0);
      }
      // Served beyond the limit: still reserved and metered, and held under the ceiling.
      if (const std::size_t over = reserve_all(slots, amount, Bound::ceiling); over != kNoWindow) {
        result.action = BudgetAction::block;
        result.cause = RefusalCause::ceiling;
        result.window = kWindowKinds[over];
        blocked_by = Bound::ceiling;
      } else {
        result.action = on_exceeded == config::OnExceeded::downgrade ? BudgetAction::downgrade
                                                                     : BudgetAction::alert;
      }
    }
    note_first_refusal(*slots[refused], result.action);
  }

  if (result.action == BudgetAction::block) {
    result.resets_at = Seconds{std::chrono::seconds{reset_seconds(slots, amount, blocked_by)}};
    const auto wait = std::chrono::ceil<std::chrono::seconds>(result.resets_at - clock_.now());
    result.retry_after_seconds = std::max<std::int64_t>(wait.count(), 1);
    for (WindowSlot* slot : slots) unhold(*slot);
    return result;
  }

  if (!request.session_id.empty()) {
    const NanoUsd cap = workflow.session_cap.load(std::memory_order_relaxed);
    if (cap > 0) {
      const std::uint32_t session =
          sessions_.hold(session_key(workflow, request.session_id), workflow.ordinal,
                         now_seconds_.load(std::memory_order_relaxed));
      RefusalCause refusal = RefusalCause::none;
      if (session == SessionTable::kNoSlot) {
        refusal = RefusalCause::session_table_full;
      } else if (!sessions_.ledger(session).reserve(amount, cap, /*enforce=*/true)) {
        sessions_.mark_capped(session);
        sessions_.unhold(session);
        refusal = RefusalCause::session_cap;
      }
      if (refusal != RefusalCause::none) {
        release_windows(amount);
        result.action = BudgetAction::session_block;
        result.cause = refusal;
        result.window.reset();
        return result;
      }
      result.reservation.session_slot_ = session;
    }
  }

  result.reservation.workflow_ = &workflow;
  result.reservation.amount_ = amount;
  result.reservation.window_slots_ = indices;
  return result;
}

void BudgetBook::settle(Reservation& reservation, NanoUsd actual_cost) noexcept {
  WorkflowBudget* workflow = reservation.workflow_;
  if (workflow == nullptr) return;
  const NanoUsd actual = std::max<NanoUsd>(actual_cost, 0);
  const NanoUsd amount = reservation.amount_;
  for (std::size_t kind = 0; kind < kWindowKindCount; ++kind) {
    BudgetWindow& window = workflow->windows[kind];
    WindowSlot& slot = window.slots[reservation.window_slots_[kind]];
    const NanoUsd before = slot.ledger.settle(amount, actual);
    const NanoUsd limit = slot.limit.load(std::memory_order_relaxed);
    if (limit != kNoLimit) {
      if (const NanoUsd over = overshoot_added(before, actual, limit); over > 0) {
        window.overshoot_total.fetch_add(over, std::memory_order_relaxed);
      }
    }
    unhold(slot);
  }
  if (reservation.session_slot_ != SessionTable::kNoSlot) {
    sessions_.ledger(reservation.session_slot_).settle(amount, actual);
    sessions_.unhold(reservation.session_slot_);
  }
  reservation = Reservation{};
}

std::optional<NanoUsd> BudgetBook::remaining(const WorkflowBudget& workflow) const noexcept {
  std::optional<NanoUsd> smallest;
  for (const BudgetWindow& window : workflow.windows) {
    const WindowSlot& slot = window.slots[window.current.load(std::memory_order_acquire)];
    const NanoUsd limit = slot.limit.load(std::memory_order_relaxed);
    if (limit == kNoLimit) continue;
    const NanoUsd left = limit - slot.ledger.committed();
    smallest = smallest ? std::min(*smallest, left) : left;
  }
  return smallest;
}

std::uint64_t BudgetBook::session_key(const WorkflowBudget& workflow,
                                      std::string_view session_id) const noexcept {
  return SessionTable::key_of(workflow.name_hash, session_id, options_.hash_seed);
}

// ---- Control thread ----------------------------------------------------------------------

WorkflowBudget* BudgetBook::find(std::string_view name) const {
  const auto found = workflows_.find(name);
  return found != workflows_.end() && found->second->present ? found->second.get() : nullptr;
}

WorkflowBudget& BudgetBook::workflow_state(const config::WorkflowPolicy& policy) {
  auto found = workflows_.find(policy.name);
  if (found == workflows_.end()) {
    auto created = std::make_unique<WorkflowBudget>();
    created->name = policy.name;
    created->ordinal = next_ordinal_++;
    created->name_hash = hash_text(policy.name, options_.hash_seed);
    found = workflows_.emplace(policy.name, std::move(created)).first;
  }
  return *found->second;
}

void BudgetBook::configure(WorkflowBudget& workflow, const config::WorkflowPolicy& policy) {
  const bool configured_before = !workflow.policy.name.empty();
  const std::string old_timezone(budget_timezone(workflow.policy));
  workflow.policy = policy;
  workflow.present = true;
  const auto& budget = policy.budget;
  workflow.on_exceeded.store(
      static_cast<std::uint8_t>(budget ? budget->on_exceeded : config::OnExceeded::block),
      std::memory_order_relaxed);
  workflow.session_cap.store(
      budget && budget->session_cap ? std::max<NanoUsd>(*budget->session_cap, 0) : 0,
      std::memory_order_relaxed);
  if (configured_before && old_timezone != budget_timezone(policy)) {
    // Same spend, new bounds: the current windows are re-cut in the new zone.
    const TimePoint now = clock_.now();
    for (const WindowKind kind : kWindowKinds) {
      BudgetWindow& window = workflow.windows[index_of(kind)];
      WindowSlot& slot = window.slots[window.current.load(std::memory_order_relaxed)];
      if (slot.generation == 0) continue;
      slot.bounds = workflow_window(workflow.policy, kind, now);
      slot.end_seconds.store(seconds_of(slot.bounds.end), std::memory_order_relaxed);
    }
  }
}

void BudgetBook::apply(const config::ConfigSnapshot& config) {
  for (auto& [name, workflow] : workflows_) workflow->present = false;
  config_order_.clear();
  for (const config::WorkflowPolicy& policy : config.workflows) {
    WorkflowBudget& workflow = workflow_state(policy);
    configure(workflow, policy);
    config_order_.push_back(&workflow);
  }
  for (auto& [name, workflow] : workflows_) {
    if (!workflow->present) workflow->session_cap.store(0, std::memory_order_relaxed);
  }
  roll(clock_.now());
}

void BudgetBook::roll(TimePoint now) {
  now_seconds_.store(std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count(),
                     std::memory_order_relaxed);
  for (auto& [name, workflow] : workflows_) roll_workflow(*workflow, now);
  sessions_.expire_idle(now_seconds_.load(std::memory_order_relaxed),
                        options_.session_idle_expiry.count());
}

void BudgetBook::roll_workflow(WorkflowBudget& workflow, TimePoint now) {
  workflow.active_override.reset();
  for (std::size_t index = 0; index < workflow.policy.overrides.size(); ++index) {
    const config::OverrideSpec& candidate = workflow.policy.overrides[index];
    if (candidate.from <= now && now < candidate.until) {
      workflow.active_override = index;  // the config check rejects overlapping overrides
      break;
    }
  }
  for (const WindowKind kind : kWindowKinds) {
    BudgetWindow& window = workflow.windows[index_of(kind)];
    const book_detail::EffectiveLimit limits = effective_limit(workflow, kind);
    const std::uint8_t current = window.current.load(std::memory_order_relaxed);
    WindowSlot& slot = window.slots[current];
    if (slot.generation != 0 && now < slot.bounds.end) {
      // Same window: only the limit may have moved (an override, a reload).
      slot.limit.store(limits.limit, std::memory_order_relaxed);
      slot.ceiling_limit.store(limits.ceiling_limit, std::memory_order_relaxed);
      continue;
    }
    // A new window, in a slot no reservation holds: spares first, so the window just
    // ended stays readable for late settlements and views.
    std::uint8_t chosen = book_detail::kNoSlotIndex;
    for (const bool allow_previous : {false, true}) {
      for (std::uint8_t index = 0;
           index < book_detail::kSlotsPerWindow && chosen == book_detail::kNoSlotIndex; ++index) {
        if (index == current || (index == window.previous) != allow_previous) continue;
        std::uint64_t no_holders = 0;
        if (window.slots[index].holders.compare_exchange_strong(no_holders, book_detail::kLockedBit,
                                                                std::memory_order_acquire)) {
          chosen = index;
        }
      }
    }
    if (chosen == book_detail::kNoSlotIndex) {
      ++deferred_rollovers_;
      slot.limit.store(limits.limit, std::memory_order_relaxed);
      slot.ceiling_limit.store(limits.ceiling_limit, std::memory_order_relaxed);
      continue;
    }
    WindowSlot& fresh = window.slots[chosen];
    fresh.ledger.reset();
    fresh.bounds = workflow_window(workflow.policy, kind, now);
    fresh.generation = ++window.opened;
    fresh.limit.store(limits.limit, std::memory_order_relaxed);
    fresh.ceiling_limit.store(limits.ceiling_limit, std::memory_order_relaxed);
    fresh.end_seconds.store(seconds_of(fresh.bounds.end), std::memory_order_relaxed);
    fresh.first_refusal.store(0, std::memory_order_relaxed);
    // Unlock (release: the reset is visible to whoever holds the slot next), then publish.
    fresh.holders.fetch_and(~book_detail::kLockedBit, std::memory_order_release);
    window.previous = slot.generation != 0 ? current : book_detail::kNoSlotIndex;
    window.current.store(chosen, std::memory_order_release);
  }
}

bool BudgetBook::restore_spend(std::string_view workflow_name, WindowKind kind,
                               Seconds window_start, NanoUsd spent) {
  WorkflowBudget* workflow = find(workflow_name);
  if (workflow == nullptr) return false;
  BudgetWindow& window = workflow->windows[index_of(kind)];
  WindowSlot& slot = window.slots[window.current.load(std::memory_order_relaxed)];
  if (slot.generation == 0 || slot.bounds.start != window_start) return false;
  slot.ledger.restore(std::max<NanoUsd>(spent, 0));
  return true;
}

bool BudgetBook::restore_session(std::string_view workflow_name, std::string_view session_id,
                                 NanoUsd spent, TimePoint last_used) {
  WorkflowBudget* workflow = find(workflow_name);
  if (workflow == nullptr || workflow->session_cap.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  return sessions_.restore(
      session_key(*workflow, session_id), workflow->ordinal, std::max<NanoUsd>(spent, 0),
      std::chrono::floor<std::chrono::seconds>(last_used).time_since_epoch().count());
}

std::vector<SessionCounts> BudgetBook::count_sessions() const {
  std::vector<SessionCounts> counts(next_ordinal_);
  sessions_.for_each([&counts](const SessionTable::Entry& entry) {
    if (entry.owner >= counts.size()) return;
    ++counts[entry.owner].active;
    if (entry.capped) ++counts[entry.owner].capped;
  });
  return counts;
}

WorkflowBudgetView BudgetBook::make_view(const WorkflowBudget& workflow,
                                         const std::vector<SessionCounts>& sessions) const {
  const config::WorkflowPolicy& policy = workflow.policy;
  WorkflowBudgetView view;
  view.workflow = policy.name;
  view.owner = policy.owner;
  view.contact = policy.contact;
  view.review = policy.review;
  view.decisions = policy.decisions;
  view.timezone = budget_timezone(policy);
  for (std::size_t action = 0; action < kBudgetActionCount; ++action) {
    view.decisions_made[action] = workflow.decisions[action].load(std::memory_order_relaxed);
  }
  if (const auto& budget = policy.budget) {
    view.has_budget = true;
    view.on_exceeded = budget->on_exceeded;
    view.downgrade_to = budget->downgrade_to;
    view.ceiling = budget->ceiling;
    view.session_cap = budget->session_cap;
    view.alert_at = budget->alert_at;
  }
  for (const WindowKind kind : kWindowKinds) {
    const BudgetWindow& window = workflow.windows[index_of(kind)];
    const std::uint8_t current = window.current.load(std::memory_order_relaxed);
    view.windows[index_of(kind)] = view_of(workflow, window, window.slots[current], kind, true);
    if (window.previous != book_detail::kNoSlotIndex &&
        window.slots[window.previous].generation != 0) {
      view.previous[index_of(kind)] =
          view_of(workflow, window, window.slots[window.previous], kind, false);
    }
  }
  if (workflow.active_override) view.active_override = policy.overrides[*workflow.active_override];
  if (workflow.ordinal < sessions.size()) view.sessions = sessions[workflow.ordinal];
  return view;
}

std::vector<WorkflowBudgetView> BudgetBook::views() const {
  const std::vector<SessionCounts> sessions = count_sessions();
  std::vector<WorkflowBudgetView> result;
  result.reserve(config_order_.size());
  for (const WorkflowBudget* workflow : config_order_)
    result.push_back(make_view(*workflow, sessions));
  return result;
}

std::optional<WorkflowBudgetView> BudgetBook::view(std::string_view workflow_name) const {
  const WorkflowBudget* workflow = find(workflow_name);
  if (workflow == nullptr) return std::nullopt;
  return make_view(*workflow, count_sessions());
}

std::optional<SessionView> BudgetBook::session_view(std::string_view workflow_name,
                                                    std::string_view session_id) const {
  const WorkflowBudget* workflow = find(workflow_name);
  if (workflow == nullptr) return std::nullopt;
  const NanoUsd cap = workflow->session_cap.load(std::memory_order_relaxed);
  if (cap == 0) return std::nullopt;
  SessionView view;
  view.id = session_id;
  view.cap = cap;
  if (const std::uint32_t slot = sessions_.find(session_key(*workflow, session_id));
      slot != SessionTable::kNoSlot) {
    const SessionTable::Entry entry = sessions_.entry(slot);
    view.spent = entry.spent;
    view.reserved = entry.reserved;
  }
  view.remaining = cap - view.spent - view.reserved;
  return view;
}

}  // namespace spendwall::policies
