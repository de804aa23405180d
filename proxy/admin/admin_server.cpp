#include "proxy/admin/admin_server.hpp"

#include <openssl/crypto.h>

#include "proxy/log.hpp"

namespace spendwall::proxy::admin {
namespace {

constexpr std::uint32_t kAdminHeaderLimit = 16 * 1024;
constexpr std::uint64_t kAdminBodyLimit = 64 * 1024;
constexpr auto kAdminIoTimeout = std::chrono::seconds(10);

AdminResponse json_error(http::status status, std::string_view message) {
  AdminResponse response;
  response.status = status;
  response.body = std::string(R"({"error":")") + std::string(message) + R"("})";
  return response;
}

bool token_matches(std::string_view presented, const std::string& expected) {
  return presented.size() == expected.size() &&
         CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

}  // namespace

AdminServer::AdminServer(net::io_context& context, tcp::acceptor acceptor, std::string token,
                         AdminHandler handler)
    : context_(context),
      acceptor_(std::move(acceptor)),
      token_(std::move(token)),
      handler_(std::move(handler)) {}

void AdminServer::start() { net::co_spawn(context_, accept_loop(), net::detached); }

void AdminServer::stop() {
  error_code ignored;
  acceptor_.close(ignored);
}

tcp::endpoint AdminServer::local_endpoint() const {
  error_code ignored;
  return acceptor_.local_endpoint(ignored);
}

awaitable<void> AdminServer::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) continue;
    net::co_spawn(context_, serve(std::move(socket)), net::detached);
  }
}

AdminResponse AdminServer::dispatch(const http::request<http::string_body>& request) const {
  std::string_view target = request.target();
  auto question = target.find('?');
  AdminRequest admin_request{
      request.method(), target.substr(0, question),
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1),
      request.body()};
  if (admin_request.path.starts_with("/admin/") && !token_.empty()) {
    std::string_view authorization = request[http::field::authorization];
    constexpr std::string_view kBearer = "Bearer ";
    if (!authorization.starts_with(kBearer) ||
        !token_matches(authorization.substr(kBearer.size()), token_)) {
      return json_error(http::status::unauthorized,
                        "admin endpoints need Authorization: Bearer <admin_token>");
    }
  }
  if (auto response = handler_(admin_request)) return std::move(*response);
  return json_error(http::status::not_found, "no such admin endpoint");
}

awaitable<void> AdminServer::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kAdminHeaderLimit);
    parser.body_limit(kAdminBodyLimit);
    stream.expires_after(kAdminIoTimeout);
    auto [read_ec, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_ec) break;
    const auto& request = parser.get();
    AdminResponse answer = dispatch(request);
    http::response<http::string_body> response{answer.status, request.version()};
    response.set(http::field::server, "spendwall");
    response.set(http::field::content_type, answer.content_type);
    response.keep_alive(request.keep_alive());
    response.body() = std::move(answer.body);
    response.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
    if (write_ec || !response.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace spendwall::proxy::admin
