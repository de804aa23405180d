#include "proxy/server/server.hpp"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <limits>
#include <thread>

#include "config/units.hpp"
#include "metering/ledger/record_json.hpp"
#include "policies/budget_json.hpp"
#include "proxy/api/errors.hpp"
#include "proxy/api/json_writer.hpp"
#include "proxy/log.hpp"

namespace spendwall::proxy::server {
namespace {

constexpr auto kDrainPollInterval = std::chrono::milliseconds(20);
constexpr auto kFileWatchInterval = std::chrono::seconds(1);
/// Spend rows read from the ledger per batch, and batches per control tick: a backlog is
/// caught up over several seconds rather than stalling the control thread.
constexpr std::size_t kSpendBatchRows = 10'000;
constexpr std::size_t kSpendBatchesPerTick = 4;
/// `GET /admin/exceptions` without `since`.
constexpr auto kDefaultExceptionsSpan = std::chrono::hours(24 * 7);

unsigned resolve_worker_count(unsigned configured) {
  if (configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

std::optional<tcp::endpoint> parse_listen(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  error_code ec;
  auto ip = net::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return std::nullopt;
  unsigned long port = std::strtoul(address.c_str() + colon + 1, nullptr, 10);
  if (port > 65535) return std::nullopt;
  return tcp::endpoint(ip, static_cast<unsigned short>(port));
}

std::string to_text(const tcp::endpoint& endpoint) {
  std::string host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

/// Opens a listening socket. Data-plane sockets share one port with SO_REUSEPORT so
/// the kernel spreads connections over the workers without a shared accept lock.
std::optional<tcp::acceptor> open_acceptor(net::io_context& context, const tcp::endpoint& endpoint,
                                           bool reuse_port, std::string_view role) {
  tcp::acceptor acceptor(context);
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec = error_code(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    log::error("cannot listen",
               {{"role", role}, {"address", to_text(endpoint)}, {"error", ec.message()}});
    return std::nullopt;
  }
  return acceptor;
}

/// The value of `name` in a query string, percent-decoded (`+` is a literal plus: an
/// RFC 3339 offset keeps its sign). Empty when absent.
std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (!pair.starts_with(name) || pair.size() <= name.size() || pair[name.size()] != '=') continue;
    std::string_view raw = pair.substr(name.size() + 1);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() &&
          std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
          std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
        value += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return {};
}

}  // namespace

Server::Server(std::shared_ptr<const config::ConfigSnapshot> snapshot, ConfigSource source,
               bool watch_files)
    : initial_snapshot_(std::move(snapshot)),
      source_(std::move(source)),
      watch_files_(watch_files) {}

Server::~Server() {
  for (auto& worker : workers_) worker->stop();
  for (auto& worker : workers_) worker->join();
  workers_.clear();
}

bool Server::bind_listeners(std::vector<tcp::acceptor>& data_acceptors,
                            std::optional<tcp::acceptor>& admin_acceptor) {
  const config::ServerSpec& spec = runtime_->snapshot().server;
  auto data_endpoint = parse_listen(spec.listen);
  auto admin_endpoint = parse_listen(spec.admin_listen);
  if (!data_endpoint || !admin_endpoint) {
    log::error("cannot parse listen addresses",
               {{"listen", spec.listen}, {"admin_listen", spec.admin_listen}});
    return false;
  }
  for (auto& worker : workers_) {
    auto acceptor = open_acceptor(worker->context(), *data_endpoint, true, "data plane");
    if (!acceptor) return false;
    // Port 0 picks a free port once; the other workers join that same port.
    data_endpoint->port(acceptor->local_endpoint().port());
    data_acceptors.push_back(std::move(*acceptor));
  }
  admin_acceptor = open_acceptor(control_, *admin_endpoint, false, "admin plane");
  return admin_acceptor.has_value();
}

int Server::run() {
  unsigned worker_count = resolve_worker_count(initial_snapshot_->server.workers);
  auto built = routing::RuntimeConfig::build(initial_snapshot_, worker_count, &metrics_.labels());
  if (!built.config) {
    log::error("config rejected; not starting", {{"error", built.error}});
    return 1;
  }
  budgets_ = std::make_unique<policies::BudgetBook>(*initial_snapshot_, clock_);
  built.config->attach_budgets(*budgets_);
  runtime_ = built.config;
  metrics_.set_snapshot(initial_snapshot_);
  metrics_.record_initial_config_load(std::chrono::system_clock::now());

  std::string ledger_error;
  ledger_ = metering::ledger::open_ledger(runtime_->snapshot().ledger, ledger_error,
                                          {.on_error = [](std::string_view message) {
                                            log::error("ledger error", {{"error", message}});
                                          }});
  if (!ledger_) {
    log::error("cannot open the ledger; not starting", {{"error", ledger_error}});
    return 1;
  }
  restore_budget_spend();
  restore_session_spend();
  restore_exceptions();
  schedule_budget_roll();
  if (watch_files_) {
    watched_stamp_ = config_files_stamp();
    schedule_file_watch();
  }
  ledger_->start();
  metrics_.set_ledger_counters([this] { return ledger_->records_written(); },
                               [this] { return ledger_->write_errors(); });

  metrics_.add_collectable(outcome_metrics_);
  budget_metrics_ = std::make_shared<policies::BudgetMetrics>(*budgets_);
  metrics_.add_collectable(budget_metrics_);
  metrics_.add_collectable(alert_metrics_);
  ControlPlane control{control_.get_executor(), ledger_.get(), budgets_.get(),
                       outcome_metrics_.get()};
  for (unsigned i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, runtime_, control, metrics_.add_worker()));
  }

  std::vector<tcp::acceptor> data_acceptors;
  std::optional<tcp::acceptor> admin_acceptor;
  if (!bind_listeners(data_acceptors, admin_acceptor)) return 1;

  admin_ = std::make_unique<admin::AdminServer>(
      control_, std::move(*admin_acceptor), runtime_->snapshot().server.admin_token,
      [this](const admin::AdminRequest& request) { return handle_admin(request); });
  admin_->start();
  std::string data_address = to_text(data_acceptors.front().local_endpoint());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->start(std::move(data_acceptors[i]),
                       ledger_->writer_for_worker(static_cast<unsigned>(i)));
  }

  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  std::function<void(error_code, int)> on_signal = [this, &on_signal](error_code ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      reload();
      signals_.async_wait(on_signal);
      return;
    }
    begin_shutdown();
  };
  signals_.async_wait(on_signal);

  log::info("listening", {{"listen", data_address},
                          {"admin_listen", to_text(admin_->local_endpoint())},
                          {"workers", static_cast<std::int64_t>(workers_.size())},
                          {"config", runtime_->snapshot().file}});
  control_.run();
  for (auto& worker : workers_) worker->join();
  // Requests cut at drain_timeout die with their worker's io_context; their
  // reservations settle into the budget book, so the workers go first.
  workers_.clear();
  // Every worker has stopped writing: what the spool holds goes to the database now.
  ledger_->stop();
  log::info("stopped", {{"ledger_records", static_cast<std::int64_t>(ledger_->records_written())}});
  return 0;
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  auto drain_timeout = runtime_->snapshot().server.drain_timeout;
  log::info("draining", {{"drain_timeout_ms", static_cast<std::int64_t>(drain_timeout.count())}});
  for (auto& worker : workers_) worker->post_begin_drain();
  watch_drain(std::chrono::steady_clock::now() + drain_timeout);
}

void Server::watch_drain(std::chrono::steady_clock::time_point deadline) {
  std::size_t busy = 0;
  for (const auto& worker : workers_) busy += worker->active_sessions();
  bool expired = std::chrono::steady_clock::now() >= deadline;
  if (busy == 0 || expired) {
    if (expired && busy > 0) {
      log::warn("drain_timeout reached; closing remaining connections",
                {{"connections", static_cast<std::int64_t>(busy)}});
    }
    for (auto& worker : workers_) worker->stop();
    admin_->stop();
    signals_.cancel();
    budget_timer_.cancel();
    watch_timer_.cancel();
    control_.stop();
    return;
  }
  auto timer = std::make_shared<net::steady_timer>(control_, kDrainPollInterval);
  timer->async_wait([this, timer, deadline](error_code) { watch_drain(deadline); });
}

void Server::restore_budget_spend() {
  auto now = clock_.now();
  for (const config::WorkflowPolicy& workflow : initial_snapshot_->workflows) {
    for (policies::WindowKind kind : policies::kWindowKinds) {
      policies::WindowBounds window = policies::workflow_window(workflow, kind, now);
      auto spent = ledger_->totals_since(workflow.name, window.start);
      if (spent.cost > 0) budgets_->restore_spend(workflow.name, kind, window.start, spent.cost);
    }
  }
}

void Server::restore_session_spend() {
  const auto idle = budgets_->session_idle_expiry();
  const auto now = clock_.now();
  const std::vector<metering::ledger::SessionSpendRow> rows = ledger_->session_records(now - idle);
  std::int64_t restored = 0;
  for (std::size_t first = 0; first < rows.size();) {
    const metering::ledger::SessionSpendRow& session = rows[first];
    config::NanoUsd spent = 0;
    policies::TimePoint last_used = session.started_at;
    std::size_t next = first;
    for (; next < rows.size() && rows[next].workflow == session.workflow &&
           rows[next].session == session.session;
         ++next) {
      // The live table forgets a session idle longer than the expiry: so does the sum.
      if (rows[next].started_at - last_used > idle) spent = 0;
      spent += rows[next].cost;
      last_used = rows[next].started_at;
    }
    first = next;
    if (now - last_used > idle) continue;
    // False for a workflow without a session cap (nothing to enforce) or a full table.
    if (budgets_->restore_session(session.workflow, session.session, spent, last_used)) {
      ++restored;
    }
  }
  if (restored > 0) log::info("session spend restored from the ledger", {{"sessions", restored}});
}

void Server::restore_exceptions() {
  detector_ = std::make_unique<policies::ExceptionDetector>(*initial_snapshot_, clock_);
  // A threshold that fired before a restart must not fire again.
  for (const std::string& key : ledger_->exception_keys()) detector_->mark_fired(key);
  outbox_ =
      std::make_unique<alerts::AlertOutbox>(control_.get_executor(), *ledger_, *alert_metrics_);
  outbox_->apply(initial_snapshot_->alerts);
  // Replay what the current monthly windows (provider breakdowns) and the spike baseline
  // need; later ticks read on from where this stops.
  auto now = clock_.now();
  const config::SpikeSpec& spike = initial_snapshot_->alerts.spike;
  policies::TimePoint since = now - spike.baseline - spike.window;
  for (const config::WorkflowPolicy& workflow : initial_snapshot_->workflows) {
    const policies::WindowBounds month =
        policies::workflow_window(workflow, policies::WindowKind::monthly, now);
    since = std::min<policies::TimePoint>(since, month.start);
  }
  feed_spend(since, std::numeric_limits<std::size_t>::max(), NewRoutes::take_as_baseline);
  for (const auto& [route, traffic] : route_traffic_) detector_->record_route_traffic(traffic, now);
}

void Server::schedule_budget_roll() {
  budget_timer_.expires_after(std::chrono::seconds(1));
  budget_timer_.async_wait([this](error_code ec) {
    if (ec) return;
    budgets_->roll(clock_.now());
    tick_exceptions();
    schedule_budget_roll();
  });
}

void Server::feed_spend(policies::TimePoint since, std::size_t batches, NewRoutes new_routes) {
  // The detector reads settled spend back from the ledger, which every request already
  // writes: the request path gains no counter, lock or allocation for it. What it costs
  // is freshness, the ingest interval (50 ms) on top of the one-second tick; thresholds
  // and exceeded come from the live budget book and do not wait for it.
  for (std::size_t batch = 0; batch < batches; ++batch) {
    auto rows = ledger_->spend_after(spend_sequence_, since, kSpendBatchRows);
    for (const metering::ledger::SpendRow& row : rows) {
      detector_->record_spend({row.workflow, row.provider, row.model, row.cost, row.at});
      if (row.route.empty()) continue;
      auto [entry, inserted] = route_traffic_.try_emplace({row.workflow, row.route});
      policies::RouteTraffic& traffic = entry->second;
      if (inserted) {
        // Views into the map's own key: stable for the entry's life.
        traffic.workflow = entry->first.first;
        traffic.route = entry->first.second;
        if (new_routes == NewRoutes::count_from_zero) {
          detector_->record_route_traffic(traffic, clock_.now());
        }
      }
      ++traffic.requests;
      if (row.fallbacks == 0) continue;
      ++traffic.fell_back;
      for (const config::FailureClass cls : row.failed_attempts) {
        ++traffic.reasons[static_cast<std::size_t>(cls)];
      }
    }
    if (!rows.empty()) spend_sequence_ = rows.back().sequence;
    if (rows.size() < kSpendBatchRows) return;
  }
}

void Server::tick_exceptions() {
  feed_spend(policies::TimePoint{}, kSpendBatchesPerTick, NewRoutes::count_from_zero);
  // One sample per route and tick, so that the surge window slides even without traffic.
  const auto now = clock_.now();
  for (const auto& [route, traffic] : route_traffic_) detector_->record_route_traffic(traffic, now);
  for (const policies::BudgetException& event : detector_->evaluate(budgets_->views())) {
    metering::ledger::StoredException stored{event.id,
                                             event.at,
                                             event.workflow,
                                             std::string(policies::to_string(event.kind)),
                                             std::string(policies::to_string(event.window)),
                                             event.dedupe_key,
                                             policies::exception_json(event)};
    // A planned event (notify == false) is recorded and listed, never sent.
    unstored_.emplace_back(std::move(stored),
                           event.notify ? outbox_->sink_names() : std::vector<std::string>{});
  }
  std::size_t done = 0;
  for (; done < unstored_.size(); ++done) {
    const auto& [stored, sinks] = unstored_[done];
    auto result = ledger_->store_exception(stored, sinks);
    if (result == metering::ledger::StoreResult::failed) break;  // kept for the next tick
    if (result == metering::ledger::StoreResult::stored) {
      alert_metrics_->count_exception(stored.workflow, stored.kind);
      log::info("budget exception raised",
                {{"id", stored.id}, {"workflow", stored.workflow}, {"kind", stored.kind}});
    }
  }
  unstored_.erase(unstored_.begin(), unstored_.begin() + static_cast<std::ptrdiff_t>(done));
  outbox_->tick(now);
}

std::string Server::config_files_stamp() const {
  std::vector<std::string> files{runtime_->snapshot().file};
  for (const auto& price_file : runtime_->snapshot().price_files) files.push_back(price_file.path);
  std::string stamp;
  for (const std::string& file : files) {
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    auto modified = std::filesystem::last_write_time(file, ec);
    stamp += file + ':' + std::to_string(ec ? 0 : size) + ':' +
             std::to_string(ec ? 0 : modified.time_since_epoch().count()) + ';';
  }
  return stamp;
}

void Server::schedule_file_watch() {
  watch_timer_.expires_after(kFileWatchInterval);
  watch_timer_.async_wait([this, previous = config_files_stamp()](error_code ec) {
    if (ec) return;
    std::string current = config_files_stamp();
    // Editors write in several steps: act once the files have stopped changing.
    if (current != watched_stamp_ && current == previous) {
      watched_stamp_ = current;
      log::info("config files changed on disk; reloading");
      reload();
    }
    schedule_file_watch();
  });
}

Server::ReloadOutcome Server::reload() {
  // Whatever the outcome, these bytes have been judged: the file watcher must not judge
  // (and count) them again.
  if (watch_files_) watched_stamp_ = config_files_stamp();
  config::LoadResult loaded = source_();
  ReloadOutcome outcome;
  if (!loaded.ok()) {
    for (const auto& diagnostic : loaded.diagnostics) {
      if (diagnostic.severity == config::Severity::error)
        outcome.diagnostics.push_back(diagnostic.format());
    }
    outcome.result = ReloadOutcome::Result::rejected;
    for (const auto& line : outcome.diagnostics)
      log::error("config reload rejected", {{"diagnostic", line}});
    metrics_.record_config_reload(metering::ReloadResult::rejected,
                                  std::chrono::system_clock::now());
    return outcome;
  }
  if (loaded.snapshot->content_digest == runtime_->snapshot().content_digest) {
    outcome.result = ReloadOutcome::Result::unchanged;
    return outcome;
  }
  const auto& old_server = runtime_->snapshot().server;
  const auto& new_server = loaded.snapshot->server;
  if (old_server.listen != new_server.listen ||
      old_server.admin_listen != new_server.admin_listen ||
      old_server.workers != new_server.workers) {
    log::warn("listen addresses and worker count apply at the next restart only",
              {{"listen", new_server.listen}, {"admin_listen", new_server.admin_listen}});
  }
  auto built = routing::RuntimeConfig::build(
      loaded.snapshot, static_cast<unsigned>(workers_.size()), &metrics_.labels());
  if (!built.config) {
    outcome.result = ReloadOutcome::Result::rejected;
    outcome.diagnostics.push_back(built.error);
    log::error("config reload rejected", {{"diagnostic", built.error}});
    metrics_.record_config_reload(metering::ReloadResult::rejected,
                                  std::chrono::system_clock::now());
    return outcome;
  }
  budgets_->apply(*loaded.snapshot);
  detector_->apply(*loaded.snapshot);
  outbox_->apply(loaded.snapshot->alerts);
  built.config->attach_budgets(*budgets_);
  runtime_ = built.config;
  metrics_.set_snapshot(loaded.snapshot);
  metrics_.record_config_reload(metering::ReloadResult::ok, std::chrono::system_clock::now());
  for (auto& worker : workers_) worker->post_install(runtime_);
  admin_->set_token(new_server.admin_token);
  // A new config may include other price files: watch those from now on.
  if (watch_files_) watched_stamp_ = config_files_stamp();
  outcome.result = ReloadOutcome::Result::ok;
  log::info("config reloaded", {{"config", runtime_->snapshot().file}});
  return outcome;
}

std::optional<admin::AdminResponse> Server::handle_admin(const admin::AdminRequest& request) {
  admin::AdminResponse response;
  if (request.path == "/metrics") {
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metering::render_metrics(metrics_);
    return response;
  }
  if (request.path == "/healthz") {
    response.body = R"({"status":"ok"})";
    return response;
  }
  if (request.path == "/readyz") {
    if (shutting_down_) {
      response.status = http::status::service_unavailable;
      response.body = R"({"status":"draining"})";
    } else if (!ledger_->writable()) {
      response.status = http::status::service_unavailable;
      response.body = R"({"status":"ledger not writable"})";
    } else {
      response.body = R"({"status":"ready"})";
    }
    return response;
  }
  if (request.path == "/admin/reload") {
    if (request.method != http::verb::post) {
      response.status = http::status::method_not_allowed;
      response.body = R"({"error":"use POST"})";
      return response;
    }
    ReloadOutcome outcome = reload();
    switch (outcome.result) {
      case ReloadOutcome::Result::ok:
        response.body = R"({"result":"ok"})";
        break;
      case ReloadOutcome::Result::unchanged:
        response.body = R"({"result":"unchanged"})";
        break;
      case ReloadOutcome::Result::rejected: {
        response.status = http::status::unprocessable_entity;
        response.body = R"({"result":"rejected","diagnostics":[)";
        for (std::size_t i = 0; i < outcome.diagnostics.size(); ++i) {
          if (i > 0) response.body += ',';
          response.body += '"';
          api::json_escape(outcome.diagnostics[i], response.body);
          response.body += '"';
        }
        response.body += "]}";
        break;
      }
    }
    return response;
  }
  if (request.path == "/admin/budgets" && request.method == http::verb::get) {
    metering::JsonWriter json(response.body);
    policies::write_budgets_json(budgets_->views(), clock_.now(), json);
    return response;
  }
  if (request.path == "/admin/exceptions" && request.method == http::verb::get) {
    return list_exceptions(request.query);
  }
  constexpr std::string_view kRequestsPrefix = "/admin/requests/";
  if (request.path.starts_with(kRequestsPrefix) && request.method == http::verb::get) {
    return request_record(request.path.substr(kRequestsPrefix.size()));
  }
  return std::nullopt;
}

admin::AdminResponse Server::list_exceptions(std::string_view query) {
  admin::AdminResponse response;
  policies::TimePoint since = clock_.now() - kDefaultExceptionsSpan;
  std::string since_text = query_param(query, "since");
  if (!since_text.empty()) {
    auto parsed = config::parse_timestamp(since_text);
    if (!parsed) {
      response.status = http::status::bad_request;
      response.body = R"({"error":"since must be an RFC 3339 timestamp"})";
      return response;
    }
    since = *parsed;
  }
  response.body = R"({"exceptions":[)";
  bool first = true;
  for (const metering::ledger::StoredException& event : ledger_->exceptions_since(since)) {
    if (!first) response.body += ',';
    first = false;
    response.body += event.event_json;
  }
  response.body += "]}";
  return response;
}

admin::AdminResponse Server::request_record(std::string_view id) {
  admin::AdminResponse response;
  // Records reach the database in batches; an admin lookup catches up first.
  ledger_->flush();
  auto record = ledger_->find(id);
  if (!record) {
    response.status = http::status::not_found;
    api::write_error_body(metering::ApiFormat::openai, api::ErrorKind::request_not_found,
                          "no ledger record with that id", "id", response.body);
    return response;
  }
  metering::JsonWriter json(response.body);
  metering::ledger::write_record(*record, json);
  return response;
}

}  // namespace spendwall::proxy::server
