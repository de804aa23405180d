#pragma once

#include <string>
#include <string_view>

#include "proxy/net.hpp"
#include "proxy/upstream/transport.hpp"

/// What differs between provider kinds on the wire: the request path, how the
/// provider's key is sent, and which client headers travel upstream.
/// Thread-safety: pure functions.
namespace spendwall::proxy::upstream {

using OutgoingRequest = http::request<http::span_body<const char>>;

/// Path and query on the provider for this endpoint (`/v1/chat/completions`, …).
std::string upstream_target(const UpstreamRequest& request);

/// Fills `out` with method, target, forwarded client headers, the provider's
/// credentials and extra headers, and the body. The client's own credentials,
/// hop-by-hop headers and `x-spendwall-*` headers are never copied.
void build_outgoing_request(const UpstreamRequest& request, OutgoingRequest& out);

/// True for headers a proxy must not relay in either direction (RFC 9110 §7.6.1)
/// plus framing headers it recomputes itself.
bool is_hop_by_hop(std::string_view name) noexcept;

}  // namespace spendwall::proxy::upstream
