#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxy/net.hpp"

/// A one-shot HTTP/1.1 POST for alert sinks (webhooks): one connection per request, TLS
/// verified against the system trust store with the host name checked, every step under
/// one deadline. Alerts are rare, so no pooling.
/// Thread-safety: post() runs on the executor it is given; `done` is called there.
namespace spendwall::proxy::alerts {

struct PostResult {
  unsigned status = 0;  ///< 0 when no response arrived
  std::string error;    ///< why, when no response arrived
  bool ok() const noexcept { return status >= 200 && status < 300; }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// POSTs `body` as JSON to `url` (http:// or https://) and calls `done` once, unless the
/// executor's context is destroyed first. `tls` is used for https URLs.
void post(net::any_io_executor executor, std::shared_ptr<ssl::context> tls, const std::string& url,
          const Headers& headers, std::string body, std::chrono::steady_clock::duration timeout,
          std::function<void(PostResult)> done);

}  // namespace spendwall::proxy::alerts
