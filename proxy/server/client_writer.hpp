#pragma once

#include <string_view>

#include "proxy/net.hpp"
#include "proxy/upstream/transport.hpp"

/// Writes one response to the client: whole, or as a chunked stream whose chunks go
/// out as soon as they are handed over. Every write is bounded by the request's
/// deadline, so a client that stops reading stalls its own exchange, not memory.
/// Thread-safety: confined to the session's worker thread.
namespace spendwall::proxy::server {

class ClientWriter {
 public:
  ClientWriter(beast::tcp_stream& stream, unsigned http_version, bool keep_alive,
               upstream::Clock::time_point deadline);

  /// Headers added to whatever response goes out (`x-spendwall-*`).
  http::fields& extra_headers() noexcept { return extra_headers_; }

  /// A complete response with our own body (errors, admin-style answers).
  awaitable<error_code> send(http::status status, std::string_view content_type,
                             std::string_view body);

  /// A complete response relaying a provider's status and headers with `body`.
  awaitable<error_code> relay(const http::response_header<>& upstream_head, std::string_view body);

  /// Starts a chunked response with the provider's status and headers.
  awaitable<error_code> begin_stream(const http::response_header<>& upstream_head);
  awaitable<error_code> send_chunk(std::string_view bytes);
  /// Ends a started stream cleanly (last chunk): clients see the stream end.
  awaitable<error_code> end_stream();

  /// True once any byte of the response was written: no retry is possible after it.
  bool started() const noexcept { return started_; }
  unsigned status() const noexcept { return status_; }
  bool keep_alive() const noexcept { return keep_alive_; }
  /// The connection will close after this response (framing errors, 413, shutdown).
  void close_after_response() noexcept { keep_alive_ = false; }

 private:
  void fill_head(http::response_header<>& head, unsigned status) const;
  void copy_upstream_headers(const http::response_header<>& upstream_head,
                             http::response_header<>& head) const;

  beast::tcp_stream& stream_;
  http::fields extra_headers_;
  unsigned version_;
  bool keep_alive_;
  upstream::Clock::time_point deadline_;
  bool started_ = false;
  unsigned status_ = 0;
};

}  // namespace spendwall::proxy::server
