#include "proxy/upstream/http_transport.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <variant>

#include "proxy/upstream/provider_adapter.hpp"
#include "proxy/upstream/tls_peer.hpp"

namespace spendwall::proxy::upstream {
namespace {

/// Providers close idle keep-alive connections on their own schedule; a connection
/// idle this long is more likely dead than useful.
constexpr auto kMaxIdleAge = std::chrono::seconds(20);
constexpr std::size_t kUpstreamHeaderLimit = 64 * 1024;
constexpr std::size_t kReadChunkBytes = 16 * 1024;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

/// Nothing of a response arrived and the peer closed: the classic sign of a
/// keep-alive connection the provider had already dropped.
bool is_closed_by_peer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::ssl::error::stream_truncated;
}

struct AttemptState {
  bool reusable = false;
  bool nothing_received = true;
};

/// Parses body bytes an earlier socket read already brought into the body space left,
/// without waiting for the socket. A chunked stream makes the parser stop at every chunk
/// boundary; draining hands all the events of one read to the sink together, so they
/// reach the client in one write instead of one write per event.
template <class Parser>
error_code drain_received_body(Parser& parser, beast::flat_buffer& buffer) {
  while (!parser.is_done() && buffer.size() > 0 && parser.get().body().size > 0) {
    error_code ec;
    std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) return {};
    if (ec || used == 0) return ec;
  }
  return {};
}

template <class Stream>
awaitable<ExchangeResult> run_exchange(Stream& stream, beast::flat_buffer& buffer,
                                       OutgoingRequest& out, const UpstreamRequest& request,
                                       ResponseSink& sink, AttemptState& state) {
  ExchangeResult result;
  auto& tcp = beast::get_lowest_layer(stream);
  const config::ProviderSpec& provider = *request.provider->spec;
  tcp.expires_at(std::min(request.deadline, Clock::now() + provider.first_byte_timeout));

  auto [write_ec, written] = co_await http::async_write(stream, out, use_tuple);
  if (write_ec) {
    result.failure = write_ec == beast::error::timeout ? TransportFailure::timeout
                                                       : TransportFailure::connect_error;
    result.detail = "sending the request failed";
    co_return result;
  }

  http::response_parser<http::buffer_body> parser;
  parser.header_limit(kUpstreamHeaderLimit);
  parser.body_limit(boost::none);  // the sink bounds what it keeps; streams are cut by the deadline
  auto [head_ec, head_bytes] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
  if (head_ec) {
    state.nothing_received = buffer.size() == 0;
    if (head_ec == beast::error::timeout) {
      result.failure = TransportFailure::timeout;
      result.detail = "no response before first_byte_timeout";
    } else if (state.nothing_received && is_closed_by_peer(head_ec)) {
      result.failure = TransportFailure::connect_error;
      result.detail = "connection closed before a response";
    } else {
      result.failure = TransportFailure::bad_response;
      result.detail = "response is not valid HTTP";
    }
    co_return result;
  }
  state.nothing_received = false;
  result.head_received = true;
  error_code head_sink_ec = co_await sink.on_head(parser.get().base());
  if (head_sink_ec) {
    result.failure = TransportFailure::sink_aborted;
    co_return result;
  }

  tcp.expires_at(request.deadline);
  std::array<char, kReadChunkBytes> chunk;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    // read_some, not read: a stream's events go out as soon as they arrive.
    auto [read_ec, read_bytes] = co_await http::async_read_some(stream, buffer, parser, use_tuple);
    if (read_ec == http::error::need_buffer) read_ec = {};
    if (!read_ec) read_ec = drain_received_body(parser, buffer);
    std::size_t received = chunk.size() - parser.get().body().size;
    if (received > 0) {
      error_code body_sink_ec = co_await sink.on_body(std::string_view(chunk.data(), received));
      if (body_sink_ec) {
        result.failure = TransportFailure::sink_aborted;
        co_return result;
      }
    }
    if (read_ec) {
      if (read_ec == beast::error::timeout) {
        result.failure = TransportFailure::timeout;
        result.detail = "response exceeded request_timeout";
      } else {
        result.failure = TransportFailure::bad_response;
        result.detail = "response body ended abnormally";
      }
      co_return result;
    }
  }
  state.reusable = parser.keep_alive();
  co_return result;
}

}  // namespace

struct HttpTransport::Connection {
  std::variant<PlainStream, TlsStream> stream;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool reused = false;

  explicit Connection(net::any_io_executor executor)
      : stream(std::in_place_type<PlainStream>, executor) {}
  Connection(net::any_io_executor executor, ssl::context& context)
      : stream(std::in_place_type<TlsStream>, executor, context) {}

  beast::tcp_stream& tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }
};

HttpTransport::HttpTransport(net::any_io_executor executor,
                             std::shared_ptr<const routing::RuntimeConfig> runtime)
    : executor_(std::move(executor)),
      runtime_(std::move(runtime)),
      pools_(runtime_->providers().size()) {}

HttpTransport::~HttpTransport() = default;

HttpTransport::PoolCounts HttpTransport::counts(routing::ProviderId provider) const noexcept {
  const Pool& pool = pools_[provider];
  return {static_cast<unsigned>(pool.idle.size()), pool.active};
}

awaitable<std::unique_ptr<HttpTransport::Connection>> HttpTransport::connect(
    const routing::ProviderRuntime& provider, Clock::time_point deadline, ExchangeResult& failure) {
  const auto& endpoint = provider.endpoint;
  auto connection = endpoint.tls ? std::make_unique<Connection>(executor_, *provider.tls_context)
                                 : std::make_unique<Connection>(executor_);
  tcp::resolver resolver(executor_);
  auto [resolve_ec, addresses] =
      co_await resolver.async_resolve(endpoint.host, endpoint.port, use_tuple);
  if (resolve_ec) {
    failure = {TransportFailure::connect_error, false, "cannot resolve the provider's host"};
    co_return nullptr;
  }
  auto& tcp = connection->tcp();
  tcp.expires_at(std::min(deadline, Clock::now() + provider.spec->connect_timeout));
  auto [connect_ec, connected] = co_await tcp.async_connect(addresses, use_tuple);
  if (connect_ec) {
    failure = connect_ec == beast::error::timeout
                  ? ExchangeResult{TransportFailure::timeout, false, "connect timed out"}
                  : ExchangeResult{TransportFailure::connect_error, false,
                                   "connection refused or unreachable"};
    co_return nullptr;
  }
  tcp.socket().set_option(tcp::no_delay(true));

  if (auto* tls = std::get_if<TlsStream>(&connection->stream)) {
    expect_peer(tls->native_handle(), endpoint.host);
    auto [handshake_ec] = co_await tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (handshake_ec) {
      failure =
          handshake_ec == beast::error::timeout
              ? ExchangeResult{TransportFailure::timeout, false, "TLS handshake timed out"}
              : ExchangeResult{TransportFailure::connect_error, false,
                               "TLS handshake failed (certificate not trusted or wrong name)"};
      co_return nullptr;
    }
  }
  co_return connection;
}

awaitable<std::unique_ptr<HttpTransport::Connection>> HttpTransport::acquire(
    const routing::ProviderRuntime& provider, Clock::time_point deadline, ExchangeResult& failure) {
  Pool& pool = pools_[provider.id];
  auto connect_deadline = std::min(deadline, Clock::now() + provider.spec->connect_timeout);
  while (pool.idle.empty() && pool.active >= provider.max_connections_per_worker) {
    net::steady_timer wait(executor_);
    wait.expires_at(connect_deadline);
    pool.waiters.push_back(&wait);
    co_await wait.async_wait(use_tuple);
    std::erase(pool.waiters, &wait);
    if (Clock::now() >= connect_deadline) {
      failure = {TransportFailure::connect_error, false,
                 "max_connections reached for this provider"};
      co_return nullptr;
    }
  }
  auto now = Clock::now();
  while (!pool.idle.empty()) {
    auto connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (now - connection->idle_since < kMaxIdleAge) {
      ++pool.active;
      connection->reused = true;
      co_return connection;
    }
  }
  ++pool.active;
  auto connection = co_await connect(provider, deadline, failure);
  if (!connection) release(provider.id, nullptr);
  co_return connection;
}

void HttpTransport::release(routing::ProviderId provider, std::unique_ptr<Connection> connection) {
  Pool& pool = pools_[provider];
  --pool.active;
  if (connection) {
    connection->idle_since = Clock::now();
    connection->tcp().expires_never();
    pool.idle.push_back(std::move(connection));
  }
  if (!pool.waiters.empty()) {
    pool.waiters.front()->cancel();
    pool.waiters.pop_front();
  }
}

awaitable<ExchangeResult> HttpTransport::exchange(const UpstreamRequest& request,
                                                  ResponseSink& sink) {
  OutgoingRequest out;
  build_outgoing_request(request, out);
  const routing::ProviderRuntime& provider = *request.provider;

  for (int round = 0;; ++round) {
    ExchangeResult result;
    auto connection = co_await acquire(provider, request.deadline, result);
    if (!connection) co_return result;

    AttemptState state;
    result = co_await std::visit(
        [&](auto& stream) {
          return run_exchange(stream, connection->buffer, out, request, sink, state);
        },
        connection->stream);

    bool stale_keep_alive = connection->reused && state.nothing_received &&
                            result.failure == TransportFailure::connect_error;
    bool reusable = result.failure == TransportFailure::none && state.reusable;
    release(provider.id, reusable ? std::move(connection) : nullptr);
    if (stale_keep_alive && round == 0) continue;
    co_return result;
  }
}

}  // namespace spendwall::proxy::upstream
