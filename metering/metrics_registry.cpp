#include "metering/metrics_registry.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <span>
#include <string_view>
#include <utility>

#include "config/build_info.hpp"
#include "metering/metric_names.hpp"

namespace spendwall::metering {

namespace metrics_layout {
struct ShardReader {
  static const RequestTable& requests(const WorkerMetrics& w) noexcept { return w.requests_; }
  static const UpstreamTable& upstream(const WorkerMetrics& w) noexcept { return w.upstream_; }
  static const FallbackTable& fallbacks(const WorkerMetrics& w) noexcept { return w.fallbacks_; }
  static const WorkflowGaugeTable& active_requests(const WorkerMetrics& w) noexcept {
    return w.active_requests_;
  }
  static const ConnectionTable& connections(const WorkerMetrics& w) noexcept {
    return w.connections_;
  }
  static const auto& proxy_overhead(const WorkerMetrics& w) noexcept { return w.proxy_overhead_; }
  static const auto& unauthenticated(const WorkerMetrics& w) noexcept { return w.unauthenticated_; }
};
}  // namespace metrics_layout

namespace {

using namespace metrics_layout;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using Workers = std::vector<const WorkerMetrics*>;

constexpr double kNanosPerSecond = 1e9;

constexpr const MetricDef& kActiveRequestsMetric = metric_def("spendwall_active_requests");
constexpr const MetricDef& kBuildInfoMetric = metric_def("spendwall_build_info");
constexpr const MetricDef& kConfigLastReloadSuccessMetric =
    metric_def("spendwall_config_last_reload_success_timestamp_seconds");
constexpr const MetricDef& kConfigReloadsMetric = metric_def("spendwall_config_reloads_total");
constexpr const MetricDef& kCostMetric = metric_def("spendwall_cost_usd_total");
constexpr const MetricDef& kFallbacksMetric = metric_def("spendwall_fallbacks_total");
constexpr const MetricDef& kLedgerRecordsMetric = metric_def("spendwall_ledger_records_total");
constexpr const MetricDef& kLedgerWriteErrorsMetric =
    metric_def("spendwall_ledger_write_errors_total");
constexpr const MetricDef& kProxyOverheadMetric = metric_def("spendwall_proxy_overhead_seconds");
constexpr const MetricDef& kRequestsMetric = metric_def("spendwall_requests_total");
constexpr const MetricDef& kTimeToFirstTokenMetric =
    metric_def("spendwall_time_to_first_token_seconds");
constexpr const MetricDef& kTokensMetric = metric_def("spendwall_tokens_total");
constexpr const MetricDef& kUnauthenticatedMetric =
    metric_def("spendwall_unauthenticated_requests_total");
constexpr const MetricDef& kUpstreamAttemptsMetric =
    metric_def("spendwall_upstream_attempts_total");
constexpr const MetricDef& kUpstreamConnectionsMetric =
    metric_def("spendwall_upstream_connections");
constexpr const MetricDef& kUpstreamDurationMetric =
    metric_def("spendwall_upstream_duration_seconds");
constexpr const MetricDef& kUsageEstimatedMetric = metric_def("spendwall_usage_estimated_total");
constexpr const MetricDef& kWorkflowInfoMetric = metric_def("spendwall_workflow_info");

/// Label values by id, copied once per scrape so that no lock is held while folding.
class LabelNames {
 public:
  explicit LabelNames(std::vector<std::string_view> names) : names_(std::move(names)) {}

  std::string_view operator()(std::uint64_t id) const {
    return id < names_.size() ? names_[id] : kOtherLabelValue;
  }
  /// Label `position` of a word made by pack_labels().
  std::string_view at(std::uint64_t word, unsigned position) const {
    return (*this)(label_at(word, position));
  }

 private:
  std::vector<std::string_view> names_;
};

/// One key's cells summed over every worker.
template <std::size_t KeyWords, std::size_t CellCount>
struct Row {
  std::array<std::uint64_t, KeyWords> key;
  std::array<std::uint64_t, CellCount> cells;
};

/// Sorts rows by key and adds up the cells of equal keys (wrapping, so signed gauges and
/// costs stored as uint64_t come back exact).
template <class RowType>
void merge_equal_keys(std::vector<RowType>& rows) {
  std::sort(rows.begin(), rows.end(),
            [](const RowType& a, const RowType& b) { return a.key < b.key; });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (kept > 0 && rows[kept - 1].key == rows[i].key) {
      for (std::size_t c = 0; c < rows[i].cells.size(); ++c) {
        rows[kept - 1].cells[c] += rows[i].cells[c];
      }
    } else {
      rows[kept++] = rows[i];
    }
  }
  rows.resize(kept);
}

/// Every worker's table of one kind, read with relaxed loads and summed by key.
template <std::size_t KeyWords, std::size_t CellCount, class TableOf>
std::vector<Row<KeyWords, CellCount>> fold(const Workers& workers, TableOf table_of) {
  std::vector<Row<KeyWords, CellCount>> rows;
  for (const WorkerMetrics* worker : workers) {
    table_of(*worker).for_each([&rows](const auto& key, const auto& cells) {
      auto& row = rows.emplace_back();
      row.key = key;
      for (std::size_t c = 0; c < CellCount; ++c) {
        row.cells[c] = cells[c].load(std::memory_order_relaxed);
      }
    });
  }
  merge_equal_keys(rows);
  return rows;
}

/// The rows re-keyed by `project` (which drops labels) and summed again.
template <class RowType, class Project>
std::vector<RowType> regroup(std::vector<RowType> rows, Project project) {
  for (auto& row : rows) row.key = project(row.key);
  merge_equal_keys(rows);
  return rows;
}

double usd(std::uint64_t nano_usd_sum) {
  return static_cast<double>(static_cast<config::NanoUsd>(nano_usd_sum)) / kNanosPerSecond;
}

/// Builds one family from its metric_names.hpp entry, labels in the entry's order.
class FamilyBuilder {
 public:
  explicit FamilyBuilder(const MetricDef& def) : def_(def) {
    family_.name = def.name;
    family_.help = def.help;
    family_.type = def.type;
  }

  void counter(std::initializer_list<std::string_view> values, double value) {
    add(values).counter.value = value;
  }
  void gauge(std::initializer_list<std::string_view> values, double value) {
    add(values).gauge.value = value;
  }
  /// A histogram series from its cells (HistogramBuckets layout); none when empty.
  template <std::size_t BoundCount>
  void histogram(std::initializer_list<std::string_view> values,
                 const HistogramBuckets<BoundCount>& buckets,
                 std::span<const std::uint64_t> cells) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= BoundCount; ++i) cumulative += cells[i];
    if (cumulative == 0) return;
    auto& histogram = add(values).histogram;
    histogram.bucket.reserve(BoundCount + 1);
    cumulative = 0;
    for (std::size_t i = 0; i < BoundCount; ++i) {
      cumulative += cells[i];
      histogram.bucket.push_back(
          {cumulative, static_cast<double>(buckets.upper_bounds_ns[i]) / kNanosPerSecond});
    }
    cumulative += cells[buckets.kInfCell];
    histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    histogram.sample_count = cumulative;
    histogram.sample_sum = static_cast<double>(cells[buckets.kSumCell]) /
                           (kNanosPerSecond / static_cast<double>(buckets.sum_tick_ns));
  }

  MetricFamily take() && { return std::move(family_); }

 private:
  ClientMetric& add(std::initializer_list<std::string_view> values) {
    assert(values.size() == def_.label_count());
    ClientMetric& metric = family_.metric.emplace_back();
    metric.label.reserve(values.size());
    const auto* name = def_.labels.begin();
    for (std::string_view value : values) {
      metric.label.push_back({std::string(*name++), std::string(value)});
    }
    return metric;
  }

  const MetricDef& def_;
  MetricFamily family_;
};

void collect_requests(const Workers& workers, const LabelNames& names,
                      std::vector<MetricFamily>& out) {
  const auto rows = fold<2, kRequestCellCount>(
      workers, [](const WorkerMetrics& w) -> const auto& { return ShardReader::requests(w); });

  FamilyBuilder requests(kRequestsMetric);
  for (const auto& [key, cells] : rows) {
    const auto endpoint = static_cast<std::size_t>((key[1] >> 16) & 0xFF);
    std::array<char, 8> code_text{};
    const auto code_end = std::to_chars(code_text.begin(), code_text.end(), key[1] & 0xFFFF).ptr;
    const bool overflow = (key[1] & kRequestOverflowFlag) != 0;
    requests.counter(
        {names.at(key[0], 0), names.at(key[0], 1), names.at(key[0], 2), names.at(key[0], 3),
         endpoint < kEndpointCount ? endpoint_label(static_cast<Endpoint>(endpoint))
                                   : kOtherLabelValue,
         overflow ? kOtherLabelValue
                  : std::string_view(code_text.data(),
                                     static_cast<std::size_t>(code_end - code_text.data()))},
        static_cast<double>(cells[kRequestCount]));
  }
  out.push_back(std::move(requests).take());

  // Cost has no endpoint or code; tokens and usage_estimated have no route either.
  const auto by_route = regroup(rows, [](auto key) { return decltype(key){key[0], 0}; });
  FamilyBuilder cost(kCostMetric);
  for (const auto& [key, cells] : by_route) {
    if (cells[kCostNanoUsd] == 0) continue;
    cost.counter(
        {names.at(key[0], 0), names.at(key[0], 1), names.at(key[0], 2), names.at(key[0], 3)},
        usd(cells[kCostNanoUsd]));
  }
  out.push_back(std::move(cost).take());

  const auto by_workflow = regroup(by_route, [](auto key) {
    return decltype(key){key[0] & ~pack_labels(0, 0xFFFF, 0, 0), 0};
  });
  FamilyBuilder tokens(kTokensMetric);
  FamilyBuilder estimated(kUsageEstimatedMetric);
  for (const auto& [key, cells] : by_workflow) {
    const auto workflow = names.at(key[0], 0);
    const auto provider = names.at(key[0], 2);
    const auto model = names.at(key[0], 3);
    for (std::size_t kind = 0; kind < kTokenKindCount; ++kind) {
      if (const auto count = cells[kInputTokens + kind]; count != 0) {
        tokens.counter({workflow, provider, model, kTokenKindLabels[kind]},
                       static_cast<double>(count));
      }
    }
    if (cells[kUsageEstimated] != 0) {
      estimated.counter({workflow, provider, model}, static_cast<double>(cells[kUsageEstimated]));
    }
  }
  out.push_back(std::move(tokens).take());
  out.push_back(std::move(estimated).take());
}

void collect_upstream(const Workers& workers, const LabelNames& names,
                      std::vector<MetricFamily>& out) {
  const auto rows = fold<1, kUpstreamCellCount>(
      workers, [](const WorkerMetrics& w) -> const auto& { return ShardReader::upstream(w); });

  FamilyBuilder attempts(kUpstreamAttemptsMetric);
  FamilyBuilder duration(kUpstreamDurationMetric);
  FamilyBuilder first_token(kTimeToFirstTokenMetric);
  for (const auto& [key, cells] : rows) {
    const auto provider = names.at(key[0], 2);
    const auto model = names.at(key[0], 3);
    for (std::size_t result = 0; result < kAttemptResultCount; ++result) {
      if (cells[result] == 0) continue;
      attempts.counter({provider, model, attempt_result_label(static_cast<AttemptResult>(result))},
                       static_cast<double>(cells[result]));
    }
    const std::span<const std::uint64_t> all(cells);
    duration.histogram({provider, model}, kUpstreamBuckets, all.subspan(kDurationCells));
    first_token.histogram({provider, model}, kUpstreamBuckets, all.subspan(kFirstTokenCells));
  }
  out.push_back(std::move(attempts).take());
  out.push_back(std::move(duration).take());
  out.push_back(std::move(first_token).take());
}

void collect_fallbacks(const Workers& workers, const LabelNames& names,
                       std::vector<MetricFamily>& out) {
  const auto rows = fold<2, 1>(
      workers, [](const WorkerMetrics& w) -> const auto& { return ShardReader::fallbacks(w); });
  FamilyBuilder fallbacks(kFallbacksMetric);
  for (const auto& [key, cells] : rows) {
    const auto reason = static_cast<std::size_t>(key[1] & 0xFFFF);
    fallbacks.counter({names.at(key[0], 0), names.at(key[0], 1), names.at(key[0], 2),
                       names.at(key[0], 3), names.at(key[1], 0), names.at(key[1], 1),
                       reason < config::kFailureClassCount
                           ? config::to_string(static_cast<config::FailureClass>(reason))
                           : kOtherLabelValue},
                      static_cast<double>(cells[0]));
  }
  out.push_back(std::move(fallbacks).take());
}

void collect_gauges(const Workers& workers, const LabelNames& names,
                    std::vector<MetricFamily>& out) {
  FamilyBuilder active(kActiveRequestsMetric);
  for (const auto& [key, cells] : fold<1, 1>(
           workers,
           [](const WorkerMetrics& w) -> const auto& { return ShardReader::active_requests(w); })) {
    active.gauge({names(key[0])}, static_cast<double>(static_cast<std::int64_t>(cells[0])));
  }
  out.push_back(std::move(active).take());

  FamilyBuilder connections(kUpstreamConnectionsMetric);
  for (const auto& [key, cells] : fold<1, kConnectionCellCount>(
           workers,
           [](const WorkerMetrics& w) -> const auto& { return ShardReader::connections(w); })) {
    connections.gauge({names(key[0]), "idle"}, static_cast<double>(cells[kIdleConnections]));
    connections.gauge({names(key[0]), "active"}, static_cast<double>(cells[kActiveConnections]));
  }
  out.push_back(std::move(connections).take());
}

void collect_endpoints(const Workers& workers, std::vector<MetricFamily>& out) {
  std::array<std::uint64_t, kEndpointCount> unauthenticated{};
  std::array<std::array<std::uint64_t, kProxyOverheadBuckets.kCellCount>, kEndpointCount>
      overhead{};
  for (const WorkerMetrics* worker : workers) {
    const auto& unauthenticated_cells = ShardReader::unauthenticated(*worker);
    const auto& overhead_cells = ShardReader::proxy_overhead(*worker);
    for (std::size_t e = 0; e < kEndpointCount; ++e) {
      unauthenticated[e] += unauthenticated_cells[e].load(std::memory_order_relaxed);
      for (std::size_t c = 0; c < overhead[e].size(); ++c) {
        overhead[e][c] += overhead_cells[e][c].load(std::memory_order_relaxed);
      }
    }
  }
  FamilyBuilder unauthenticated_family(kUnauthenticatedMetric);
  FamilyBuilder overhead_family(kProxyOverheadMetric);
  for (std::size_t e = 0; e < kEndpointCount; ++e) {
    const auto endpoint = endpoint_label(static_cast<Endpoint>(e));
    if (unauthenticated[e] != 0) {
      unauthenticated_family.counter({endpoint}, static_cast<double>(unauthenticated[e]));
    }
    overhead_family.histogram({endpoint}, kProxyOverheadBuckets, overhead[e]);
  }
  out.push_back(std::move(unauthenticated_family).take());
  out.push_back(std::move(overhead_family).take());
}

/// What Collect() copies out under the registry's lock.
struct ControlState {
  Workers workers;
  std::shared_ptr<const config::ConfigSnapshot> snapshot;
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_rejected = 0;
  double last_reload_success_seconds = 0;
  std::function<std::uint64_t()> ledger_records;
  std::function<std::uint64_t()> ledger_write_errors;
  std::vector<std::shared_ptr<const prometheus::Collectable>> extra_collectables;
};

void collect_control_plane(const ControlState& state, std::vector<MetricFamily>& out) {
  FamilyBuilder build_info(kBuildInfoMetric);
  build_info.gauge({config::kVersion, config::kCommit}, 1);
  out.push_back(std::move(build_info).take());

  FamilyBuilder workflow_info(kWorkflowInfoMetric);
  if (state.snapshot) {
    for (const auto& workflow : state.snapshot->workflows) {
      workflow_info.gauge({workflow.name, workflow.owner, workflow.contact, workflow.review}, 1);
    }
  }
  out.push_back(std::move(workflow_info).take());

  FamilyBuilder reloads(kConfigReloadsMetric);
  reloads.counter({"ok"}, static_cast<double>(state.reloads_ok));
  reloads.counter({"rejected"}, static_cast<double>(state.reloads_rejected));
  out.push_back(std::move(reloads).take());

  FamilyBuilder last_success(kConfigLastReloadSuccessMetric);
  last_success.gauge({}, state.last_reload_success_seconds);
  out.push_back(std::move(last_success).take());

  const auto counter_from = [&out](const MetricDef& def,
                                   const std::function<std::uint64_t()>& source) {
    FamilyBuilder family(def);
    family.counter({}, source ? static_cast<double>(source()) : 0.0);
    out.push_back(std::move(family).take());
  };
  counter_from(kLedgerRecordsMetric, state.ledger_records);
  counter_from(kLedgerWriteErrorsMetric, state.ledger_write_errors);
}

}  // namespace

MetricsRegistry::MetricsRegistry(const MetricsCapacity& capacity) : capacity_(capacity) {}

MetricsRegistry::~MetricsRegistry() = default;

WorkerMetrics& MetricsRegistry::add_worker() {
  auto worker = std::make_unique<WorkerMetrics>(capacity_);
  const std::lock_guard lock(mutex_);
  return *workers_.emplace_back(std::move(worker));
}

void MetricsRegistry::set_snapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot) {
  if (snapshot) labels_.intern_names_of(*snapshot);
  const std::lock_guard lock(mutex_);
  snapshot_ = std::move(snapshot);
}

void MetricsRegistry::record_initial_config_load(std::chrono::system_clock::time_point at) {
  const std::lock_guard lock(mutex_);
  last_reload_success_seconds_ = std::chrono::duration<double>(at.time_since_epoch()).count();
}

void MetricsRegistry::record_config_reload(ReloadResult result,
                                           std::chrono::system_clock::time_point at) {
  const std::lock_guard lock(mutex_);
  if (result == ReloadResult::rejected) {
    ++reloads_rejected_;
    return;
  }
  ++reloads_ok_;
  last_reload_success_seconds_ = std::chrono::duration<double>(at.time_since_epoch()).count();
}

void MetricsRegistry::set_ledger_counters(std::function<std::uint64_t()> records_written,
                                          std::function<std::uint64_t()> write_errors) {
  const std::lock_guard lock(mutex_);
  ledger_records_ = std::move(records_written);
  ledger_write_errors_ = std::move(write_errors);
}

void MetricsRegistry::add_collectable(std::weak_ptr<const prometheus::Collectable> collectable) {
  const std::lock_guard lock(mutex_);
  std::erase_if(extra_collectables_, [](const auto& weak) { return weak.expired(); });
  extra_collectables_.push_back(std::move(collectable));
}

std::vector<MetricFamily> MetricsRegistry::Collect() const {
  ControlState state;
  {
    const std::lock_guard lock(mutex_);
    state.workers.reserve(workers_.size());
    for (const auto& worker : workers_) state.workers.push_back(worker.get());
    state.snapshot = snapshot_;
    state.reloads_ok = reloads_ok_;
    state.reloads_rejected = reloads_rejected_;
    state.last_reload_success_seconds = last_reload_success_seconds_;
    state.ledger_records = ledger_records_;
    state.ledger_write_errors = ledger_write_errors_;
    for (const auto& weak : extra_collectables_) {
      if (auto live = weak.lock()) state.extra_collectables.push_back(std::move(live));
    }
  }
  const LabelNames names(labels_.names());

  std::vector<MetricFamily> families;
  collect_requests(state.workers, names, families);
  collect_upstream(state.workers, names, families);
  collect_fallbacks(state.workers, names, families);
  collect_gauges(state.workers, names, families);
  collect_endpoints(state.workers, families);
  collect_control_plane(state, families);
  for (const auto& extra : state.extra_collectables) {
    auto more = extra->Collect();
    std::move(more.begin(), more.end(), std::back_inserter(families));
  }
  std::stable_sort(families.begin(), families.end(),
                   [](const MetricFamily& a, const MetricFamily& b) { return a.name < b.name; });
  return families;
}

std::string render_metrics(const prometheus::Collectable& collectable) {
  return prometheus::TextSerializer().Serialize(collectable.Collect());
}

}  // namespace spendwall::metering
