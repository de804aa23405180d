#include "proxy/api/errors.hpp"

#include <array>
#include <cstddef>

#include "proxy/api/json_writer.hpp"

namespace spendwall::api {
namespace {

constexpr std::size_t kErrorKindCount = static_cast<std::size_t>(ErrorKind::internal) + 1;

// Indexed by ErrorKind; the order must follow the enum.
constexpr std::array<ErrorSpec, kErrorKindCount> kErrorSpecs{{
    {400, "invalid_request_error", "invalid_request", "invalid_request_error"},
    {401, "authentication_error", "invalid_api_key", "authentication_error"},
    {403, "permission_error", "route_not_allowed", "permission_error"},
    {404, "invalid_request_error", "model_not_found", "not_found_error"},
    {404, "invalid_request_error", "not_found", "not_found_error"},
    {405, "invalid_request_error", "method_not_allowed", "invalid_request_error"},
    {413, "invalid_request_error", "request_too_large", "request_too_large"},
    {429, "insufficient_quota", "budget_exceeded", "rate_limit_error"},
    {429, "insufficient_quota", "session_cap_exceeded", "rate_limit_error"},
    {504, "upstream_error", "timeout", "api_error"},
    {502, "upstream_error", "connect_error", "api_error"},
    {429, "upstream_error", "rate_limited", "api_error"},
    {502, "upstream_error", "server_error", "api_error"},
    {502, "upstream_error", "context_length", "api_error"},
    {400, "invalid_request_error", "unknown_outcome", "invalid_request_error"},
    {404, "invalid_request_error", "request_not_found", "not_found_error"},
    {403, "permission_error", "not_your_request", "permission_error"},
    {409, "invalid_request_error", "outcome_exists", "invalid_request_error"},
    {500, "server_error", "internal", "api_error"},
}};

void write_body(metering::ApiFormat format, const ErrorSpec& spec, std::string_view anthropic_type,
                std::string_view message, std::string_view param, std::string& out) {
  out.clear();
  JsonWriter json(out);
  json.begin_object();
  if (format == metering::ApiFormat::anthropic) {
    json.key("type").string("error");
    json.key("error").begin_object();
    json.key("type").string(anthropic_type);
    json.key("message").string(message);
    json.end_object();
  } else {
    json.key("error").begin_object();
    json.key("message").string(message);
    json.key("type").string(spec.openai_type);
    json.key("code").string(spec.openai_code);
    json.key("param");
    if (param.empty()) {
      json.null();
    } else {
      json.string(param);
    }
    json.end_object();
  }
  json.end_object();
}

}  // namespace

const ErrorSpec& error_spec(ErrorKind kind) noexcept {
  return kErrorSpecs[static_cast<std::size_t>(kind)];
}

std::string_view anthropic_error_type(ErrorKind kind, unsigned status) noexcept {
  if (is_upstream_failure(kind)) {
    if (status == 429) return "rate_limit_error";
    if (status == 529) return "overloaded_error";
  }
  return error_spec(kind).anthropic_type;
}

void write_error_body(metering::ApiFormat format, ErrorKind kind, std::string_view message,
                      std::string_view param, std::string& out) {
  const ErrorSpec& spec = error_spec(kind);
  write_body(format, spec, anthropic_error_type(kind, spec.status), message, param, out);
}

void write_upstream_error_body(metering::ApiFormat format, ErrorKind kind, unsigned status,
                               std::string_view message, std::string& out) {
  write_body(format, error_spec(kind), anthropic_error_type(kind, status), message, {}, out);
}

}  // namespace spendwall::api
