#pragma once

#include "proxy/net.hpp"

namespace spendwall::proxy::server {

class Worker;
struct Generation;
struct ExchangeBuffers;

/// Handles one request whose head has been read and passed the framing checks: the
/// steps of PRODUCT.md §2 in their documented order (endpoint → key → body size → body
/// → route → tags → upstream → metering). Reads the body itself, once the cheaper
/// checks passed. Returns whether the connection may serve another request.
awaitable<bool> handle_request(Worker& worker, Generation& generation, beast::tcp_stream& stream,
                               beast::flat_buffer& buffer,
                               http::request_parser<http::string_body>& parser,
                               ExchangeBuffers& buffers);

}  // namespace spendwall::proxy::server
