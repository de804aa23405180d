#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// Immutable, typed view of a Spendwall YAML config (spec: config.md).
///
/// A `ConfigSnapshot` is built once by `load_config()` and never mutated; it is shared
/// between threads as `std::shared_ptr<const ConfigSnapshot>`.
/// Thread-safety: immutable after construction, safe to read from any thread.
namespace spendwall::config {

using Duration = std::chrono::milliseconds;

/// Money is integer nano-USD everywhere (1 USD = 10^9).
using NanoUsd = std::int64_t;
inline constexpr NanoUsd kNanoPerUsd = 1'000'000'000;

/// A place in a config file, 1-based like compiler diagnostics. Zero when unknown.
struct SourceMark {
  int line = 0;
  int column = 0;
};

struct ServerSpec {
  std::string listen = "0.0.0.0:8080";
  std::string admin_listen = "127.0.0.1:9090";
  std::string admin_token;  ///< empty = no token
  unsigned workers = 0;     ///< 0 = one per core
  std::uint64_t max_request_bytes = 8ull << 20;
  std::uint64_t max_header_bytes = 64ull << 10;
  Duration header_timeout = std::chrono::seconds(10);
  Duration request_timeout = std::chrono::seconds(600);
  Duration idle_timeout = std::chrono::seconds(75);
  Duration drain_timeout = std::chrono::seconds(30);
};

enum class LedgerBackend { sqlite, postgres, memory };

struct LeaseSpec {
  double fraction = 0.05;
  NanoUsd min = kNanoPerUsd;
  Duration ttl = std::chrono::seconds(30);
};

struct LedgerSpec {
  LedgerBackend backend = LedgerBackend::sqlite;
  std::string path = "./spendwall.db";  ///< resolved against the config folder
  std::string url;                      ///< postgres
  LeaseSpec lease;
  Duration sync_interval = std::chrono::seconds(1);
  Duration retention = std::chrono::hours(24 * 90);
};

enum class ProviderKind { openai, anthropic, simulated };

struct ProviderSpec {
  std::string name;
  ProviderKind kind = ProviderKind::openai;
  std::string base_url;  ///< empty for simulated
  std::string api_key;   ///< after ${VAR} substitution; never logged
  std::vector<std::pair<std::string, std::string>> headers;
  std::string anthropic_version = "2023-06-01";
  std::string ca_file;  ///< optional, resolved against the config folder
  Duration connect_timeout = std::chrono::seconds(5);
  Duration first_byte_timeout = std::chrono::seconds(60);
  unsigned max_connections = 512;
  std::uint64_t max_response_bytes = 64ull << 20;
  // simulated only
  Duration latency = std::chrono::milliseconds(150);
  double tokens_per_second = 80.0;
  double error_rate = 0.0;
  unsigned error_status = 429;
  SourceMark mark;
};

/// Price of one provider/model in nano-USD per 1M tokens, read from decimal text
/// exactly. Defaults are already applied (cached_input/cache_write → input,
/// reasoning → output).
struct Price {
  NanoUsd input = 0;
  NanoUsd cached_input = 0;
  NanoUsd cache_write = 0;
  NanoUsd output = 0;
  NanoUsd reasoning = 0;
};

struct PriceEntry {
  std::string provider;
  std::string model;
  Price price;
  std::string source_file;  ///< where it was defined (main file or an included one)
  SourceMark mark;
};

enum class FailureClass {
  rate_limited,
  server_error,
  timeout,
  connect_error,
  context_length,
  client_error
};
inline constexpr std::size_t kFailureClassCount = 6;

struct TargetSpec {
  std::string provider;
  std::string model;
  unsigned weight = 1;
  SourceMark mark;
};

struct RouteSpec {
  std::string name;
  std::vector<TargetSpec> targets;
  std::vector<TargetSpec> fallbacks;
  /// Classes that move on to the next target. Default: every class but client_error.
  std::vector<FailureClass> fallback_on{FailureClass::rate_limited, FailureClass::server_error,
                                        FailureClass::timeout, FailureClass::connect_error,
                                        FailureClass::context_length};
  unsigned retries = 1;
  Duration max_retry_wait = std::chrono::seconds(2);
  Duration cooldown = std::chrono::seconds(30);
  unsigned cooldown_after = 3;
  std::uint64_t default_max_output_tokens = 1024;
  std::uint64_t default_image_tokens = 1500;
  SourceMark mark;
};

enum class OnExceeded { block, downgrade, alert };

struct OverrideSpec {
  std::string name;
  std::chrono::sys_seconds from{};
  std::chrono::sys_seconds until{};
  std::optional<NanoUsd> daily;
  std::optional<NanoUsd> monthly;
  std::string reason;
  std::string approved_by;
  SourceMark mark;
};

struct BudgetSpec {
  std::optional<NanoUsd> daily;
  std::optional<NanoUsd> monthly;
  std::string timezone = "UTC";
  std::vector<double> alert_at;
  OnExceeded on_exceeded = OnExceeded::block;
  std::string downgrade_to;
  std::optional<double> ceiling;
  std::optional<NanoUsd> session_cap;
};

/// Documented decision rules, copied into every exception of that kind.
struct DecisionRules {
  std::string threshold;
  std::string exceeded;
  std::string spike;
  std::string fallback_surge;
};

struct WorkflowPolicy {
  std::string name;
  std::string owner;
  std::string contact;
  /// SHA-256 digests of the workflow's client keys (from `sha256:<64 hex>`).
  std::vector<std::array<unsigned char, 32>> key_hashes;
  std::vector<std::string>
      routes;  ///< route names; "*" allows every route and priced provider/model
  bool all_routes = false;
  std::optional<BudgetSpec> budget;
  std::vector<OverrideSpec> overrides;
  DecisionRules decisions;
  std::string review;
  SourceMark mark;
};

enum class SinkKind { slack, webhook, log };

struct SinkSpec {
  std::string name;
  SinkKind kind = SinkKind::log;
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct SpikeSpec {
  Duration window = std::chrono::hours(1);
  Duration baseline = std::chrono::hours(24 * 7);
  double factor = 3.0;
  NanoUsd min_spend = 5 * kNanoPerUsd;
};

struct FallbackSurgeSpec {
  Duration window = std::chrono::minutes(10);
  double ratio = 0.2;
  std::uint64_t min_requests = 50;
};

struct AlertsSpec {
  std::vector<SinkSpec> sinks;
  SpikeSpec spike;
  FallbackSurgeSpec fallback_surge;
  std::vector<std::string> outcomes{"accepted", "rejected", "retried", "abandoned"};
};

/// One file of `include_prices`.
struct PriceFileSpec {
  std::string path;  ///< resolved against the config folder
  std::chrono::sys_days as_of{};
  std::string source;
};

/// The whole validated config. Vectors keep YAML order; names are unique within each.
struct ConfigSnapshot {
  std::string file;            ///< path as given on the command line
  std::string directory;       ///< folder relative paths resolve against
  std::string content_digest;  ///< hash of the config file and included price files
  ServerSpec server;
  LedgerSpec ledger;
  std::vector<ProviderSpec> providers;
  std::vector<PriceFileSpec> price_files;  ///< `include_prices`, in order
  std::vector<PriceEntry> prices;          ///< included files first, then `prices` overrides
  std::vector<RouteSpec> routes;
  std::vector<WorkflowPolicy> workflows;
  AlertsSpec alerts;

  const ProviderSpec* find_provider(std::string_view name) const noexcept;
  const RouteSpec* find_route(std::string_view name) const noexcept;
  const WorkflowPolicy* find_workflow(std::string_view name) const noexcept;
  /// Effective price of provider/model (the last definition wins), or nullptr.
  const Price* find_price(std::string_view provider, std::string_view model) const noexcept;
};

std::string_view to_string(ProviderKind kind) noexcept;
std::string_view to_string(FailureClass cls) noexcept;
/// The class named `name` (as `to_string` writes it); nullopt for anything else, such as an
/// attempt's `ok`.
std::optional<FailureClass> failure_class_named(std::string_view name) noexcept;
std::string_view to_string(OnExceeded action) noexcept;
std::string_view to_string(LedgerBackend backend) noexcept;
std::string_view to_string(SinkKind kind) noexcept;

}  // namespace spendwall::config
