#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"

/// Parsers for the scalar units of config.md. All exact, none uses binary floating
/// point for money. Thread-safety: pure functions.
namespace spendwall::config {

/// `500ms`, `30s`, `5m`, `1h`, `7d` (a whole number and one unit).
std::optional<Duration> parse_duration(std::string_view text) noexcept;

/// `512`, `64KiB`, `8MiB`, `1GiB` (bytes; binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view text) noexcept;

/// Decimal USD (`2.50`, `0.075`, `200`) → nano-USD, exactly; at most 9 fractional
/// digits, non-negative, no exponent. nullopt when malformed or out of range.
std::optional<NanoUsd> parse_usd(std::string_view text) noexcept;

/// Renders nano-USD as the shortest exact decimal USD (`0.005875`, `12`, `-3.5`).
std::string format_usd(NanoUsd value);

/// RFC 3339 instant with whole seconds: `2026-12-01T00:00:00Z` or `…T01:00:00+01:00`.
std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view text) noexcept;

/// Calendar date `2026-11-01`.
std::optional<std::chrono::sys_days> parse_date(std::string_view text) noexcept;

/// A listen address split into its parts; `host` has no brackets (`::1`, not `[::1]`).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

/// `127.0.0.1:8080`, `localhost:9090`, `[::1]:9090`, `0.0.0.0:0`. The host is required.
std::optional<HostPort> parse_host_port(std::string_view text);

/// True for `localhost`, `127.0.0.0/8` and `::1`: hosts only this machine can reach.
bool is_loopback_host(std::string_view host) noexcept;

}  // namespace spendwall::config
