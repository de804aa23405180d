#include "proxy/server/worker.hpp"

#include <chrono>
#include <cstdio>

#include "proxy/log.hpp"
#include "proxy/server/session.hpp"

namespace spendwall::proxy::server {

Generation::Generation(net::any_io_executor executor,
                       std::shared_ptr<const routing::RuntimeConfig> runtime_config)
    : runtime(runtime_config), http(std::move(executor), std::move(runtime_config)) {}

Worker::Worker(unsigned index, std::shared_ptr<const routing::RuntimeConfig> runtime,
               ControlPlane control, metering::WorkerMetrics& metrics)
    : index_(index),
      control_(std::move(control)),
      metrics_(metrics),
      generation_(std::make_shared<Generation>(context_.get_executor(), std::move(runtime))),
      simulated_(context_.get_executor(), std::random_device{}()),
      random_(std::random_device{}()) {
  request_prefix_ = static_cast<std::uint32_t>(random_()) << 8 | (index & 0xff);
}

Worker::~Worker() = default;

void Worker::start(tcp::acceptor acceptor,
                   std::unique_ptr<metering::ledger::LedgerWriter> ledger_writer) {
  acceptor_.emplace(std::move(acceptor));
  ledger_writer_ = std::move(ledger_writer);
  net::co_spawn(context_, accept_loop(), net::detached);
  thread_ = std::thread([this] {
    auto work = net::make_work_guard(context_);
    context_.run();
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::stop() { context_.stop(); }

void Worker::post_install(std::shared_ptr<const routing::RuntimeConfig> runtime) {
  net::post(context_, [this, runtime = std::move(runtime)]() mutable {
    generation_ = std::make_shared<Generation>(context_.get_executor(), std::move(runtime));
  });
}

void Worker::post_begin_drain() {
  net::post(context_, [this] {
    draining_ = true;
    if (acceptor_) {
      error_code ignored;
      acceptor_->close(ignored);
    }
    for (SessionSlot& slot : sessions_) {
      if (slot.idle) slot.stream->cancel();
    }
  });
}

awaitable<void> Worker::accept_loop() {
  while (!draining_) {
    auto [ec, socket] = co_await acceptor_->async_accept(use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || draining_) break;
      // Out of descriptors and the like: back off briefly instead of spinning.
      log::warn("accept failed",
                {{"error", ec.message()}, {"worker", static_cast<std::int64_t>(index_)}});
      net::steady_timer pause(context_, std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    active_sessions_.fetch_add(1, std::memory_order_relaxed);
    net::co_spawn(context_, run_session(*this, std::move(socket)),
                  [this](std::exception_ptr failure) {
                    active_sessions_.fetch_sub(1, std::memory_order_relaxed);
                    if (failure) {
                      try {
                        std::rethrow_exception(failure);
                      } catch (const std::exception& e) {
                        log::error("session failed", {{"error", e.what()}});
                      }
                    }
                  });
  }
}

RequestId Worker::next_request_id() {
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  RequestId id;
  std::snprintf(id.data(), RequestId::kLength + 1, "req_%011llx%08x%05llx",
                static_cast<unsigned long long>(millis) & 0xfffffffffffull, request_prefix_,
                static_cast<unsigned long long>(++request_sequence_ & 0xfffff));
  return id;
}

std::list<SessionSlot>::iterator Worker::register_session(beast::tcp_stream& stream) {
  sessions_.push_front(SessionSlot{&stream, true});
  return sessions_.begin();
}

void Worker::unregister_session(std::list<SessionSlot>::iterator slot) { sessions_.erase(slot); }

}  // namespace spendwall::proxy::server
