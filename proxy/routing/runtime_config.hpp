#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "metering/label_table.hpp"
#include "policies/budget_book.hpp"
#include "policies/worst_case.hpp"
#include "proxy/net.hpp"
#include "proxy/routing/target_health.hpp"

/// The data plane's indexed form of a `ConfigSnapshot`: names interned to dense ids,
/// routes resolvable by the model string a client sends, key digests resolvable to
/// workflows, provider endpoints pre-parsed, TLS contexts built. Built once per
/// config load on the control thread.
/// Thread-safety: immutable after `build()`; share as `shared_ptr<const RuntimeConfig>`.
namespace spendwall::proxy::routing {

using WorkflowId = std::uint16_t;
using RouteId = std::uint16_t;
using ProviderId = std::uint16_t;
using Sha256Digest = std::array<unsigned char, 32>;

/// Where a provider lives, parsed once from its `base_url`.
struct ProviderEndpoint {
  bool tls = false;
  std::string host;
  std::string port;
  std::string base_path;    ///< path prefix without trailing slash ("/v1", "")
  std::string host_header;  ///< host[:port] as sent in `Host`
};

struct ProviderRuntime {
  ProviderId id = 0;
  metering::LabelId label = metering::kUnresolvedLabel;
  const config::ProviderSpec* spec = nullptr;
  ProviderEndpoint endpoint;
  /// Shared by every worker: an SSL_CTX is safe for concurrent SSL_new once built.
  std::shared_ptr<ssl::context> tls_context;
  unsigned max_connections_per_worker = 1;
};

struct TargetRuntime {
  ProviderId provider = 0;
  std::string model;
  config::Price price;
  std::uint32_t weight = 1;
  std::uint32_t health_slot = 0;  ///< index into the runtime's TargetHealth
  metering::LabelId provider_label = metering::kUnresolvedLabel;
  metering::LabelId model_label = metering::kUnresolvedLabel;
};

struct RouteRuntime {
  RouteId id = 0;
  metering::LabelId label = metering::kUnresolvedLabel;
  std::string name;
  /// Null for the implicit `provider/model` routes that `routes: ["*"]` allows.
  const config::RouteSpec* spec = nullptr;
  std::vector<TargetRuntime> targets;
  std::vector<TargetRuntime> fallbacks;
  std::uint64_t total_weight = 0;
  std::uint64_t default_max_output_tokens = 1024;
  std::uint64_t default_image_tokens = 1500;
  /// The highest input- and output-side prices among every target and fallback: the
  /// prices of a request's worst-case reservation.
  policies::ReservationPrices reservation_prices;
};

struct WorkflowRuntime {
  WorkflowId id = 0;
  metering::LabelId label = metering::kUnresolvedLabel;
  const config::WorkflowPolicy* spec = nullptr;
  std::vector<bool> allowed_routes;  ///< indexed by RouteId
  /// Budget state (outlives reloads; owned by the BudgetBook); null before attach_budgets().
  policies::WorkflowBudget* budget = nullptr;
  /// `budget.downgrade_to`, when on_exceeded is downgrade.
  const RouteRuntime* downgrade_route = nullptr;
};

enum class RouteLookupStatus { ok, not_found, not_allowed };

struct RouteLookup {
  RouteLookupStatus status = RouteLookupStatus::not_found;
  const RouteRuntime* route = nullptr;  ///< set unless not_found
};

class RuntimeConfig {
 public:
  /// Builds the index. Fails only on what validation cannot see (TLS setup: an
  /// unreadable CA file); the message says which provider.
  struct BuildResult {
    std::shared_ptr<RuntimeConfig> config;  ///< null on failure; publish as const
    std::string error;
  };
  /// `labels` (optional) interns every name to the stable ids metrics are keyed by.
  static BuildResult build(std::shared_ptr<const config::ConfigSnapshot> snapshot,
                           unsigned worker_count, metering::LabelTable* labels = nullptr);

  const config::ConfigSnapshot& snapshot() const noexcept { return *snapshot_; }
  const std::shared_ptr<const config::ConfigSnapshot>& snapshot_ptr() const noexcept {
    return snapshot_;
  }

  /// Links each workflow to its budget state; `budgets` must have applied this config.
  /// Called once, before the runtime is shared.
  void attach_budgets(policies::BudgetBook& budgets);

  /// The workflow a client key belongs to, or nullptr. Hashes the key with SHA-256
  /// and compares digests in constant time; the key itself is never stored.
  const WorkflowRuntime* authenticate(std::string_view client_key) const;

  /// Resolves the `model` a client sent to a route this workflow may use.
  RouteLookup resolve(const WorkflowRuntime& workflow, std::string_view model) const;

  const std::vector<ProviderRuntime>& providers() const noexcept { return providers_; }
  const std::vector<RouteRuntime>& routes() const noexcept { return routes_; }
  const std::vector<WorkflowRuntime>& workflows() const noexcept { return workflows_; }
  const ProviderRuntime& provider(ProviderId id) const noexcept { return providers_[id]; }
  /// Cooldown state of every target; mutable shared state beside the immutable index.
  TargetHealth& health() const noexcept { return *health_; }

 private:
  struct DigestHash {
    std::size_t operator()(const Sha256Digest& digest) const noexcept;
  };
  struct DigestEqual {
    bool operator()(const Sha256Digest& a, const Sha256Digest& b) const noexcept;
  };
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const noexcept;
  };

  std::shared_ptr<const config::ConfigSnapshot> snapshot_;
  std::vector<ProviderRuntime> providers_;
  std::vector<RouteRuntime> routes_;
  std::vector<WorkflowRuntime> workflows_;
  std::unordered_map<Sha256Digest, WorkflowId, DigestHash, DigestEqual> workflow_by_key_;
  std::unordered_map<std::string, RouteId, NameHash, std::equal_to<>> route_by_name_;
  std::unique_ptr<TargetHealth> health_;
};

/// Parses `http[s]://host[:port][/path]`. nullopt when it is not such a URL.
std::optional<ProviderEndpoint> parse_base_url(std::string_view url);

}  // namespace spendwall::proxy::routing
