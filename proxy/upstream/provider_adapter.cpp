#include "proxy/upstream/provider_adapter.hpp"

#include <array>

namespace spendwall::proxy::upstream {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept { return beast::iequals(a, b); }

bool starts_with_icase(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

/// Client headers that never travel upstream: credentials (the client's key must not
/// reach a provider), our own control headers, and what the proxy sets itself.
bool is_withheld_from_upstream(std::string_view name) noexcept {
  constexpr std::array<std::string_view, 6> kWithheld{"authorization",   "x-api-key", "host",
                                                      "accept-encoding", "expect",    "cookie"};
  for (std::string_view withheld : kWithheld) {
    if (iequals(name, withheld)) return true;
  }
  return starts_with_icase(name, "x-spendwall-") || is_hop_by_hop(name);
}

/// Whether `name` is one of the comma-separated tokens of a Connection header: those
/// headers are hop-by-hop too (RFC 9110 §7.6.1).
bool is_listed_in(std::string_view connection, std::string_view name) noexcept {
  while (!connection.empty()) {
    auto comma = connection.find(',');
    std::string_view token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (!token.empty() && iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) noexcept {
  constexpr std::array<std::string_view, 10> kHopByHop{
      "connection",          "keep-alive", "proxy-authenticate",
      "proxy-authorization", "te",         "trailer",
      "transfer-encoding",   "upgrade",    "content-length",
      "proxy-connection"};
  for (std::string_view hop : kHopByHop) {
    if (iequals(name, hop)) return true;
  }
  return false;
}

std::string upstream_target(const UpstreamRequest& request) {
  std::string_view endpoint_path = metering::endpoint_label(request.endpoint);
  std::string target = request.provider->endpoint.base_path;
  // An OpenAI-compatible base_url already ends in its API version (`…/v1`).
  if (request.provider->spec->kind == config::ProviderKind::openai &&
      endpoint_path.starts_with("/v1/")) {
    endpoint_path.remove_prefix(3);
  }
  target += endpoint_path;
  if (!request.query.empty()) {
    target += '?';
    target += request.query;
  }
  return target;
}

void build_outgoing_request(const UpstreamRequest& request, OutgoingRequest& out) {
  const config::ProviderSpec& provider = *request.provider->spec;
  out.method(http::verb::post);
  out.target(upstream_target(request));
  out.version(11);
  out.set(http::field::host, request.provider->endpoint.host_header);
  bool client_sent_anthropic_version = false;
  if (request.client_headers) {
    std::string_view connection = (*request.client_headers)[http::field::connection];
    for (const auto& field : *request.client_headers) {
      if (is_withheld_from_upstream(field.name_string()) ||
          is_listed_in(connection, field.name_string()))
        continue;
      if (iequals(field.name_string(), "anthropic-version")) client_sent_anthropic_version = true;
      out.insert(field.name_string(), field.value());
    }
  }
  for (const auto& [name, value] : provider.headers) out.set(name, value);
  if (provider.kind == config::ProviderKind::anthropic) {
    out.set("x-api-key", provider.api_key);
    if (!client_sent_anthropic_version) out.set("anthropic-version", provider.anthropic_version);
  } else {
    out.set(http::field::authorization, "Bearer " + provider.api_key);
  }
  // Usage must be readable in the response: no compressed bodies.
  out.set(http::field::accept_encoding, "identity");
  out.set(http::field::content_type, "application/json");
  out.keep_alive(true);
  out.body() = http::span_body<const char>::value_type(request.body.data(), request.body.size());
  out.prepare_payload();
}

}  // namespace spendwall::proxy::upstream
