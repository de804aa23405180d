#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "metering/ledger/ledger.hpp"
#include "metering/metrics_worker.hpp"
#include "metering/outcome_metrics.hpp"
#include "metering/usage.hpp"
#include "proxy/api/request.hpp"
#include "proxy/api/translate.hpp"
#include "proxy/net.hpp"
#include "proxy/routing/runtime_config.hpp"
#include "proxy/upstream/http_transport.hpp"
#include "proxy/upstream/simulated_transport.hpp"

/// One I/O thread with its own io_context, acceptor and per-thread state (Envoy's
/// worker model): a connection lives on one worker for its whole life, so nothing
/// here needs a lock.
/// Thread-safety: members are confined to the worker's thread, except `post_*`
/// functions and `active_sessions()`, which any thread may call.
namespace spendwall::proxy::server {

/// The config a request runs on, with the connection pools built for it. A request
/// keeps the generation it started with until it finishes.
struct Generation {
  Generation(net::any_io_executor executor,
             std::shared_ptr<const routing::RuntimeConfig> runtime_config);
  std::shared_ptr<const routing::RuntimeConfig> runtime;
  upstream::HttpTransport http;
};

/// What workers reach on the control thread: blocking ledger work (feedback,
/// lookups) runs there, so a worker thread never waits on the database.
struct ControlPlane {
  net::any_io_executor executor;
  metering::ledger::Ledger* ledger = nullptr;
  /// Admission and settlement are lock-free and may run on any worker.
  policies::BudgetBook* budgets = nullptr;
  metering::OutcomeMetrics* outcomes = nullptr;
};

/// A request id, held inline.
class RequestId {
 public:
  static constexpr std::size_t kLength = 28;  ///< "req_" + 24 hex digits
  std::string_view view() const noexcept { return {text_.data(), kLength}; }
  char* data() noexcept { return text_.data(); }

 private:
  std::array<char, kLength + 1> text_{};  ///< + the NUL snprintf writes
};

/// A session's entry in its worker's registry, so draining can close idle ones.
struct SessionSlot {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;
};

class Worker {
 public:
  Worker(unsigned index, std::shared_ptr<const routing::RuntimeConfig> runtime,
         ControlPlane control, metering::WorkerMetrics& metrics);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  unsigned index() const noexcept { return index_; }
  net::io_context& context() noexcept { return context_; }

  /// Starts the thread; it accepts on `acceptor` (already bound and listening) and
  /// writes ledger records through `ledger_writer`.
  void start(tcp::acceptor acceptor, std::unique_ptr<metering::ledger::LedgerWriter> ledger_writer);
  /// Joins the thread (after `stop()`).
  void join();

  /// Swaps in a new config for requests that start from now on.
  void post_install(std::shared_ptr<const routing::RuntimeConfig> runtime);
  /// Stops accepting, closes idle connections; busy ones close after their response.
  void post_begin_drain();
  /// Ends the event loop; pending coroutines are destroyed.
  void stop();

  std::size_t active_sessions() const noexcept {
    return active_sessions_.load(std::memory_order_relaxed);
  }

  // Worker-thread-only state.
  const std::shared_ptr<Generation>& generation() const noexcept { return generation_; }
  bool draining() const noexcept { return draining_; }
  api::RequestParser& request_parser() noexcept { return request_parser_; }
  metering::UsageExtractor& usage_extractor() noexcept { return usage_extractor_; }
  upstream::SimulatedTransport& simulated() noexcept { return simulated_; }
  std::minstd_rand& random() noexcept { return random_; }
  metering::ledger::LedgerWriter& ledger_writer() noexcept { return *ledger_writer_; }
  const ControlPlane& control() const noexcept { return control_; }
  metering::WorkerMetrics& metrics() noexcept { return metrics_; }
  /// A general-purpose DOM parser for the small unmetered bodies (feedback).
  simdjson::dom::parser& json_parser() noexcept { return json_parser_; }
  api::TranslationWorkspace& translation() noexcept { return translation_; }
  /// A new request id (`req_` + 24 hex digits: time, worker, sequence), built in place:
  /// no allocation per request.
  RequestId next_request_id();

  std::list<SessionSlot>::iterator register_session(beast::tcp_stream& stream);
  void unregister_session(std::list<SessionSlot>::iterator slot);

 private:
  awaitable<void> accept_loop();

  unsigned index_;
  // Declared before the io_context so they outlive it: its destructor destroys the
  // suspended session frames, whose cleanup unregisters sessions and settles budgets.
  std::list<SessionSlot> sessions_;
  ControlPlane control_;
  metering::WorkerMetrics& metrics_;
  net::io_context context_{1};
  std::optional<tcp::acceptor> acceptor_;
  std::thread thread_;
  std::shared_ptr<Generation> generation_;
  bool draining_ = false;
  std::atomic<std::size_t> active_sessions_{0};
  api::RequestParser request_parser_;
  metering::UsageExtractor usage_extractor_;
  upstream::SimulatedTransport simulated_;
  std::unique_ptr<metering::ledger::LedgerWriter> ledger_writer_;
  simdjson::dom::parser json_parser_;
  api::TranslationWorkspace translation_;
  std::minstd_rand random_;
  std::uint64_t request_sequence_ = 0;
  std::uint32_t request_prefix_ = 0;
};

}  // namespace spendwall::proxy::server
