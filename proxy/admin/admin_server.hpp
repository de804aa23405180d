#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/net.hpp"

/// The admin plane listener (`/metrics`, `/healthz`, `/readyz`, `/admin/*`). It runs
/// on the control thread, apart from the workers, so a busy data plane never delays
/// a scrape or a probe.
/// Thread-safety: confined to the control thread's io_context.
namespace spendwall::proxy::admin {

struct AdminRequest {
  http::verb method;
  std::string_view path;   ///< without the query string
  std::string_view query;  ///< without '?'
  std::string_view body;
};

struct AdminResponse {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
};

/// Answers one admin request; nullopt means 404.
using AdminHandler = std::function<std::optional<AdminResponse>(const AdminRequest&)>;

class AdminServer {
 public:
  /// `token`: when not empty, `/admin/*` requires `Authorization: Bearer <token>`.
  AdminServer(net::io_context& context, tcp::acceptor acceptor, std::string token,
              AdminHandler handler);

  void start();
  void stop();
  /// A reloaded config may rotate, add or remove the admin token.
  void set_token(std::string token) { token_ = std::move(token); }
  tcp::endpoint local_endpoint() const;

 private:
  awaitable<void> accept_loop();
  awaitable<void> serve(tcp::socket socket);
  AdminResponse dispatch(const http::request<http::string_body>& request) const;

  net::io_context& context_;
  tcp::acceptor acceptor_;
  std::string token_;
  AdminHandler handler_;
};

}  // namespace spendwall::proxy::admin
