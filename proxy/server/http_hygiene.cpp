#include "proxy/server/http_hygiene.hpp"

#include <algorithm>

namespace spendwall::proxy::server {

std::optional<HeadRejection> classify_head_error(const error_code& ec,
                                                 const beast::flat_buffer& buffer,
                                                 std::size_t header_limit) {
  if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == http::error::partial_message) {
    return std::nullopt;
  }
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    auto bytes = buffer.cdata();
    std::string_view received(static_cast<const char*>(bytes.data()), bytes.size());
    // The parser may already have consumed the request line: only a first line that is
    // a request line (no ':' before its first space) can be the one that is too long.
    auto line_end = received.find('\n');
    auto first_space = received.find(' ');
    auto first_colon = received.find(':');
    bool starts_with_request_line =
        first_space != std::string_view::npos && first_space < first_colon;
    if (starts_with_request_line &&
        (line_end == std::string_view::npos || line_end + 1 > header_limit)) {
      return HeadRejection{http::status::uri_too_long, "request line exceeds max_header_bytes"};
    }
    return HeadRejection{http::status::request_header_fields_too_large,
                         "request head exceeds max_header_bytes"};
  }
  if (ec == http::error::multiple_content_length || ec == http::error::bad_content_length) {
    return HeadRejection{http::status::bad_request, "invalid or conflicting Content-Length"};
  }
  if (ec == http::error::bad_transfer_encoding) {
    return HeadRejection{http::status::bad_request, "invalid Transfer-Encoding"};
  }
  return HeadRejection{http::status::bad_request, "malformed HTTP request head"};
}

std::optional<HeadRejection> check_framing(const http::request_header<>& head) {
  std::size_t transfer_encodings = 0;
  bool has_content_length = false;
  for (const auto& field : head) {
    std::string_view value = field.value();
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return c == '\r' || c == '\n' || c == '\0'; })) {
      return HeadRejection{http::status::bad_request, "header value contains CR, LF or NUL"};
    }
    if (field.name() == http::field::transfer_encoding) {
      ++transfer_encodings;
      if (!beast::iequals(value, "chunked")) {
        return HeadRejection{http::status::bad_request,
                             "Transfer-Encoding must be exactly 'chunked'"};
      }
    }
    if (field.name() == http::field::content_length) has_content_length = true;
  }
  if (transfer_encodings > 1) {
    return HeadRejection{http::status::bad_request, "Transfer-Encoding must be exactly 'chunked'"};
  }
  if (transfer_encodings == 1 && has_content_length) {
    return HeadRejection{http::status::bad_request, "both Content-Length and Transfer-Encoding"};
  }
  return std::nullopt;
}

}  // namespace spendwall::proxy::server
