#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "config/loader.hpp"
#include "metering/ledger/ledger.hpp"
#include "metering/metrics_registry.hpp"
#include "policies/budget_book.hpp"
#include "policies/budget_metrics.hpp"
#include "policies/clock.hpp"
#include "proxy/admin/admin_server.hpp"
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
  Server(std::shared_ptr<const config::ConfigSnapshot> snapshot, ConfigSource source, bool watch_files);
  ~Server();

  /// Binds, serves until SIGTERM/SIGINT, drains, and returns the exit code. Binding
  /// failures are logged and return 1.
  int run();

 private:
  struct ReloadOutcome {
    enum class Result { ok, unchanged, rejected } result;
    std::vector<std::string> diagnostics;
  };

  bool bind_listeners(std::vector<tcp::acceptor>& data_acceptors, std::optional<tcp::acceptor>& admin_acceptor);
  void begin_shutdown();
  /// Rebuilds each budget window's spend from the ledger (reservations die with the
  /// process that made them).
  void restore_budget_spend();
  /// Rolls budget windows over and starts/ends overrides, once a second.
  void schedule_budget_roll();
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
  std::shared_ptr<metering::OutcomeMetrics> outcome_metrics_ = std::make_shared<metering::OutcomeMetrics>();
  policies::SystemClock clock_;
  std::unique_ptr<policies::BudgetBook> budgets_;
  std::shared_ptr<policies::BudgetMetrics> budget_metrics_;
  net::steady_timer budget_timer_{control_};
  bool watch_files_;
  net::steady_timer watch_timer_{control_};
  std::string watched_stamp_;  ///< size and mtime of every config file at the last reload
  std::unique_ptr<admin::AdminServer> admin_;
  net::signal_set signals_{control_};
  bool shutting_down_ = false;
};

}  // namespace spendwall::proxy::server
