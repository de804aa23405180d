#include "proxy/routing/runtime_config.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace spendwall::proxy::routing {
namespace {

Sha256Digest sha256(std::string_view text) {
  Sha256Digest digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

TargetRuntime make_target(const config::ConfigSnapshot& snapshot,
                          const std::vector<ProviderRuntime>& providers,
                          const config::TargetSpec& spec) {
  TargetRuntime target;
  auto provider = std::find_if(providers.begin(), providers.end(), [&](const ProviderRuntime& p) {
    return p.spec->name == spec.provider;
  });
  target.provider = provider->id;  // validation guarantees the provider exists
  target.model = spec.model;
  if (const config::Price* price = snapshot.find_price(spec.provider, spec.model))
    target.price = *price;
  target.weight = spec.weight;
  return target;
}

std::string build_tls_context(const config::ConfigSnapshot& snapshot, ProviderRuntime& provider) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context->set_verify_mode(ssl::verify_peer);
  error_code ec;
  if (provider.spec->ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    std::string path = provider.spec->ca_file;
    if (!path.starts_with('/')) path = snapshot.directory + "/" + path;
    context->load_verify_file(path, ec);
  }
  if (ec) {
    return "provider '" + provider.spec->name + "': cannot load TLS trust store: " + ec.message();
  }
  provider.tls_context = std::move(context);
  return {};
}

}  // namespace

std::optional<ProviderEndpoint> parse_base_url(std::string_view url) {
  ProviderEndpoint endpoint;
  if (url.starts_with("https://")) {
    endpoint.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  if (authority.empty()) return std::nullopt;

  std::string_view host = authority;
  std::string_view port = endpoint.tls ? "443" : "80";
  if (authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  endpoint.host = host;
  endpoint.port = port;
  endpoint.base_path = path;
  endpoint.host_header = authority;
  return endpoint;
}

std::size_t RuntimeConfig::DigestHash::operator()(const Sha256Digest& digest) const noexcept {
  // A SHA-256 digest is already uniformly distributed: its first word is a fine hash.
  std::size_t value = 0;
  std::memcpy(&value, digest.data(), sizeof value);
  return value;
}

bool RuntimeConfig::DigestEqual::operator()(const Sha256Digest& a,
                                            const Sha256Digest& b) const noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::size_t RuntimeConfig::NameHash::operator()(std::string_view name) const noexcept {
  return std::hash<std::string_view>{}(name);
}

RuntimeConfig::BuildResult RuntimeConfig::build(
    std::shared_ptr<const config::ConfigSnapshot> snapshot, unsigned worker_count,
    metering::LabelTable* labels) {
  auto label = [labels](std::string_view name) {
    return labels ? labels->intern(name) : metering::kUnresolvedLabel;
  };
  auto runtime = std::shared_ptr<RuntimeConfig>(new RuntimeConfig());
  runtime->snapshot_ = snapshot;
  const config::ConfigSnapshot& cfg = *snapshot;
  worker_count = std::max(worker_count, 1u);

  for (const config::ProviderSpec& spec : cfg.providers) {
    ProviderRuntime provider;
    provider.id = static_cast<ProviderId>(runtime->providers_.size());
    provider.spec = &spec;
    provider.label = label(spec.name);
    provider.max_connections_per_worker =
        std::max(1u, (spec.max_connections + worker_count - 1) / worker_count);
    if (spec.kind != config::ProviderKind::simulated) {
      auto endpoint = parse_base_url(spec.base_url);
      if (!endpoint)
        return {nullptr, "provider '" + spec.name + "': base_url is not an http(s) URL"};
      provider.endpoint = std::move(*endpoint);
      if (provider.endpoint.tls) {
        if (auto error = build_tls_context(cfg, provider); !error.empty()) return {nullptr, error};
      }
    }
    runtime->providers_.push_back(std::move(provider));
  }

  for (const config::RouteSpec& spec : cfg.routes) {
    RouteRuntime route;
    route.id = static_cast<RouteId>(runtime->routes_.size());
    route.name = spec.name;
    route.label = label(spec.name);
    route.spec = &spec;
    route.default_max_output_tokens = spec.default_max_output_tokens;
    route.default_image_tokens = spec.default_image_tokens;
    for (const auto& target : spec.targets)
      route.targets.push_back(make_target(cfg, runtime->providers_, target));
    for (const auto& target : spec.fallbacks)
      route.fallbacks.push_back(make_target(cfg, runtime->providers_, target));
    runtime->route_by_name_.emplace(route.name, route.id);
    runtime->routes_.push_back(std::move(route));
  }

  // `routes: ["*"]` also allows every priced provider/model by that name.
  for (const config::PriceEntry& price : cfg.prices) {
    std::string name = price.provider + "/" + price.model;
    if (runtime->route_by_name_.contains(name) || !cfg.find_provider(price.provider)) continue;
    RouteRuntime route;
    route.id = static_cast<RouteId>(runtime->routes_.size());
    route.name = name;
    route.label = label(name);
    config::TargetSpec target{price.provider, price.model, 1, {}};
    route.targets.push_back(make_target(cfg, runtime->providers_, target));
    runtime->route_by_name_.emplace(route.name, route.id);
    runtime->routes_.push_back(std::move(route));
  }
  // A provider/model that fails is unhealthy in every route that names it.
  std::map<std::pair<ProviderId, std::string>, std::uint32_t> health_slots;
  auto assign_slot = [&health_slots](TargetRuntime& target) {
    auto [it, added] = health_slots.try_emplace({target.provider, target.model},
                                                static_cast<std::uint32_t>(health_slots.size()));
    target.health_slot = it->second;
  };
  for (RouteRuntime& route : runtime->routes_) {
    auto prepare = [&](TargetRuntime& target) {
      assign_slot(target);
      target.provider_label = runtime->providers_[target.provider].label;
      target.model_label = label(target.model);
    };
    for (TargetRuntime& target : route.targets) {
      route.total_weight += target.weight;
      prepare(target);
      route.reservation_prices.include(target.price);
    }
    for (TargetRuntime& target : route.fallbacks) {
      prepare(target);
      route.reservation_prices.include(target.price);
    }
  }
  runtime->health_ = std::make_unique<TargetHealth>(health_slots.size());

  for (const config::WorkflowPolicy& spec : cfg.workflows) {
    WorkflowRuntime workflow;
    workflow.id = static_cast<WorkflowId>(runtime->workflows_.size());
    workflow.spec = &spec;
    workflow.label = label(spec.name);
    workflow.allowed_routes.assign(runtime->routes_.size(), spec.all_routes);
    for (const std::string& name : spec.routes) {
      if (auto it = runtime->route_by_name_.find(name); it != runtime->route_by_name_.end()) {
        workflow.allowed_routes[it->second] = true;
      }
    }
    for (const auto& digest : spec.key_hashes)
      runtime->workflow_by_key_.emplace(digest, workflow.id);
    if (spec.budget && spec.budget->on_exceeded == config::OnExceeded::downgrade) {
      if (auto it = runtime->route_by_name_.find(spec.budget->downgrade_to);
          it != runtime->route_by_name_.end()) {
        workflow.downgrade_route = &runtime->routes_[it->second];
      }
    }
    runtime->workflows_.push_back(std::move(workflow));
  }
  return {std::move(runtime), {}};
}

void RuntimeConfig::attach_budgets(policies::BudgetBook& budgets) {
  for (WorkflowRuntime& workflow : workflows_) workflow.budget = budgets.find(workflow.spec->name);
}

const WorkflowRuntime* RuntimeConfig::authenticate(std::string_view client_key) const {
  if (client_key.empty()) return nullptr;
  auto it = workflow_by_key_.find(sha256(client_key));
  return it == workflow_by_key_.end() ? nullptr : &workflows_[it->second];
}

RouteLookup RuntimeConfig::resolve(const WorkflowRuntime& workflow, std::string_view model) const {
  auto it = route_by_name_.find(model);
  if (it == route_by_name_.end()) return {RouteLookupStatus::not_found, nullptr};
  const RouteRuntime& route = routes_[it->second];
  if (!workflow.allowed_routes[route.id]) return {RouteLookupStatus::not_allowed, &route};
  return {RouteLookupStatus::ok, &route};
}

}  // namespace spendwall::proxy::routing
