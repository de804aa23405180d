#pragma once

#include <openssl/ssl.h>

#include <string>

/// Peer checks for outgoing TLS connections (providers, alert sinks).
/// Thread-safety: pure function over the caller's SSL handle.
namespace spendwall::proxy::upstream {

/// Sends SNI for a host name and makes the handshake verify the peer certificate
/// against `host`: its DNS name, or its IP address for an IP literal (no SNI then).
/// The SSL_CTX must already require peer verification.
void expect_peer(SSL* handle, const std::string& host);

}  // namespace spendwall::proxy::upstream
