#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "config/loader.hpp"
#include "metering/ledger/ledger.hpp"
#include "metering/metrics_registry.hpp"
#include "policies/budget_book.hpp"
#include "policies/budget_metrics.hpp"
#include "policies/clock.hpp"
#include "policies/exceptions.hpp"
#include "proxy/admin/admin_server.hpp"
#include "proxy/alerts/alert_outbox.hpp"
#include "proxy/net.hpp"
#include "proxy/routing/runtime_config.hpp"
#include "proxy/server/worker.hpp"

/// The process: the data-plane workers, the admin plane and the control thread that
/// handles signals, reloads and shutdown.
/// Thread-safety: construct and `run()` on the main thread; everything else is
/// internal.
namespace spendwall::proxy::server {

/// Loads the config again for a reload (SIGHUP, POST /admin/reload).
using ConfigSource = std::function<config::LoadResult()>;

class Server {
 public:
  /// `watch_files`: reload when the config file or an included price file changes on
  /// disk (off for the embedded quickstart, which has no file).
  Server(std::shared_ptr<const config::ConfigSnapshot> snapshot, ConfigSource source,
         bool watch_files);
  ~Server();

  /// Binds, serves until SIGTERM/SIGINT, drains, and returns the exit code. Binding
  /// failures are logged and return 1.
  int run();

 private:
  struct ReloadOutcome {
    enum class Result { ok, unchanged, rejected } result;
    std::vector<std::string> diagnostics;
  };

  bool bind_listeners(std::vector<tcp::acceptor>& data_acceptors,
                      std::optional<tcp::acceptor>& admin_acceptor);
  void begin_shutdown();
  /// Rebuilds each budget window's spend from the ledger (reservations die with the
  /// process that made them).
  void restore_budget_spend();
  /// Sums each live session's spend from the ledger, so a restart does not reset caps.
  void restore_session_spend();
  /// Re-arms the exception detector from the ledger: the keys that fired before and the
  /// spend of the current windows and the spike baseline.
  void restore_exceptions();
  /// Rolls budget windows over and starts/ends overrides, once a second.
  void schedule_budget_roll();
  /// The second's exception work: feed the detector what settled since the last tick,
  /// store and count what it raises, and start due deliveries.
  void tick_exceptions();
  /// Feeds the detector up to `batches` batches of the spend the ledger ingested since the
  /// last call, of requests that finished at or after `since`.
  /// How a route first seen while reading spend starts its fallback_surge counts.
  enum class NewRoutes {
    count_from_zero,   ///< live traffic: a zero sample first, so the first burst counts
    take_as_baseline,  ///< history replayed at start: none of it is a surge by itself
  };
  void feed_spend(policies::TimePoint since, std::size_t batches, NewRoutes new_routes);
  admin::AdminResponse list_exceptions(std::string_view query);
  /// Polls the config files; a change that has settled for one poll triggers a reload.
  void schedule_file_watch();
  std::string config_files_stamp() const;
  void watch_drain(std::chrono::steady_clock::time_point deadline);
  ReloadOutcome reload();
  std::optional<admin::AdminResponse> handle_admin(const admin::AdminRequest& request);
  admin::AdminResponse request_record(std::string_view id);

  net::io_context control_{1};
  std::shared_ptr<const config::ConfigSnapshot> initial_snapshot_;
  metering::MetricsRegistry metrics_;
  std::shared_ptr<const routing::RuntimeConfig> runtime_;
  ConfigSource source_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<metering::ledger::Ledger> ledger_;
  std::shared_ptr<metering::OutcomeMetrics> outcome_metrics_ =
      std::make_shared<metering::OutcomeMetrics>();
  policies::SystemClock clock_;
  std::unique_ptr<policies::BudgetBook> budgets_;
  std::shared_ptr<policies::BudgetMetrics> budget_metrics_;
  std::unique_ptr<policies::ExceptionDetector> detector_;
  std::int64_t spend_sequence_ = 0;  ///< the last ledger spend row fed to the detector
  /// Requests, requests that fell back and their failure classes, per (workflow, route),
  /// over every ledger row read: the cumulative counts fallback_surge samples each tick.
  std::map<std::pair<std::string, std::string>, policies::RouteTraffic> route_traffic_;
  /// Raised but not yet stored (the ledger was failing): retried each tick.
  std::vector<std::pair<metering::ledger::StoredException, std::vector<std::string>>> unstored_;
  std::shared_ptr<alerts::AlertMetrics> alert_metrics_ = std::make_shared<alerts::AlertMetrics>();
  std::unique_ptr<alerts::AlertOutbox> outbox_;
  net::steady_timer budget_timer_{control_};
  bool watch_files_;
  net::steady_timer watch_timer_{control_};
  std::string watched_stamp_;  ///< size and mtime of every config file at the last reload
  std::unique_ptr<admin::AdminServer> admin_;
  net::signal_set signals_{control_};
  bool shutting_down_ = false;
};

}  // namespace spendwall::proxy::server
