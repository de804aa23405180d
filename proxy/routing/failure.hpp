#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "proxy/upstream/transport.hpp"

/// Classifies each failed attempt once, from what the provider said, into the classes
/// routes name in `fallback_on` (plus `client_error`, which never moves on).
/// Thread-safety: pure functions.
namespace spendwall::proxy::routing {

using config::FailureClass;

/// The class of an HTTP answer, or nullopt for a success (2xx). `body` is the provider's
/// error body, read for the context-length errors both providers answer with a 400.
std::optional<FailureClass> classify_status(unsigned status, std::string_view body) noexcept;

/// The class of a transport-level failure (never called for `none` or a client that left).
FailureClass classify_transport(upstream::TransportFailure failure) noexcept;

/// The `code`/`result` spelling of a class (`rate_limited`, `connect_error`, …).
std::string_view failure_label(FailureClass cls) noexcept;

}  // namespace spendwall::proxy::routing
