#include "policies/exceptions.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "config/units.hpp"
#include "policies/time_text.hpp"

namespace spendwall::policies {
namespace {

using std::chrono::seconds;

constexpr std::string_view kKeySeparator = "|";
/// Spike buckets per spike window: the window's spend is read to 1/12 of its length.
constexpr std::int64_t kBucketsPerSpikeWindow = 12;
/// Bound on a series' memory whatever `window` and `baseline` say (16 Ki × 16 bytes).
constexpr std::int64_t kMaxSpikeBuckets = 16'384;
constexpr std::size_t kTopReasons = 3;

std::string fraction_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

std::string percent_text(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", fraction * 100.0);
  return text;
}

std::int64_t seconds_since_epoch(TimePoint at) {
  return std::chrono::floor<seconds>(at).time_since_epoch().count();
}

std::string dedupe_key(std::string_view workflow, ExceptionKind kind, std::string_view scope,
                       std::int64_t scope_start, std::string_view discriminator) {
  std::string key(workflow);
  for (const std::string_view part :
       {kKeySeparator, to_string(kind), kKeySeparator, scope, kKeySeparator}) {
    key += part;
  }
  key += std::to_string(scope_start);
  key += kKeySeparator;
  key += discriminator;
  return key;
}

std::string window_key(std::string_view workflow, ExceptionKind kind, const WindowView& window,
                       std::string_view discriminator) {
  return dedupe_key(workflow, kind, to_string(window.kind),
                    window.bounds.start.time_since_epoch().count(), discriminator);
}

/// `exc_` + 26 Crockford base32 characters laid out like a ULID: 48 bits of milliseconds,
/// then 80 bits of a hash of the dedupe key, so ids sort by time and the same event gets
/// the same id wherever it is rendered.
std::string exception_id(TimePoint at, std::string_view key) {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const auto millis = static_cast<std::uint64_t>(
      std::chrono::floor<std::chrono::milliseconds>(at).time_since_epoch().count());
  const std::uint64_t high = hash_text(key, 0x65786331);          // 64 bits
  const std::uint64_t low = hash_text(key, 0x65786332) & 0xFFFF;  // 16 more
  std::string id = "exc_";
  for (int shift = 45; shift >= 0; shift -= 5) id += kAlphabet[(millis >> shift) & 31];
  // 80 bits = 16 characters: the first 12 from `high` (60 bits), then 4 bits of `high` and
  // 16 of `low`.
  for (int shift = 59; shift >= 4; shift -= 5) id += kAlphabet[(high >> shift) & 31];
  const std::uint64_t rest = ((high & 0xF) << 16) | low;
  for (int shift = 15; shift >= 0; shift -= 5) id += kAlphabet[(rest >> shift) & 31];
  return id;
}

/// Spend at which a fraction of `limit` is reached, rounded up.
NanoUsd threshold_amount(double fraction, NanoUsd limit) {
  return static_cast<NanoUsd>(std::ceil(static_cast<long double>(limit) * fraction));
}

const WindowView& primary_window(const WorkflowBudgetView& view) {
  const WindowView& daily = view.windows[static_cast<std::size_t>(WindowKind::daily)];
  const WindowView& monthly = view.windows[static_cast<std::size_t>(WindowKind::monthly)];
  return !daily.limit && monthly.limit ? monthly : daily;
}

std::string_view rule_for(const config::DecisionRules& rules, ExceptionKind kind) {
  switch (kind) {
    case ExceptionKind::threshold:
      return rules.threshold;
    case ExceptionKind::exceeded:
      return rules.exceeded;
    case ExceptionKind::spike:
      return rules.spike;
    case ExceptionKind::fallback_surge:
      return rules.fallback_surge;
    case ExceptionKind::override_started:
    case ExceptionKind::override_ended:
      return {};
  }
  return {};
}

/// What the budget does at its limit, completing "At the limit Spendwall …".
std::string action_at_limit(const WorkflowBudgetView& view) {
  std::string text;
  switch (view.on_exceeded) {
    case config::OnExceeded::block:
      text = "blocks requests";
      break;
    case config::OnExceeded::downgrade:
      text = "downgrades requests to " + view.downgrade_to;
      break;
    case config::OnExceeded::alert:
      text = "only alerts and keeps serving";
      break;
  }
  if (view.ceiling && view.on_exceeded != config::OnExceeded::block) {
    text += ", and blocks beyond " + fraction_text(*view.ceiling) + " × the limit";
  }
  return text;
}

/// The default next action: what Spendwall did, and that the owner decides.
std::string default_next_action(const BudgetException& event, const WorkflowBudgetView& view) {
  const std::string window(to_string(event.window));
  std::string did;
  switch (event.kind) {
    case ExceptionKind::threshold:
      did = "Spendwall only alerted: " + percent_text(event.threshold.value_or(0.0)) + " of the " +
            window + " limit is spent. At the limit Spendwall " + action_at_limit(view) + ".";
      break;
    case ExceptionKind::exceeded: {
      const auto* details = std::get_if<ExceededDetails>(&event.details);
      const BudgetAction action = details ? details->action : BudgetAction::block;
      if (details && details->beyond_ceiling) {
        did = "Spendwall blocked requests beyond the ceiling (" +
              fraction_text(view.ceiling.value_or(1.0)) + " × the " + window + " limit).";
      } else if (action == BudgetAction::downgrade) {
        did = "Spendwall downgraded requests over the " + window + " limit to " +
              view.downgrade_to + ".";
      } else if (action == BudgetAction::alert) {
        did = "Spendwall only alerted: requests over the " + window + " limit are still served.";
      } else {
        did = "Spendwall blocked requests over the " + window + " limit.";
      }
      break;
    }
    case ExceptionKind::spike:
      did = "Spendwall only alerted: the spend rate is above its usual level.";
      break;
    case ExceptionKind::fallback_surge: {
      const auto* details = std::get_if<FallbackSurgeDetails>(&event.details);
      did = "Spendwall only alerted: " + percent_text(details ? details->ratio : 0.0) +
            " of the requests on route " + (details ? details->route : std::string()) +
            " fell back to another target.";
      break;
    }
    case ExceptionKind::override_started:
    case ExceptionKind::override_ended: {
      const auto* details = std::get_if<OverrideDetails>(&event.details);
      const std::string name = details ? details->spec.name : std::string();
      did = event.kind == ExceptionKind::override_started
                ? "Spendwall applies override " + name + " until " +
                      (details ? rfc3339(details->spec.until) : std::string()) + "."
                : "Override " + name + " ended; Spendwall is back to the normal limits.";
      break;
    }
  }
  const std::string owner = view.owner.empty() ? "the owner" : view.owner;
  return did + " No decision rule is written for " + std::string(to_string(event.kind)) + ": " +
         owner + " must decide what happens next.";
}

void write_override(const config::OverrideSpec& spec, metering::JsonWriter& json) {
  json.begin_object();
  json.key("name").string(spec.name);
  json.key("reason").string(spec.reason);
  json.key("approved_by").string(spec.approved_by);
  json.key("from").string(rfc3339(spec.from));
  json.key("until").string(rfc3339(spec.until));
  json.key("daily_limit_usd");
  spec.daily ? json.usd(*spec.daily) : json.null();
  json.key("monthly_limit_usd");
  spec.monthly ? json.usd(*spec.monthly) : json.null();
  json.end_object();
}

struct DetailsWriter {
  metering::JsonWriter& json;

  void operator()(std::monostate) const {}
  void operator()(const ExceededDetails& details) const {
    json.key("action").string(budget_action_label(details.action));
    json.key("beyond_ceiling").boolean(details.beyond_ceiling);
  }
  void operator()(const SpikeDetails& details) const {
    json.key("window_spend_usd").usd(details.window_spend);
    json.key("window_seconds").integer(details.window.count());
    json.key("baseline_usd_per_hour").number(details.baseline_usd_per_hour);
    json.key("baseline_seconds").integer(details.baseline_span.count());
    json.key("factor").number(details.factor);
  }
  void operator()(const FallbackSurgeDetails& details) const {
    json.key("route").string(details.route);
    json.key("ratio").number(details.ratio);
    json.key("requests").integer(details.requests);
    json.key("fell_back").integer(details.fell_back);
    json.key("window_seconds").integer(details.window.count());
    json.key("top_reasons").begin_array();
    for (const auto& [reason, count] : details.top_reasons) {
      json.begin_object().key("reason").string(config::to_string(reason));
      json.key("count").integer(count).end_object();
    }
    json.end_array();
  }
  void operator()(const OverrideDetails& details) const {
    json.key("override");
    write_override(details.spec, json);
  }
};

}  // namespace

std::string_view to_string(ExceptionKind kind) noexcept {
  switch (kind) {
    case ExceptionKind::threshold:
      return "threshold";
    case ExceptionKind::exceeded:
      return "exceeded";
    case ExceptionKind::spike:
      return "spike";
    case ExceptionKind::override_started:
      return "override_started";
    case ExceptionKind::override_ended:
      return "override_ended";
    case ExceptionKind::fallback_surge:
      return "fallback_surge";
  }
  return "threshold";
}

void write_exception_json(const BudgetException& event, metering::JsonWriter& json) {
  json.begin_object();
  json.key("id").string(event.id);
  json.key("at").string(rfc3339(event.at));
  json.key("kind").string(to_string(event.kind));
  json.key("workflow").string(event.workflow);
  json.key("owner").string(event.owner);
  json.key("contact").string(event.contact);
  json.key("window").string(to_string(event.window));
  json.key("window_start").string(rfc3339(event.window_bounds.start));
  json.key("window_end").string(rfc3339(event.window_bounds.end));
  json.key("threshold");
  event.threshold ? json.number(*event.threshold) : json.null();
  json.key("spent_usd").usd(event.spent);
  json.key("limit_usd");
  event.limit ? json.usd(*event.limit) : json.null();
  json.key("utilization").number(event.utilization);
  json.key("override");
  if (event.active_override) {
    write_override(*event.active_override, json);
  } else {
    json.null();
  }
  json.key("planned").boolean(event.planned);
  json.key("notify").boolean(event.notify);
  json.key("providers").begin_array();
  for (const ProviderSpend& provider : event.providers) {
    json.begin_object().key("provider").string(provider.provider);
    json.key("spent_usd").usd(provider.spent).end_object();
  }
  json.end_array();
  json.key("top_model");
  if (event.top_model) {
    json.begin_object().key("provider").string(event.top_model->provider);
    json.key("model").string(event.top_model->model);
    json.key("spent_usd").usd(event.top_model->spent).end_object();
  } else {
    json.null();
  }
  json.key("decision_rule");
  event.decision_rule.empty() ? json.null() : json.string(event.decision_rule);
  json.key("next_action").string(event.next_action);
  json.key("details").begin_object();
  std::visit(DetailsWriter{json}, event.details);
  json.end_object();
  json.key("dedupe_key").string(event.dedupe_key);
  json.end_object();
}

std::string exception_json(const BudgetException& event) {
  std::string out;
  metering::JsonWriter json(out);
  write_exception_json(event, json);
  return out;
}

// ---- SpendSeries ---------------------------------------------------------------------------

ExceptionDetector::SpendSeries::SpendSeries(seconds window, seconds baseline) {
  const std::int64_t covered = std::max<std::int64_t>((window + baseline).count(), 1);
  std::int64_t width = std::max<std::int64_t>(window.count() / kBucketsPerSpikeWindow, 1);
  if (covered / width + 2 > kMaxSpikeBuckets) width = covered / (kMaxSpikeBuckets - 2) + 1;
  width_ = seconds{width};
  buckets_.resize(static_cast<std::size_t>(covered / width + 2));
}

std::int64_t ExceptionDetector::SpendSeries::bucket_of(TimePoint at) const {
  const std::int64_t at_seconds = seconds_since_epoch(at);
  const std::int64_t width = width_.count();
  return at_seconds >= 0 ? at_seconds / width : (at_seconds - width + 1) / width;
}

void ExceptionDetector::SpendSeries::add(TimePoint at, NanoUsd cost) {
  const std::int64_t id = bucket_of(at);
  const auto count = static_cast<std::int64_t>(buckets_.size());
  Bucket& bucket = buckets_[static_cast<std::size_t>(((id % count) + count) % count)];
  if (bucket.id > id) return;  // older than the series reaches back
  if (bucket.id < id) bucket = Bucket{id, 0};
  bucket.spent += cost;
}

NanoUsd ExceptionDetector::SpendSeries::sum(std::int64_t first, std::int64_t last) const {
  const auto count = static_cast<std::int64_t>(buckets_.size());
  first = std::max(first, last - count);
  NanoUsd total = 0;
  for (std::int64_t id = first; id < last; ++id) {
    const Bucket& bucket = buckets_[static_cast<std::size_t>(((id % count) + count) % count)];
    if (bucket.id == id) total += bucket.spent;
  }
  return total;
}

// ---- ExceptionDetector ---------------------------------------------------------------------

ExceptionDetector::ExceptionDetector(const config::ConfigSnapshot& config, const Clock& clock)
    : clock_(clock), history_since_(clock.now()) {
  apply(config);
}

void ExceptionDetector::apply(const config::ConfigSnapshot& config) {
  const bool spike_changed = config.alerts.spike.window != alerts_.spike.window ||
                             config.alerts.spike.baseline != alerts_.spike.baseline;
  alerts_ = config.alerts;
  for (const config::WorkflowPolicy& policy : config.workflows) {
    WorkflowTrack& workflow = track(policy.name);
    if (budget_timezone(workflow.policy) != budget_timezone(policy)) workflow.breakdowns = {};
    workflow.policy = policy;
    if (spike_changed) workflow.series.reset();
  }
}

ExceptionDetector::WorkflowTrack& ExceptionDetector::track(std::string_view workflow) {
  auto found = tracks_.find(workflow);
  if (found == tracks_.end()) found = tracks_.emplace(std::string(workflow), WorkflowTrack{}).first;
  return found->second;
}

void ExceptionDetector::record_spend(const SpendEvent& event) {
  const auto found = tracks_.find(event.workflow);
  if (found == tracks_.end()) return;
  WorkflowTrack& workflow = found->second;
  if (event.at < history_since_) history_since_ = event.at;
  if (!workflow.series) {
    workflow.series.emplace(std::chrono::duration_cast<seconds>(alerts_.spike.window),
                            std::chrono::duration_cast<seconds>(alerts_.spike.baseline));
  }
  workflow.series->add(event.at, event.cost);

  for (const WindowKind kind : kWindowKinds) {
    Breakdown& breakdown = workflow.breakdowns[static_cast<std::size_t>(kind)];
    const auto at = std::chrono::floor<seconds>(event.at);
    if (at < breakdown.bounds.start) continue;  // an older window than the one kept
    if (at >= breakdown.bounds.end) {
      breakdown = Breakdown{workflow_window(workflow.policy, kind, event.at), {}};
    }
    auto provider = breakdown.providers.find(event.provider);
    if (provider == breakdown.providers.end()) {
      provider = breakdown.providers.emplace(std::string(event.provider), ProviderTotals{}).first;
    }
    provider->second.total += event.cost;
    auto model = provider->second.models.find(event.model);
    if (model == provider->second.models.end()) {
      model = provider->second.models.emplace(std::string(event.model), 0).first;
    }
    model->second += event.cost;
  }
}

void ExceptionDetector::record_route_traffic(const RouteTraffic& traffic, TimePoint at) {
  std::deque<TrafficSample>& samples =
      traffic_[{std::string(traffic.workflow), std::string(traffic.route)}];
  if (!samples.empty() && (traffic.requests < samples.back().requests ||
                           traffic.fell_back < samples.back().fell_back)) {
    samples.clear();  // the counters restarted
  }
  samples.push_back(TrafficSample{at, traffic.requests, traffic.fell_back, traffic.reasons});
  // Keep one sample at or before the window's start as the base of the deltas.
  const TimePoint window_start = at - alerts_.fallback_surge.window;
  while (samples.size() >= 2 && samples[1].at <= window_start) samples.pop_front();
}

void ExceptionDetector::note_history_since(TimePoint since) {
  history_since_ = std::min(history_since_, since);
}

void ExceptionDetector::mark_fired(std::string_view key) { fired_.emplace(key); }

bool ExceptionDetector::has_fired(std::string_view key) const {
  return fired_.find(key) != fired_.end();
}

bool ExceptionDetector::claim(const std::string& key) { return fired_.insert(key).second; }

BudgetException ExceptionDetector::base_event(const WorkflowBudgetView& view,
                                              const WorkflowTrack& workflow, ExceptionKind kind,
                                              const WindowView& window, TimePoint now) const {
  BudgetException event;
  event.at = now;
  event.kind = kind;
  event.workflow = view.workflow;
  event.owner = view.owner;
  event.contact = view.contact;
  event.window = window.kind;
  event.window_bounds = window.bounds;
  event.spent = window.spent;
  event.limit = window.limit;
  event.utilization = window.utilization;
  event.active_override = view.active_override;
  event.planned = view.active_override.has_value();
  event.decision_rule = rule_for(view.decisions, kind);

  const Breakdown& breakdown = workflow.breakdowns[static_cast<std::size_t>(window.kind)];
  if (breakdown.bounds == window.bounds) {
    for (const auto& [provider, totals] : breakdown.providers) {
      event.providers.push_back(ProviderSpend{provider, totals.total});
      for (const auto& [model, spent] : totals.models) {
        if (!event.top_model || spent > event.top_model->spent) {
          event.top_model = ModelSpend{provider, model, spent};
        }
      }
    }
    std::stable_sort(
        event.providers.begin(), event.providers.end(),
        [](const ProviderSpend& a, const ProviderSpend& b) { return a.spent > b.spent; });
  }
  return event;
}

void ExceptionDetector::finish(BudgetException& event, const WorkflowBudgetView& view,
                               std::string key) const {
  event.next_action =
      event.decision_rule.empty() ? default_next_action(event, view) : event.decision_rule;
  event.id = exception_id(event.at, key);
  event.dedupe_key = std::move(key);
}

std::vector<BudgetException> ExceptionDetector::evaluate(
    const std::vector<WorkflowBudgetView>& views) {
  const TimePoint now = clock_.now();
  std::vector<BudgetException> raised;
  for (const WorkflowBudgetView& view : views) {
    const WorkflowTrack& workflow = track(view.workflow);
    check_overrides(view, workflow, now, raised);
    check_windows(view, workflow, now, raised);
    check_spike(view, workflow, now, raised);
    check_fallbacks(view, workflow, now, raised);
  }
  return raised;
}

void ExceptionDetector::check_windows(const WorkflowBudgetView& view, const WorkflowTrack& workflow,
                                      TimePoint now, std::vector<BudgetException>& out) {
  for (const WindowKind kind : kWindowKinds) {
    const std::size_t index = static_cast<std::size_t>(kind);
    // The window just rolled out of is checked too: what settled or was refused in its
    // last moments still counts there.
    for (const WindowView* window :
         {view.previous[index] ? &*view.previous[index] : nullptr, &view.windows[index]}) {
      if (window == nullptr || !window->limit) continue;
      for (const double fraction : view.alert_at) {
        if (window->spent <= 0 || window->spent < threshold_amount(fraction, *window->limit)) {
          continue;
        }
        std::string key =
            window_key(view.workflow, ExceptionKind::threshold, *window, fraction_text(fraction));
        if (!claim(key)) continue;
        BudgetException event = base_event(view, workflow, ExceptionKind::threshold, *window, now);
        event.threshold = fraction;
        finish(event, view, std::move(key));
        out.push_back(std::move(event));
      }
      if (window->first_refusal) {
        std::string key = window_key(view.workflow, ExceptionKind::exceeded, *window, "");
        if (!claim(key)) continue;
        BudgetException event = base_event(view, workflow, ExceptionKind::exceeded, *window, now);
        event.details = ExceededDetails{*window->first_refusal,
                                        *window->first_refusal == BudgetAction::block &&
                                            view.on_exceeded != config::OnExceeded::block};
        finish(event, view, std::move(key));
        out.push_back(std::move(event));
      }
    }
  }
}

void ExceptionDetector::check_overrides(const WorkflowBudgetView& view,
                                        const WorkflowTrack& workflow, TimePoint now,
                                        std::vector<BudgetException>& out) {
  for (const config::OverrideSpec& spec : workflow.policy.overrides) {
    const auto from = spec.from.time_since_epoch().count();
    std::string started =
        dedupe_key(view.workflow, ExceptionKind::override_started, "override", from, spec.name);
    const bool active = spec.from <= now && now < spec.until;
    ExceptionKind kind;
    std::string key;
    if (active) {
      if (!claim(started)) continue;
      kind = ExceptionKind::override_started;
      key = std::move(started);
    } else {
      // Ended: only an override whose start was raised (here or before a restart).
      if (now < spec.until || !has_fired(started)) continue;
      key = dedupe_key(view.workflow, ExceptionKind::override_ended, "override", from, spec.name);
      if (!claim(key)) continue;
      kind = ExceptionKind::override_ended;
    }
    const WindowKind window_kind =
        !spec.daily && spec.monthly ? WindowKind::monthly : WindowKind::daily;
    BudgetException event =
        base_event(view, workflow, kind, view.windows[static_cast<std::size_t>(window_kind)], now);
    // From the override itself, so a view taken a moment before it began still names it.
    event.active_override = active ? std::optional(spec) : std::nullopt;
    event.planned = active;
    event.details = OverrideDetails{spec};
    finish(event, view, std::move(key));
    out.push_back(std::move(event));
  }
}

void ExceptionDetector::check_spike(const WorkflowBudgetView& view, const WorkflowTrack& workflow,
                                    TimePoint now, std::vector<BudgetException>& out) {
  if (!workflow.series) return;
  const config::SpikeSpec& spike = alerts_.spike;
  const auto window = std::chrono::duration_cast<seconds>(spike.window);
  if (window.count() <= 0) return;
  const SpendSeries& series = *workflow.series;
  const std::int64_t width = series.bucket_width().count();
  const std::int64_t window_buckets = (window.count() + width - 1) / width;
  const std::int64_t current = series.bucket_of(now);
  const std::int64_t first_in_window = current - window_buckets + 1;
  const NanoUsd window_spend = series.sum(first_in_window, current + 1);
  if (window_spend <= 0 || window_spend < spike.min_spend) return;

  const TimePoint baseline_end{seconds{first_in_window * width}};
  const TimePoint baseline_start = std::max(history_since_, baseline_end - spike.baseline);
  const auto span = std::chrono::duration_cast<seconds>(baseline_end - baseline_start);
  if (span < window) return;  // too little history to call anything unusual
  const NanoUsd baseline_spend = series.sum(series.bucket_of(baseline_start), first_in_window);
  const double rate_per_second =
      static_cast<double>(baseline_spend) / static_cast<double>(span.count());
  const double expected = spike.factor * rate_per_second * static_cast<double>(window.count());
  if (static_cast<double>(window_spend) <= expected) return;

  const bool planned = view.active_override.has_value();
  const WindowView& reported = primary_window(view);
  const WindowView& daily = view.windows[static_cast<std::size_t>(WindowKind::daily)];
  std::string key =
      dedupe_key(view.workflow, ExceptionKind::spike, "daily",
                 daily.bounds.start.time_since_epoch().count(), planned ? "planned" : "");
  if (!claim(key)) return;
  BudgetException event = base_event(view, workflow, ExceptionKind::spike, reported, now);
  event.notify = !planned;
  event.details = SpikeDetails{window_spend, window,
                               rate_per_second * 3600.0 / static_cast<double>(config::kNanoPerUsd),
                               span, spike.factor};
  finish(event, view, std::move(key));
  out.push_back(std::move(event));
}

void ExceptionDetector::check_fallbacks(const WorkflowBudgetView& view,
                                        const WorkflowTrack& workflow, TimePoint now,
                                        std::vector<BudgetException>& out) {
  const config::FallbackSurgeSpec& surge = alerts_.fallback_surge;
  const WindowView& daily = view.windows[static_cast<std::size_t>(WindowKind::daily)];
  for (auto entry = traffic_.lower_bound({view.workflow, std::string()});
       entry != traffic_.end() && entry->first.first == view.workflow; ++entry) {
    const std::deque<TrafficSample>& samples = entry->second;
    if (samples.size() < 2) continue;
    const TrafficSample& base = samples.front();
    const TrafficSample& latest = samples.back();
    const std::uint64_t requests = latest.requests - base.requests;
    const std::uint64_t fell_back = latest.fell_back - base.fell_back;
    if (requests == 0 || requests < surge.min_requests) continue;
    const double ratio = static_cast<double>(fell_back) / static_cast<double>(requests);
    if (ratio <= surge.ratio) continue;
    const std::string& route = entry->first.second;
    std::string key = dedupe_key(view.workflow, ExceptionKind::fallback_surge, "daily",
                                 daily.bounds.start.time_since_epoch().count(), route);
    if (!claim(key)) continue;

    FallbackSurgeDetails details{
        route, ratio, requests, fell_back, std::chrono::duration_cast<seconds>(surge.window), {}};
    for (std::size_t cls = 0; cls < config::kFailureClassCount; ++cls) {
      if (const std::uint64_t count = latest.reasons[cls] - base.reasons[cls]; count > 0) {
        details.top_reasons.emplace_back(static_cast<config::FailureClass>(cls), count);
      }
    }
    std::stable_sort(details.top_reasons.begin(), details.top_reasons.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    if (details.top_reasons.size() > kTopReasons) details.top_reasons.resize(kTopReasons);
    BudgetException event =
        base_event(view, workflow, ExceptionKind::fallback_surge, primary_window(view), now);
    event.details = std::move(details);
    finish(event, view, std::move(key));
    out.push_back(std::move(event));
  }
}

}  // namespace spendwall::policies
