#include "config/config.hpp"

#include <algorithm>
#include <array>

namespace spendwall::config {
namespace {

template <class Spec>
const Spec* find_by_name(const std::vector<Spec>& specs, std::string_view name) noexcept {
  const auto it =
      std::find_if(specs.begin(), specs.end(), [&](const Spec& spec) { return spec.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

}  // namespace

const ProviderSpec* ConfigSnapshot::find_provider(std::string_view name) const noexcept {
  return find_by_name(providers, name);
}

const RouteSpec* ConfigSnapshot::find_route(std::string_view name) const noexcept {
  return find_by_name(routes, name);
}

const WorkflowPolicy* ConfigSnapshot::find_workflow(std::string_view name) const noexcept {
  return find_by_name(workflows, name);
}

const Price* ConfigSnapshot::find_price(std::string_view provider,
                                        std::string_view model) const noexcept {
  // Later entries override earlier ones (included files first, then `prices`).
  const auto it = std::find_if(prices.rbegin(), prices.rend(), [&](const PriceEntry& entry) {
    return entry.provider == provider && entry.model == model;
  });
  return it == prices.rend() ? nullptr : &it->price;
}

std::string_view to_string(ProviderKind kind) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"openai", "anthropic", "simulated"};
  return kNames[static_cast<std::size_t>(kind)];
}

namespace {
constexpr std::array<std::string_view, kFailureClassCount> kFailureClassNames{
    "rate_limited", "server_error", "timeout", "connect_error", "context_length", "client_error"};
}  // namespace

std::string_view to_string(FailureClass cls) noexcept {
  return kFailureClassNames[static_cast<std::size_t>(cls)];
}

std::optional<FailureClass> failure_class_named(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kFailureClassNames.size(); ++i) {
    if (kFailureClassNames[i] == name) return static_cast<FailureClass>(i);
  }
  return std::nullopt;
}

std::string_view to_string(OnExceeded action) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"block", "downgrade", "alert"};
  return kNames[static_cast<std::size_t>(action)];
}

std::string_view to_string(LedgerBackend backend) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"sqlite", "postgres", "memory"};
  return kNames[static_cast<std::size_t>(backend)];
}

std::string_view to_string(SinkKind kind) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"slack", "webhook", "log"};
  return kNames[static_cast<std::size_t>(kind)];
}

}  // namespace spendwall::config
