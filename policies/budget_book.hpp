#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "policies/calendar.hpp"
#include "policies/clock.hpp"
#include "policies/session_table.hpp"
#include "policies/spend_ledger.hpp"

/// Per-workflow budgets that concurrent requests cannot overshoot (PRODUCT.md §5).
///
/// Thread-safety, per member: `admit`, `settle` and `remaining` are for worker threads:
/// lock-free, allocation-free, any number at once, and concurrent with the control-thread
/// members. Every other member (construction, `apply`, `roll`, `find`, `restore_*`,
/// `views`, `view`, `session_view`) belongs to one control thread. The free functions are
/// pure. Design notes: docs/design/budgets.md.
namespace spendwall::policies {

/// The zone a workflow's windows are cut in: its budget's `timezone`, UTC without a budget.
std::string_view budget_timezone(const config::WorkflowPolicy& policy) noexcept;

/// The `kind` window of `policy` that holds `at`. Falls back to UTC should the zone have left
/// the tz database since the config was checked (the check accepts only known zones).
WindowBounds workflow_window(const config::WorkflowPolicy& policy, WindowKind kind, TimePoint at);

/// A workflow's budget state, owned by its BudgetBook and opaque outside it. The pointer
/// `BudgetBook::find` returns stays valid for the book's life, across reloads (a
/// workflow removed from the config keeps its state and gets it back if it returns).
struct WorkflowBudget;

/// What admission decided (the ledger record's `budget_action`: none, downgraded,
/// alerted, blocked, session_blocked).
enum class BudgetAction : std::uint8_t { admit, downgrade, alert, block, session_block };
inline constexpr std::size_t kBudgetActionCount = 5;
std::string_view to_string(BudgetAction action) noexcept;
/// The ledger record's `budget_action` and the `action` label of
/// `spendwall_budget_actions_total`: none, downgraded, alerted, blocked, session_blocked.
std::string_view budget_action_label(BudgetAction action) noexcept;

/// Why a request was not admitted as it came.
enum class RefusalCause : std::uint8_t {
  none,
  limit,               ///< a window's limit (then `on_exceeded` decided)
  ceiling,             ///< beyond limit × ceiling, where every action blocks
  session_cap,         ///< the session's own cap
  session_table_full,  ///< a new session while the session table is at its bound
};
std::string_view to_string(RefusalCause cause) noexcept;

/// An admitted request's hold on its budgets, to be settled exactly once with the actual
/// cost, on every path (success, failure, fallback, disconnect, timeout, shutdown).
///
/// It names the window slots it reserved in, not "the current window": a request admitted
/// before a rollover settles into the window it was admitted in, whose slot cannot be
/// reused while the reservation is out (see docs/design/budgets.md, Rollover). A plain value:
/// copyable into a coroutine frame, no destructor.
class Reservation {
 public:
  bool active() const noexcept { return workflow_ != nullptr; }
  /// Nano-USD reserved in each of the workflow's windows (and its session, if any).
  NanoUsd amount() const noexcept { return amount_; }
  bool has_session() const noexcept { return session_slot_ != SessionTable::kNoSlot; }

 private:
  friend class BudgetBook;
  WorkflowBudget* workflow_ = nullptr;
  NanoUsd amount_ = 0;
  std::array<std::uint8_t, kWindowKindCount> window_slots_{};
  std::uint32_t session_slot_ = SessionTable::kNoSlot;
};

/// One admission question: the worst-case cost of the request on the route it asked for,
/// and on the workflow's `downgrade_to` route (absent → the same amount).
struct AdmissionRequest {
  NanoUsd amount = 0;
  std::optional<NanoUsd> downgrade_amount;
  /// The `x-spendwall-session` header, validated by the caller; empty = none.
  std::string_view session_id;
};

struct Admission {
  BudgetAction action = BudgetAction::admit;
  RefusalCause cause = RefusalCause::none;
  /// The window that did not fit (for limit and ceiling causes).
  std::optional<WindowKind> window;
  /// Active for admit, downgrade and alert; settle it. Inactive for the two blocks.
  Reservation reservation;
  /// For `block`: when the budget can admit this request again (the latest reset among the
  /// windows it does not fit), and the whole seconds until then for `retry-after` (≥ 1).
  /// Zero otherwise: a session's cap never resets.
  Seconds resets_at{};
  std::int64_t retry_after_seconds = 0;

  bool admitted() const noexcept {
    return action != BudgetAction::block && action != BudgetAction::session_block;
  }
};

/// One window of a workflow as `/admin/budgets`, `/v1/budget`, the metrics and the
/// exception detector see it.
struct WindowView {
  WindowKind kind = WindowKind::daily;
  WindowBounds bounds;  ///< `bounds.end` is `resets_at`
  /// Effective limit (the active override's when it sets one). Absent: the window is only
  /// tracked, nothing limits it; views for users list only windows that have one.
  std::optional<NanoUsd> limit;
  std::optional<NanoUsd> ceiling_limit;  ///< limit × ceiling, when `ceiling` is set
  NanoUsd spent = 0;
  NanoUsd reserved = 0;
  NanoUsd remaining = 0;     ///< limit − spent − reserved; negative after an overshoot
  double utilization = 0.0;  ///< spent ÷ limit
  /// Settled spend beyond the limit in this window.
  NanoUsd overshoot = 0;
  /// `spendwall_budget_overshoot_usd_total{window}`: settled spend beyond the effective
  /// limit at the time of settlement, summed over every window of this kind since start.
  NanoUsd overshoot_total = 0;
  /// The first action other than admit this window saw (raises `exceeded`).
  std::optional<BudgetAction> first_refusal;
  std::string override_name;  ///< empty when no override sets this window's limit
};

struct SessionCounts {
  std::size_t active = 0;  ///< live sessions of the workflow
  std::size_t capped = 0;  ///< of which refused at their cap at least once
};

struct WorkflowBudgetView {
  std::string workflow;
  std::string owner;
  std::string contact;
  std::string review;
  bool has_budget = false;
  std::string timezone = "UTC";
  config::OnExceeded on_exceeded = config::OnExceeded::block;
  std::string downgrade_to;
  std::optional<double> ceiling;
  std::optional<NanoUsd> session_cap;
  std::vector<double> alert_at;
  config::DecisionRules decisions;
  /// The current window of each kind, indexed by WindowKind.
  std::array<WindowView, kWindowKindCount> windows;
  /// The window each kind rolled over from, while its slot is kept: late settlements and
  /// refusals near a boundary still show there.
  std::array<std::optional<WindowView>, kWindowKindCount> previous;
  std::optional<config::OverrideSpec> active_override;
  SessionCounts sessions;
  /// Admission decisions since start, indexed by BudgetAction (for
  /// `spendwall_budget_actions_total`).
  std::array<std::uint64_t, kBudgetActionCount> decisions_made{};
};

/// `/v1/budget`'s `session` object.
struct SessionView {
  std::string id;
  NanoUsd cap = 0;
  NanoUsd spent = 0;
  NanoUsd reserved = 0;
  NanoUsd remaining = 0;  ///< cap − spent − reserved
};

struct BudgetBookOptions {
  /// Live sessions across all workflows; beyond it new sessions are refused.
  std::size_t max_sessions = 65'536;
  /// A session unused this long is forgotten (PRODUCT.md §5: a day).
  std::chrono::seconds session_idle_expiry = std::chrono::hours(24);
  /// Seed of the session-id hash; 0 draws one at random.
  std::uint64_t hash_seed = 0;
};

/// Every workflow's budget windows, overrides and sessions, with admission and settlement.
///
/// Each workflow tracks a daily and a monthly window whether or not it has a limit, so
/// that a limit added by a reload or an override starts from the real spend. A window
/// with a limit enforces it according to `on_exceeded`:
/// - a request is admitted when its reservation fits every limited window
///   (spent + reserved + amount ≤ limit, one CAS per window);
/// - otherwise `block` refuses it; `downgrade` and `alert` serve it (downgrade with the
///   downgrade route's reservation), unless `ceiling` is set and the reservation does not
///   fit limit × ceiling, in which case it is blocked too;
/// - a request with a session id (and a `session_cap`) must also fit its session's cap,
///   else it is refused as `session_block` whatever `on_exceeded` says.
/// Windows are reserved in order (daily, monthly); a refusal gives back what was taken.
/// For an instant that makes another request see less room than there is — the safe side.
class BudgetBook {
 public:
  /// Builds the workflows of `config` and opens their windows at `clock.now()`.
  /// `clock` must outlive the book.
  BudgetBook(const config::ConfigSnapshot& config, const Clock& clock,
             BudgetBookOptions options = {});
  ~BudgetBook();
  BudgetBook(const BudgetBook&) = delete;
  BudgetBook& operator=(const BudgetBook&) = delete;

  // ---- Worker threads ------------------------------------------------------------------

  /// Decides and reserves. Lock-free, no allocation, no string lookup (the session id is
  /// hashed once). `workflow` comes from `find`.
  Admission admit(WorkflowBudget& workflow, const AdmissionRequest& request) noexcept;

  /// Replaces the reservation by `actual_cost` (negative counts as 0) in each window and
  /// session it holds, adds any overshoot, and deactivates `reservation`, so that a second
  /// call does nothing. Lock-free, no allocation.
  void settle(Reservation& reservation, NanoUsd actual_cost) noexcept;

  /// Smallest `remaining` among the workflow's limited windows now
  /// (`x-spendwall-budget-remaining-usd`); nullopt without any limit. Lock-free.
  std::optional<NanoUsd> remaining(const WorkflowBudget& workflow) const noexcept;

  // ---- Control thread ------------------------------------------------------------------

  /// The workflow named `name` in the current config, or nullptr. Resolve once per
  /// config snapshot, not per request.
  WorkflowBudget* find(std::string_view name) const;

  /// Takes a reloaded config: workflows are matched by name and keep their spend,
  /// sessions and windows; new ones start empty; removed ones stop being enforced. New
  /// limits, overrides and rules apply at once; a new time zone moves the current
  /// windows' bounds without clearing their spend.
  void apply(const config::ConfigSnapshot& config);

  /// Call about once a second: opens a new window for each workflow whose current one
  /// ended at `now` (fresh counters), starts and ends overrides (the limit of the current
  /// window follows at once), and forgets sessions idle for `session_idle_expiry`.
  /// A window whose every spare slot still holds reservations (requests older than a whole
  /// window) is not rolled yet: `deferred_rollovers` counts the call and a later one
  /// retries. Windows only move forward: a clock stepping back keeps the current window.
  void roll(TimePoint now);

  /// Spend settled before a restart, summed from the durable ledger for the window of
  /// `kind` that starts at `window_start`. False (nothing changes) when that is not the
  /// workflow's current window or the workflow is unknown.
  bool restore_spend(std::string_view workflow, WindowKind kind, Seconds window_start,
                     NanoUsd spent);
  /// Spend of one session settled before a restart. False when the workflow is unknown,
  /// has no session cap, or the session table is at its bound.
  bool restore_session(std::string_view workflow, std::string_view session_id, NanoUsd spent,
                       TimePoint last_used);

  std::chrono::seconds session_idle_expiry() const noexcept { return options_.session_idle_expiry; }

  /// Every workflow of the current config, in config order.
  std::vector<WorkflowBudgetView> views() const;
  std::optional<WorkflowBudgetView> view(std::string_view workflow) const;
  /// `/v1/budget`'s session object: nullopt without a session cap. A session never seen
  /// has spent nothing.
  std::optional<SessionView> session_view(std::string_view workflow,
                                          std::string_view session_id) const;

  /// Calls of `roll` that had to put a rollover off because no slot was free.
  std::uint64_t deferred_rollovers() const noexcept { return deferred_rollovers_; }
  const SessionTable& sessions() const noexcept { return sessions_; }

 private:
  Admission decide(WorkflowBudget& workflow, const AdmissionRequest& request) noexcept;
  WorkflowBudget& workflow_state(const config::WorkflowPolicy& policy);
  void configure(WorkflowBudget& workflow, const config::WorkflowPolicy& policy);
  void roll_workflow(WorkflowBudget& workflow, TimePoint now);
  WorkflowBudgetView make_view(const WorkflowBudget& workflow,
                               const std::vector<SessionCounts>& sessions) const;
  std::vector<SessionCounts> count_sessions() const;
  std::uint64_t session_key(const WorkflowBudget& workflow,
                            std::string_view session_id) const noexcept;

  const Clock& clock_;
  BudgetBookOptions options_;
  SessionTable sessions_;
  /// Every workflow ever configured, by name; never shrinks, so pointers stay valid.
  std::map<std::string, std::unique_ptr<WorkflowBudget>, std::less<>> workflows_;
  std::vector<WorkflowBudget*> config_order_;  ///< the current config's workflows
  std::uint32_t next_ordinal_ = 0;
  /// Coarse time for the sessions' last use, refreshed by `roll`: workers read it
  /// instead of the clock.
  std::atomic<std::int64_t> now_seconds_{0};
  std::uint64_t deferred_rollovers_ = 0;
};

}  // namespace spendwall::policies
