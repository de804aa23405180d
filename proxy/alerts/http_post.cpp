#include "proxy/alerts/http_post.hpp"

#include <openssl/ssl.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "proxy/routing/runtime_config.hpp"
#include "proxy/upstream/tls_peer.hpp"

namespace spendwall::proxy::alerts {
namespace {

/// A receiver's answer is only read for its status: a small limit keeps a hostile
/// endpoint from growing the control thread's memory.
constexpr std::uint64_t kResponseBodyLimit = 64 * 1024;

template <class Stream>
awaitable<PostResult> exchange(Stream& stream, http::request<http::string_body>& request) {
  PostResult result;
  auto [write_ec, written] = co_await http::async_write(stream, request, use_tuple);
  if (write_ec) {
    result.error = "cannot send the request: " + write_ec.message();
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyLimit);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
  if (read_ec) {
    result.error = "no response: " + read_ec.message();
    co_return result;
  }
  result.status = parser.get().result_int();
  co_return result;
}

awaitable<PostResult> run_post(std::shared_ptr<ssl::context> tls,
                               routing::ProviderEndpoint endpoint,
                               http::request<http::string_body> request,
                               std::chrono::steady_clock::duration timeout) {
  auto executor = co_await net::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  PostResult result;
  tcp::resolver resolver(executor);
  auto [resolve_ec, addresses] =
      co_await resolver.async_resolve(endpoint.host, endpoint.port, use_tuple);
  if (resolve_ec) {
    result.error = "cannot resolve " + endpoint.host + ": " + resolve_ec.message();
    co_return result;
  }
  beast::tcp_stream tcp_stream(executor);
  tcp_stream.expires_at(deadline);
  auto [connect_ec, connected] = co_await tcp_stream.async_connect(addresses, use_tuple);
  if (connect_ec) {
    result.error = "cannot connect: " + connect_ec.message();
    co_return result;
  }
  if (!endpoint.tls) {
    result = co_await exchange(tcp_stream, request);
    error_code ignored;
    tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return result;
  }
  beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *tls);
  upstream::expect_peer(tls_stream.native_handle(), endpoint.host);
  auto [handshake_ec] = co_await tls_stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (handshake_ec) {
    result.error = "TLS handshake failed: " + handshake_ec.message();
    co_return result;
  }
  result = co_await exchange(tls_stream, request);
  // A sink that drops the connection without close_notify is not an error.
  co_await tls_stream.async_shutdown(use_tuple);
  co_return result;
}

}  // namespace

void post(net::any_io_executor executor, std::shared_ptr<ssl::context> tls, const std::string& url,
          const Headers& headers, std::string body, std::chrono::steady_clock::duration timeout,
          std::function<void(PostResult)> done) {
  auto endpoint = routing::parse_base_url(url);
  if (!endpoint) {
    done({0, "not an http(s) URL"});
    return;
  }
  http::request<http::string_body> request{
      http::verb::post, endpoint->base_path.empty() ? "/" : endpoint->base_path, 11};
  request.set(http::field::host, endpoint->host_header);
  request.set(http::field::user_agent, "spendwall");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::connection, "close");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();
  net::co_spawn(executor,
                run_post(std::move(tls), std::move(*endpoint), std::move(request), timeout),
                [done = std::move(done)](std::exception_ptr failure, PostResult result) {
                  if (failure) result = {0, "internal error"};
                  done(std::move(result));
                });
}

}  // namespace spendwall::proxy::alerts
