#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metering/label_table.hpp"
#include "metering/metrics_worker.hpp"

/// The Prometheus side of the metrics: folds every worker's shard into the families of
/// metrics.md at scrape time, plus the control-plane counters and any extra collectables.
namespace spendwall::metering {

enum class ReloadResult : std::uint8_t { ok, rejected };

/// Owner of the label table and of every worker's metric shard, and the `Collectable`
/// the admin plane renders at `/metrics`.
///
/// Exports: build_info, workflow_info, requests, unauthenticated requests, tokens, cost,
/// usage_estimated, fallbacks, upstream attempts, the three latency histograms, upstream
/// connections, active requests, config reloads and last success time, and the ledger
/// counters. Other families (budgets, exceptions, alerts, outcomes) come from
/// collectables registered with add_collectable(); their names live in metric_names.hpp.
///
/// A series appears once something was counted in it; gauges stay once seen, and
/// config_reloads_total shows both results from the start. Families are sorted by name.
///
/// Thread-safety: every member is safe from any thread. add_worker() is meant for startup,
/// the setters for the control thread; Collect() takes short locks and reads the shards
/// with relaxed loads while workers write them, so a scrape never blocks the request path.
class MetricsRegistry final : public prometheus::Collectable {
 public:
  explicit MetricsRegistry(const MetricsCapacity& capacity = {});
  ~MetricsRegistry() override;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  /// The process-wide label ids the request path keys its samples by.
  LabelTable& labels() noexcept { return labels_; }
  const LabelTable& labels() const noexcept { return labels_; }

  /// A new shard for one worker thread, alive as long as the registry (counters never go
  /// back, so shards are never removed). Allocates its tables.
  WorkerMetrics& add_worker();

  /// The config behind workflow_info; interns its names into labels().
  void set_snapshot(std::shared_ptr<const config::ConfigSnapshot> snapshot);

  /// The config loaded at startup: sets the last-success time without counting a reload.
  void record_initial_config_load(std::chrono::system_clock::time_point at);
  /// A reload attempt that changed something (an unchanged one counts nothing).
  void record_config_reload(ReloadResult result, std::chrono::system_clock::time_point at);

  /// Where ledger_records_total and ledger_write_errors_total come from; called at scrape
  /// time, outside the registry's lock. Unset ones export 0.
  void set_ledger_counters(std::function<std::uint64_t()> records_written,
                           std::function<std::uint64_t()> write_errors);

  /// Adds the families of `collectable` to every scrape, for as long as it lives.
  void add_collectable(std::weak_ptr<const prometheus::Collectable> collectable);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const MetricsCapacity capacity_;
  LabelTable labels_;

  mutable std::mutex mutex_;  ///< guards everything below
  std::deque<std::unique_ptr<WorkerMetrics>> workers_;
  std::shared_ptr<const config::ConfigSnapshot> snapshot_;
  std::uint64_t reloads_ok_ = 0;
  std::uint64_t reloads_rejected_ = 0;
  double last_reload_success_seconds_ = 0;
  std::function<std::uint64_t()> ledger_records_;
  std::function<std::uint64_t()> ledger_write_errors_;
  std::vector<std::weak_ptr<const prometheus::Collectable>> extra_collectables_;
};

/// The Prometheus text exposition (format 0.0.4) of `collectable`, for `GET /metrics`.
std::string render_metrics(const prometheus::Collectable& collectable);

}  // namespace spendwall::metering
