#pragma once

#include <optional>
#include <string_view>

#include "proxy/net.hpp"

/// The framing rules a proxy facing untrusted clients enforces before anything is
/// forwarded (request smuggling, header injection; PRODUCT.md §2 "HTTP hygiene").
/// Thread-safety: pure functions.
namespace spendwall::proxy::server {

struct HeadRejection {
  http::status status;
  std::string_view message;
};

/// How to answer a head that failed to parse; nullopt means close silently (the peer
/// left, or it was too slow to deserve an answer).
/// `header_limit`: max_header_bytes, to tell an over-long request line (414) from an
/// over-long head (431).
std::optional<HeadRejection> classify_head_error(const error_code& ec,
                                                 const beast::flat_buffer& buffer,
                                                 std::size_t header_limit);

/// Checks a parsed head: Content-Length together with Transfer-Encoding, a
/// Transfer-Encoding other than exactly `chunked`, CR/LF/NUL in a header value.
std::optional<HeadRejection> check_framing(const http::request_header<>& head);

}  // namespace spendwall::proxy::server
