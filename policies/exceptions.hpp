#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "metering/json_writer.hpp"
#include "policies/budget_book.hpp"
#include "policies/calendar.hpp"
#include "policies/clock.hpp"

/// Budget exceptions (PRODUCT.md §5; event shape in admin-api.md): events that name the
/// workflow, its owner, what moved and the documented next action, each raised once per
/// (workflow, kind, window, threshold).
///
/// Thread-safety: an ExceptionDetector belongs to the control thread; BudgetException is
/// a plain value and the JSON functions are pure.
namespace spendwall::policies {

enum class ExceptionKind : std::uint8_t {
  threshold,
  exceeded,
  spike,
  override_started,
  override_ended,
  fallback_surge,
};
std::string_view to_string(ExceptionKind kind) noexcept;

/// One settled request, as the ledger records it (the detector's input for spend by
/// provider and model, and for spikes).
struct SpendEvent {
  std::string_view workflow;
  std::string_view provider;
  std::string_view model;
  NanoUsd cost = 0;
  TimePoint at{};
};

/// Cumulative traffic counters of one route of one workflow since the process started (the
/// same monotonic counts the metrics export). A count lower than the previous one is read
/// as a restart of the counters.
struct RouteTraffic {
  std::string_view workflow;
  std::string_view route;
  std::uint64_t requests = 0;
  std::uint64_t fell_back = 0;  ///< requests that moved to another target at least once
  /// Fallback events by the failure class that caused them.
  std::array<std::uint64_t, config::kFailureClassCount> reasons{};
};

struct ProviderSpend {
  std::string provider;
  NanoUsd spent = 0;
};

struct ModelSpend {
  std::string provider;
  std::string model;
  NanoUsd spent = 0;
};

struct ExceededDetails {
  BudgetAction action = BudgetAction::block;
  bool beyond_ceiling = false;  ///< a downgrade/alert budget blocked at its ceiling
};

struct SpikeDetails {
  NanoUsd window_spend = 0;
  std::chrono::seconds window{};
  double baseline_usd_per_hour = 0.0;
  std::chrono::seconds baseline_span{};  ///< history the baseline rate was taken over
  double factor = 0.0;
};

struct FallbackSurgeDetails {
  std::string route;
  double ratio = 0.0;
  std::uint64_t requests = 0;
  std::uint64_t fell_back = 0;
  std::chrono::seconds window{};
  /// Failure classes behind the fallbacks, most frequent first (at most three).
  std::vector<std::pair<config::FailureClass, std::uint64_t>> top_reasons;
};

/// The override an override_started / override_ended event is about.
struct OverrideDetails {
  config::OverrideSpec spec;
};

using ExceptionDetails = std::variant<std::monostate, ExceededDetails, SpikeDetails,
                                      FallbackSurgeDetails, OverrideDetails>;

/// One budget exception: the admin-api.md event plus what delivery and dedupe need.
struct BudgetException {
  std::string id;  ///< `exc_` + a ULID-shaped id: time, then a hash of `dedupe_key`
  TimePoint at{};
  ExceptionKind kind = ExceptionKind::threshold;
  std::string workflow;
  std::string owner;
  std::string contact;
  WindowKind window = WindowKind::daily;
  WindowBounds window_bounds;
  std::optional<double> threshold;  ///< kind threshold only
  NanoUsd spent = 0;
  std::optional<NanoUsd> limit;  ///< absent when the window has no limit
  double utilization = 0.0;
  std::optional<config::OverrideSpec> active_override;
  bool planned = false;  ///< an override is active
  /// False for an event that is recorded (ledger, `/admin/exceptions`) but not sent to
  /// the sinks: a spike during an override is planned, not raised.
  bool notify = true;
  std::vector<ProviderSpend> providers;  ///< the window's spend by provider, largest first
  std::optional<ModelSpend> top_model;
  std::string decision_rule;  ///< the workflow's rule for this kind; may be empty
  std::string next_action;    ///< the rule, or a default sentence when none is written
  ExceptionDetails details;
  /// Once-only key: `workflow|kind|window|start|discriminator`. Persist it with the event
  /// and hand it back through `ExceptionDetector::mark_fired` after a restart.
  std::string dedupe_key;
};

/// Writes `event` as the admin-api.md exception object (`id`, `at`, `kind`, `workflow`,
/// `owner`, `contact`, `window`, `threshold`, `spent_usd`, `limit_usd`, `utilization`,
/// `override`, `planned`, `providers`, `top_model`, `decision_rule`, `next_action`,
/// `details`), plus `window_start`, `window_end` and `notify`.
void write_exception_json(const BudgetException& event, metering::JsonWriter& json);
std::string exception_json(const BudgetException& event);

/// Turns budget state and traffic into exceptions, each exactly once.
///
/// Kinds and rules:
/// - `threshold`: a window's settled spend reached an `alert_at` fraction of its effective
///   limit (one event per fraction crossed).
/// - `exceeded`: the first non-admit decision a window saw (BudgetBook records it).
/// - `spike`: spend over the last `alerts.spike.window` > `factor` × the baseline rate over
///   the `baseline` before it, and at least `min_spend`. The baseline is taken over the
///   history there is (from construction, `note_history_since`, or the oldest spend
///   recorded), and needs at least one spike window of it. While an override is active
///   the spike is planned: recorded with `notify = false` under its own key.
/// - `override_started` / `override_ended`: an override became active; one that started
///   (in this process or before a restart, by its fired key) has ended.
/// - `fallback_surge`: over `alerts.fallback_surge.window`, at least `min_requests`
///   requests on a route and a share of them that fell back above `ratio`.
/// Threshold, exceeded, spike and fallback_surge are deduplicated per calendar window
/// (spike and fallback_surge per daily window: at most one a day each, per route for
/// surges); override events per override.
///
/// Control tick: `book.roll(now)`, feed `record_spend` / `record_route_traffic` with
/// what was settled since the last tick, then `evaluate(book.views())`.
class ExceptionDetector {
 public:
  ExceptionDetector(const config::ConfigSnapshot& config, const Clock& clock);

  /// Takes a reloaded config (owners, rules, overrides, alert settings). A changed
  /// `alerts.spike` restarts the spike history.
  void apply(const config::ConfigSnapshot& config);

  /// One settled request. Older spend (a replay at start) fills the spike baseline and
  /// the current windows' provider breakdown.
  void record_spend(const SpendEvent& event);
  void record_route_traffic(const RouteTraffic& traffic, TimePoint at);
  /// Spend history is complete from `since` on (e.g. the ledger's first record), so a
  /// quiet period after it counts as zero spend in the spike baseline.
  void note_history_since(TimePoint since);

  /// A key fired before a restart, from the durable ledger.
  void mark_fired(std::string_view dedupe_key);
  bool has_fired(std::string_view dedupe_key) const;

  /// New exceptions at the clock's now, already marked fired, oldest rule first.
  std::vector<BudgetException> evaluate(const std::vector<WorkflowBudgetView>& views);

 private:
  struct ProviderTotals {
    NanoUsd total = 0;
    std::map<std::string, NanoUsd, std::less<>> models;
  };
  struct Breakdown {
    WindowBounds bounds;
    std::map<std::string, ProviderTotals, std::less<>> providers;
  };
  /// Spend in fixed-width time buckets covering one spike window plus the baseline.
  class SpendSeries {
   public:
    SpendSeries(std::chrono::seconds window, std::chrono::seconds baseline);
    void add(TimePoint at, NanoUsd cost);
    /// Spend in the buckets [first, last).
    NanoUsd sum(std::int64_t first, std::int64_t last) const;
    std::int64_t bucket_of(TimePoint at) const;
    std::chrono::seconds bucket_width() const { return width_; }

   private:
    struct Bucket {
      std::int64_t id = -1;
      NanoUsd spent = 0;
    };
    std::chrono::seconds width_;
    std::vector<Bucket> buckets_;
  };
  struct WorkflowTrack {
    config::WorkflowPolicy policy;
    std::array<Breakdown, kWindowKindCount> breakdowns;
    std::optional<SpendSeries> series;
  };
  struct TrafficSample {
    TimePoint at{};
    std::uint64_t requests = 0;
    std::uint64_t fell_back = 0;
    std::array<std::uint64_t, config::kFailureClassCount> reasons{};
  };

  WorkflowTrack& track(std::string_view workflow);
  /// Marks `key` fired; false when it already was.
  bool claim(const std::string& key);
  BudgetException base_event(const WorkflowBudgetView& view, const WorkflowTrack& track,
                             ExceptionKind kind, const WindowView& window, TimePoint now) const;
  void finish(BudgetException& event, const WorkflowBudgetView& view, std::string key) const;
  void check_windows(const WorkflowBudgetView& view, const WorkflowTrack& track, TimePoint now,
                     std::vector<BudgetException>& out);
  void check_overrides(const WorkflowBudgetView& view, const WorkflowTrack& track, TimePoint now,
                       std::vector<BudgetException>& out);
  void check_spike(const WorkflowBudgetView& view, const WorkflowTrack& track, TimePoint now,
                   std::vector<BudgetException>& out);
  void check_fallbacks(const WorkflowBudgetView& view, const WorkflowTrack& track, TimePoint now,
                       std::vector<BudgetException>& out);

  const Clock& clock_;
  config::AlertsSpec alerts_;
  TimePoint history_since_;
  std::map<std::string, WorkflowTrack, std::less<>> tracks_;
  std::map<std::pair<std::string, std::string>, std::deque<TrafficSample>> traffic_;
  std::set<std::string, std::less<>> fired_;
};

}  // namespace spendwall::policies
