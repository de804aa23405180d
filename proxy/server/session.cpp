#include "proxy/server/session.hpp"

#include <algorithm>

#include "proxy/server/exchange_buffers.hpp"
#include "proxy/server/http_hygiene.hpp"
#include "proxy/server/request_pipeline.hpp"
#include "proxy/server/worker.hpp"

namespace spendwall::proxy::server {
namespace {

/// Room for a head plus what a pipelining client sends ahead; beyond it the client
/// waits on TCP back-pressure.
constexpr std::size_t kReadAheadBytes = 16 * 1024;

/// Answers a request whose head could not be parsed, then the connection closes.
awaitable<void> reject_head(beast::tcp_stream& stream, http::status status,
                            std::string_view message) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::server, "spendwall");
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.keep_alive(false);
  response.body() = message;
  response.body() += '\n';
  response.prepare_payload();
  stream.expires_after(std::chrono::seconds(5));
  co_await http::async_write(stream, response, use_tuple);
}

}  // namespace

awaitable<void> run_session(Worker& worker, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  auto slot = worker.register_session(stream);
  struct Unregister {
    Worker& worker;
    std::list<SessionSlot>::iterator slot;
    ~Unregister() { worker.unregister_session(slot); }
  } unregister{worker, slot};

  std::string body_storage;
  ExchangeBuffers exchange_buffers;
  beast::flat_buffer buffer;
  for (;;) {
    slot->idle = true;
    if (worker.draining()) break;
    std::shared_ptr<Generation> generation = worker.generation();
    const config::ServerSpec& limits = generation->runtime->snapshot().server;
    buffer.max_size(limits.max_header_bytes + kReadAheadBytes);

    if (buffer.size() == 0) {  // between requests: the keep-alive wait
      stream.expires_after(limits.idle_timeout);
      auto [wait_ec, received] =
          co_await stream.async_read_some(buffer.prepare(kReadAheadBytes), use_tuple);
      if (wait_ec) break;
      buffer.commit(received);
    }
    slot->idle = false;

    http::request_parser<http::string_body> parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::uint64_t>(limits.max_header_bytes, UINT32_MAX)));
    // The declared size is judged after the key (PRODUCT.md §2 order of checks); the
    // limit applies to the body as it is read.
    parser.body_limit(boost::none);
    stream.expires_after(limits.header_timeout);
    auto [head_ec, head_bytes] =
        co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (head_ec) {
      if (auto rejection = classify_head_error(head_ec, buffer, limits.max_header_bytes)) {
        co_await reject_head(stream, rejection->status, rejection->message);
      }
      break;
    }
    if (auto violation = check_framing(parser.get())) {
      co_await reject_head(stream, violation->status, violation->message);
      break;
    }

    parser.body_limit(limits.max_request_bytes);
    parser.get().body() = std::move(body_storage);
    bool keep_alive =
        co_await handle_request(worker, *generation, stream, buffer, parser, exchange_buffers);
    body_storage = std::move(parser.get().body());
    body_storage.clear();
    if (!keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace spendwall::proxy::server
