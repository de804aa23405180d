#include "proxy/server/client_writer.hpp"

#include "proxy/upstream/provider_adapter.hpp"

namespace spendwall::proxy::server {
namespace {

using ResponseBody = http::span_body<const char>;

ResponseBody::value_type as_span(std::string_view text) {
  return ResponseBody::value_type(text.data(), text.size());
}

}  // namespace

ClientWriter::ClientWriter(beast::tcp_stream& stream, unsigned http_version, bool keep_alive,
                           upstream::Clock::time_point deadline)
    : stream_(stream), version_(http_version), keep_alive_(keep_alive), deadline_(deadline) {}

void ClientWriter::fill_head(http::response_header<>& head, unsigned status) const {
  head.version(version_);
  head.result(status);
  head.set(http::field::server, "spendwall");
  for (const auto& field : extra_headers_) head.set(field.name_string(), field.value());
  if (!keep_alive_) {
    head.set(http::field::connection, "close");
  } else if (version_ == 10) {
    head.set(http::field::connection, "keep-alive");
  }
}

void ClientWriter::copy_upstream_headers(const http::response_header<>& upstream_head,
                                         http::response_header<>& head) const {
  for (const auto& field : upstream_head) {
    if (upstream::is_hop_by_hop(field.name_string()) || field.name() == http::field::server)
      continue;
    head.insert(field.name_string(), field.value());
  }
}

awaitable<error_code> ClientWriter::send(http::status status, std::string_view content_type,
                                         std::string_view body) {
  http::response<ResponseBody> response;
  fill_head(response.base(), static_cast<unsigned>(status));
  response.set(http::field::content_type, content_type);
  response.body() = as_span(body);
  response.prepare_payload();
  status_ = static_cast<unsigned>(status);
  started_ = true;
  stream_.expires_at(deadline_);
  auto [ec, written] = co_await http::async_write(stream_, response, use_tuple);
  co_return ec;
}

awaitable<error_code> ClientWriter::relay(const http::response_header<>& upstream_head,
                                          std::string_view body) {
  http::response<ResponseBody> response;
  copy_upstream_headers(upstream_head, response.base());
  fill_head(response.base(), upstream_head.result_int());
  response.body() = as_span(body);
  response.prepare_payload();
  status_ = upstream_head.result_int();
  started_ = true;
  stream_.expires_at(deadline_);
  auto [ec, written] = co_await http::async_write(stream_, response, use_tuple);
  co_return ec;
}

awaitable<error_code> ClientWriter::begin_stream(const http::response_header<>& upstream_head) {
  http::response<http::empty_body> response;
  copy_upstream_headers(upstream_head, response.base());
  fill_head(response.base(), upstream_head.result_int());
  response.chunked(true);
  status_ = upstream_head.result_int();
  started_ = true;
  http::response_serializer<http::empty_body> serializer(response);
  stream_.expires_at(deadline_);
  auto [ec, written] = co_await http::async_write_header(stream_, serializer, use_tuple);
  co_return ec;
}

awaitable<error_code> ClientWriter::send_chunk(std::string_view bytes) {
  stream_.expires_at(deadline_);
  auto [ec, written] = co_await net::async_write(
      stream_, http::make_chunk(net::buffer(bytes.data(), bytes.size())), use_tuple);
  co_return ec;
}

awaitable<error_code> ClientWriter::end_stream() {
  stream_.expires_at(deadline_);
  auto [ec, written] = co_await net::async_write(stream_, http::make_chunk_last(), use_tuple);
  co_return ec;
}

}  // namespace spendwall::proxy::server
