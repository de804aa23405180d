// Providers, routes and their targets.
#include <algorithm>
#include <array>

#include "config/schema.hpp"

namespace spendwall::config::detail {
namespace {

// --- providers ---

std::string_view unless_http(const ProviderSpec& provider) {
  return provider.kind == ProviderKind::simulated ? "does not apply to providers of kind simulated"
                                                  : "";
}

std::string_view unless_anthropic(const ProviderSpec& provider) {
  return provider.kind == ProviderKind::anthropic ? ""
                                                  : "applies only to providers of kind anthropic";
}

std::string_view unless_simulated(const ProviderSpec& provider) {
  return provider.kind == ProviderKind::simulated ? ""
                                                  : "applies only to providers of kind simulated";
}

/// Paths are appended to the base URL, so a trailing slash would double up.
std::optional<std::string> as_base_url(const Value& value) {
  auto url = as_http_url(value);
  if (url) {
    while (url->ends_with('/')) url->pop_back();
  }
  return url;
}

constexpr std::array<Field<ProviderSpec>, 14> kProviderFields{{
    {.key = "kind",
     .read = set<&ProviderSpec::kind, as_enum<ProviderKind, 3>>,
     .required = true,
     .read_first = true},
    {.key = "base_url",
     .read = set<&ProviderSpec::base_url, as_base_url>,
     .required = true,
     .inapplicable = unless_http},
    {.key = "api_key",
     .read = set<&ProviderSpec::api_key, as_nonempty_string>,
     .required = true,
     .inapplicable = unless_http},
    {.key = "headers",
     .read = set<&ProviderSpec::headers, as_headers>,
     .inapplicable = unless_http},
    {.key = "anthropic_version",
     .read = set<&ProviderSpec::anthropic_version, as_nonempty_string>,
     .inapplicable = unless_anthropic},
    {.key = "ca_file",
     .read = set<&ProviderSpec::ca_file, as_existing_file>,
     .inapplicable = unless_http},
    {.key = "connect_timeout", .read = set<&ProviderSpec::connect_timeout, as_positive_duration>},
    {.key = "first_byte_timeout",
     .read = set<&ProviderSpec::first_byte_timeout, as_positive_duration>},
    {.key = "max_connections",
     .read = set<&ProviderSpec::max_connections, as_integer<unsigned, 1, 65535>>},
    {.key = "max_response_bytes", .read = set<&ProviderSpec::max_response_bytes, as_positive_size>},
    {.key = "latency",
     .read = set<&ProviderSpec::latency, as_duration>,
     .inapplicable = unless_simulated},
    {.key = "tokens_per_second",
     .read = set<&ProviderSpec::tokens_per_second, as_positive_number>,
     .inapplicable = unless_simulated},
    {.key = "error_rate",
     .read = set<&ProviderSpec::error_rate, as_probability>,
     .inapplicable = unless_simulated},
    {.key = "error_status",
     .read = set<&ProviderSpec::error_status, as_integer<unsigned, 400, 599>>,
     .inapplicable = unless_simulated},
}};

// --- routes ---

/// A fallback is tried in list order, so only targets carry a weight.
constexpr std::array<Field<TargetSpec>, 3> kTargetFields{{
    {.key = "provider", .read = set<&TargetSpec::provider, as_nonempty_string>, .required = true},
    {.key = "model", .read = set<&TargetSpec::model, as_nonempty_string>, .required = true},
    {.key = "weight", .read = set<&TargetSpec::weight, as_integer<unsigned, 1, 1'000'000>>},
}};
constexpr std::span<const Field<TargetSpec>> kFallbackFields = std::span(kTargetFields).first(2);

/// Provider and price are checked once every section is read: both may come later.
void check_target_references(Reader& reader, const TargetSpec& target, const PresentKeys& keys) {
  if (!keys.valid("provider") || !keys.valid("model")) return;
  reader.check_when_complete(
      [provider = target.provider, model = target.model,
       provider_mark = keys.find("provider")->value_mark,
       model_mark = keys.find("model")->value_mark](Reader& r, const WholeConfig& whole) {
        if (!whole.config.find_provider(provider)) {
          if (whole.providers_complete) {
            r.error(provider_mark, "provider: '" + provider + "' is not defined under providers");
          }
        } else if (whole.prices_complete && !whole.config.find_price(provider, model)) {
          r.error(model_mark,
                  "model: no price for " + provider + "/" + model + " (add it under prices)");
        }
      });
}

bool read_target_list(const Value& list, std::vector<TargetSpec>& targets,
                      std::span<const Field<TargetSpec>> fields, std::string_view what) {
  const std::size_t errors = list.reader.error_count();
  const std::string owner = std::string(what) + " of " + std::string(list.owner);
  for (const auto& item : items(list)) {
    TargetSpec target;
    target.mark = item.mark();
    const auto keys = read_fields(item.described_as(owner), fields, target);
    check_target_references(list.reader, target, keys);
    targets.push_back(std::move(target));
  }
  return list.reader.error_count() == errors;
}

bool read_targets(const Value& value, RouteSpec& route) {
  if (!read_target_list(value, route.targets, kTargetFields, "target")) return false;
  if (route.targets.empty()) {
    value.error(std::string(value.owner) + " needs at least one target");
    return false;
  }
  return true;
}

bool read_fallbacks(const Value& value, RouteSpec& route) {
  return read_target_list(value, route.fallbacks, kFallbackFields, "fallback");
}

/// Every class but client_error: a request the provider rejects as malformed would be
/// rejected by any other provider too.
constexpr std::size_t kFallbackClassCount = kFailureClassCount - 1;
static_assert(static_cast<std::size_t>(FailureClass::client_error) == kFallbackClassCount);

bool read_fallback_on(const Value& value, RouteSpec& route) {
  std::vector<FailureClass> classes;
  bool valid = true;
  for (const auto& item : items(value)) {
    const auto cls = as_enum<FailureClass, kFallbackClassCount>(item);
    if (!cls) {
      valid = false;
    } else if (std::find(classes.begin(), classes.end(), *cls) != classes.end()) {
      item.error("'" + std::string(to_string(*cls)) + "' is listed twice");
      valid = false;
    } else {
      classes.push_back(*cls);
    }
  }
  route.fallback_on = std::move(classes);
  return valid;
}

constexpr std::array<Field<RouteSpec>, 9> kRouteFields{{
    {.key = "targets", .read = read_targets, .required = true},
    {.key = "fallbacks", .read = read_fallbacks},
    {.key = "fallback_on", .read = read_fallback_on},
    {.key = "retries", .read = set<&RouteSpec::retries, as_integer<unsigned, 0, 10>>},
    {.key = "max_retry_wait", .read = set<&RouteSpec::max_retry_wait, as_duration>},
    {.key = "cooldown", .read = set<&RouteSpec::cooldown, as_duration>},
    {.key = "cooldown_after",
     .read = set<&RouteSpec::cooldown_after, as_integer<unsigned, 1, 1'000'000>>},
    {.key = "default_max_output_tokens",
     .read = set<&RouteSpec::default_max_output_tokens,
                 as_integer<std::uint64_t, 1, std::numeric_limits<std::uint32_t>::max()>>},
    {.key = "default_image_tokens",
     .read = set<&RouteSpec::default_image_tokens,
                 as_integer<std::uint64_t, 0, std::numeric_limits<std::uint32_t>::max()>>},
}};

}  // namespace

bool read_providers(const Value& section, ConfigSnapshot& config) {
  if (!expect_mapping(section)) return false;
  for (const auto& entry : entries(section)) {
    check_name(section.reader, entry, "provider");
    ProviderSpec provider;
    provider.name = entry.key;
    provider.mark = entry.key_mark;
    const std::string owner = "provider '" + entry.key + "'";
    read_fields(section.child(entry).described_as(owner), kProviderFields, provider);
    config.providers.push_back(std::move(provider));
  }
  return true;
}

bool read_routes(const Value& section, ConfigSnapshot& config) {
  if (!expect_mapping(section)) return false;
  for (const auto& entry : entries(section)) {
    check_name(section.reader, entry, "route");
    RouteSpec route;
    route.name = entry.key;
    route.mark = entry.key_mark;
    const std::string owner = "route '" + entry.key + "'";
    const auto keys = read_fields(section.child(entry).described_as(owner), kRouteFields, route);
    const bool fallbacks_readable = !keys.has("fallbacks") || keys.valid("fallbacks");
    if (keys.valid("targets") && fallbacks_readable && route.fallbacks.empty()) {
      section.reader.warning(entry.key_mark,
                             owner + " has no fallbacks: when its targets fail, its requests fail");
    }
    config.routes.push_back(std::move(route));
  }
  return true;
}

void warn_unused_providers(Reader& reader, const ConfigSnapshot& config) {
  const auto routed = [&](const ProviderSpec& provider) {
    const auto names_it = [&](const TargetSpec& target) {
      return target.provider == provider.name;
    };
    return std::any_of(config.routes.begin(), config.routes.end(), [&](const RouteSpec& route) {
      return std::any_of(route.targets.begin(), route.targets.end(), names_it) ||
             std::any_of(route.fallbacks.begin(), route.fallbacks.end(), names_it);
    });
  };
  // A workflow allowed "*" may name any priced provider/model directly.
  const bool any_direct_access = std::any_of(config.workflows.begin(), config.workflows.end(),
                                             [](const WorkflowPolicy& w) { return w.all_routes; });
  const auto priced = [&](const ProviderSpec& provider) {
    return std::any_of(config.prices.begin(), config.prices.end(),
                       [&](const PriceEntry& price) { return price.provider == provider.name; });
  };
  for (const auto& provider : config.providers) {
    if (routed(provider) || (any_direct_access && priced(provider))) continue;
    reader.warning(provider.mark, "provider '" + provider.name + "' is not used by any route");
  }
}

}  // namespace spendwall::config::detail
