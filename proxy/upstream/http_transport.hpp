#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "proxy/net.hpp"
#include "proxy/routing/runtime_config.hpp"
#include "proxy/upstream/transport.hpp"

/// HTTP/1.1 client for `openai` and `anthropic` providers over plain TCP or TLS
/// (peer verification, SNI, host name check), with keep-alive connection pools.
/// One instance per worker and config generation: a reload starts fresh pools while
/// in-flight requests finish on the old ones.
/// Thread-safety: confined to its worker's thread.
namespace spendwall::proxy::upstream {

class HttpTransport final : public UpstreamTransport {
 public:
  HttpTransport(net::any_io_executor executor,
                std::shared_ptr<const routing::RuntimeConfig> runtime);
  ~HttpTransport() override;

  awaitable<ExchangeResult> exchange(const UpstreamRequest& request, ResponseSink& sink) override;

  struct PoolCounts {
    unsigned idle = 0;
    unsigned active = 0;
  };
  PoolCounts counts(routing::ProviderId provider) const noexcept;

 private:
  struct Connection;
  struct Pool {
    std::vector<std::unique_ptr<Connection>> idle;
    unsigned active = 0;  ///< checked out, idle excluded
    std::deque<net::steady_timer*> waiters;
  };
  struct Lease;

  awaitable<std::unique_ptr<Connection>> acquire(const routing::ProviderRuntime& provider,
                                                 Clock::time_point deadline,
                                                 ExchangeResult& failure);
  void release(routing::ProviderId provider, std::unique_ptr<Connection> connection);
  awaitable<std::unique_ptr<Connection>> connect(const routing::ProviderRuntime& provider,
                                                 Clock::time_point deadline,
                                                 ExchangeResult& failure);

  net::any_io_executor executor_;
  std::shared_ptr<const routing::RuntimeConfig> runtime_;
  std::vector<Pool> pools_;  ///< indexed by ProviderId
};

}  // namespace spendwall::proxy::upstream
