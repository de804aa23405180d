#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metering/endpoint.hpp"

/// The errors Spendwall itself answers with (PRODUCT.md §2 error table and the feedback
/// codes of §6), and their bodies in the caller's API format.
/// Thread-safety: pure functions over constant tables.
namespace spendwall::api {

enum class ErrorKind : std::uint8_t {
  invalid_request,       ///< 400: malformed body or field, bad tags or session, untranslatable
  invalid_api_key,       ///< 401: missing or unknown key
  route_not_allowed,     ///< 403: the workflow may not use this route
  model_not_found,       ///< 404: unknown model or route
  path_not_found,        ///< 404: unknown path
  method_not_allowed,    ///< 405
  request_too_large,     ///< 413: body over `max_request_bytes`
  budget_exceeded,       ///< 429: workflow budget exhausted under `block`
  session_cap_exceeded,  ///< 429: session cap exhausted
  // Every target failed; the code is the last failure class, the status is chosen by the
  // caller (see `write_upstream_error_body`).
  upstream_timeout,
  upstream_connect_error,
  upstream_rate_limited,
  upstream_server_error,
  upstream_context_length,
  // POST /v1/feedback (§6).
  unknown_outcome,    ///< 400
  request_not_found,  ///< 404
  not_your_request,   ///< 403
  outcome_exists,     ///< 409
  internal,           ///< 500: a Spendwall bug or resource failure
};

/// How one kind of error is spelled on the wire.
struct ErrorSpec {
  std::uint16_t status;  ///< for upstream kinds, the status used when no attempt got a 429/5xx
  std::string_view openai_type;
  std::string_view openai_code;
  std::string_view anthropic_type;  ///< for upstream kinds, the type at a status other than 429/529
};

const ErrorSpec& error_spec(ErrorKind kind) noexcept;

constexpr bool is_upstream_failure(ErrorKind kind) noexcept {
  return kind >= ErrorKind::upstream_timeout && kind <= ErrorKind::upstream_context_length;
}

/// The Anthropic error type for `kind` answered with `status`: upstream failures follow the
/// status (`rate_limit_error` at 429, `overloaded_error` at 529, else `api_error`); every
/// other kind has a fixed type.
std::string_view anthropic_error_type(ErrorKind kind, unsigned status) noexcept;

/// Replaces `out` with the error body for `kind` at its fixed status:
///   OpenAI:    {"error":{"message":"…","type":"…","code":"…","param":null|"…"}}
///   Anthropic: {"type":"error","error":{"type":"…","message":"…"}}
/// An empty `param` is written as null; Anthropic bodies have no param. `message` and
/// `param` may hold any bytes: they are escaped, and invalid UTF-8 is replaced.
void write_error_body(metering::ApiFormat format, ErrorKind kind, std::string_view message,
                      std::string_view param, std::string& out);

/// Same, for an upstream failure answered with `status` (the most recent 429/5xx an attempt
/// got, else 504 or 502), which decides the Anthropic type.
void write_upstream_error_body(metering::ApiFormat format, ErrorKind kind, unsigned status,
                               std::string_view message, std::string& out);

}  // namespace spendwall::api
