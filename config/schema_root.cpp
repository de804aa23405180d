// The top level, the server, the ledger, alerts and prices.
#include <algorithm>
#include <array>

#include "config/schema.hpp"
#include "config/units.hpp"

namespace spendwall::config::detail {
namespace {

constexpr unsigned kConfigVersion = 1;

// --- server ---

constexpr std::array<Field<ServerSpec>, 10> kServerFields{{
    {.key = "listen", .read = set<&ServerSpec::listen, as_listen_address>},
    {.key = "admin_listen", .read = set<&ServerSpec::admin_listen, as_listen_address>},
    {.key = "admin_token", .read = set<&ServerSpec::admin_token, as_string>},
    {.key = "workers", .read = set<&ServerSpec::workers, as_integer<unsigned, 0, 4096>>},
    {.key = "max_request_bytes", .read = set<&ServerSpec::max_request_bytes, as_positive_size>},
    {.key = "max_header_bytes", .read = set<&ServerSpec::max_header_bytes, as_positive_size>},
    {.key = "header_timeout", .read = set<&ServerSpec::header_timeout, as_positive_duration>},
    {.key = "request_timeout", .read = set<&ServerSpec::request_timeout, as_positive_duration>},
    {.key = "idle_timeout", .read = set<&ServerSpec::idle_timeout, as_positive_duration>},
    {.key = "drain_timeout", .read = set<&ServerSpec::drain_timeout, as_duration>},
}};

bool is_wildcard_host(std::string_view host) { return host == "0.0.0.0" || host == "::"; }

bool read_server(const Value& value, Draft& draft) {
  ServerSpec& server = draft.snapshot.server;
  const auto keys = read_fields(value.described_as("server"), kServerFields, server);

  const auto* admin_listen = keys.find("admin_listen");
  if (admin_listen != nullptr && !admin_listen->valid) return false;
  const auto admin = parse_host_port(server.admin_listen);
  const auto data = parse_host_port(server.listen);
  const SourceMark admin_key = admin_listen ? admin_listen->key_mark : value.key_mark;
  const SourceMark admin_value = admin_listen ? admin_listen->value_mark : value.key_mark;

  // The admin API can reload the config and read every ledger record.
  const bool token_problem_reported = keys.has("admin_token") && !keys.valid("admin_token");
  if (admin && !is_loopback_host(admin->host) && server.admin_token.empty() &&
      !token_problem_reported) {
    value.reader.error(admin_key, "admin_listen " + server.admin_listen +
                                      " is reachable beyond loopback: set admin_token");
    return false;
  }
  if (admin && data && keys.valid("listen") && admin->port != 0 && admin->port == data->port &&
      (admin->host == data->host || is_wildcard_host(admin->host) ||
       is_wildcard_host(data->host))) {
    value.reader.error(admin_value,
                       "admin_listen uses the same address as listen (" + server.listen + ")");
    return false;
  }
  return true;
}

// --- ledger ---

std::string_view unless_postgres(const LedgerSpec& ledger) {
  return ledger.backend == LedgerBackend::postgres ? "" : "applies only to backend postgres";
}

std::string_view unless_local(const LedgerSpec& ledger) {
  return ledger.backend == LedgerBackend::postgres ? "does not apply to backend postgres" : "";
}

std::optional<std::string> as_postgres_url(const Value& value) {
  auto url = as_nonempty_string(value);
  if (url && !url->starts_with("postgres://") && !url->starts_with("postgresql://")) {
    value.error("expected a postgresql:// URL");
    return std::nullopt;
  }
  return url;
}

constexpr std::array<Field<LeaseSpec>, 3> kLeaseFields{{
    {.key = "fraction", .read = set<&LeaseSpec::fraction, as_fraction>},
    {.key = "min", .read = set<&LeaseSpec::min, as_usd>},
    {.key = "ttl", .read = set<&LeaseSpec::ttl, as_positive_duration>},
}};

bool read_lease(const Value& value, LedgerSpec& ledger) {
  const std::size_t errors = value.reader.error_count();
  read_fields(value.described_as("ledger lease"), kLeaseFields, ledger.lease);
  return value.reader.error_count() == errors;
}

constexpr std::array<Field<LedgerSpec>, 6> kLedgerFields{{
    {.key = "backend",
     .read = set<&LedgerSpec::backend, as_enum<LedgerBackend, 3>>,
     .read_first = true},
    {.key = "path",
     .read = set<&LedgerSpec::path, as_nonempty_string>,
     .inapplicable = unless_local},
    {.key = "url",
     .read = set<&LedgerSpec::url, as_postgres_url>,
     .required = true,
     .inapplicable = unless_postgres},
    {.key = "lease", .read = read_lease, .inapplicable = unless_postgres},
    {.key = "sync_interval", .read = set<&LedgerSpec::sync_interval, as_duration>},
    {.key = "retention", .read = set<&LedgerSpec::retention, as_positive_duration>},
}};

bool read_ledger(const Value& value, Draft& draft) {
  read_fields(value.described_as("ledger"), kLedgerFields, draft.snapshot.ledger);
  return true;
}

// --- alerts ---

std::string_view unless_http_sink(const SinkSpec& sink) {
  return sink.kind == SinkKind::log ? "does not apply to sinks of kind log" : "";
}

constexpr std::array<Field<SinkSpec>, 4> kSinkFields{{
    {.key = "name", .read = set<&SinkSpec::name, as_nonempty_string>, .required = true},
    {.key = "kind",
     .read = set<&SinkSpec::kind, as_enum<SinkKind, 3>>,
     .required = true,
     .read_first = true},
    {.key = "url",
     .read = set<&SinkSpec::url, as_http_url>,
     .required = true,
     .inapplicable = unless_http_sink},
    {.key = "headers",
     .read = set<&SinkSpec::headers, as_headers>,
     .inapplicable = unless_http_sink},
}};

bool read_sinks(const Value& value, AlertsSpec& alerts) {
  for (const auto& item : items(value)) {
    SinkSpec sink;
    const auto keys = read_fields(item.described_as("alert sink"), kSinkFields, sink);
    if (keys.valid("name")) {
      const auto same_name = [&](const SinkSpec& other) { return other.name == sink.name; };
      if (std::any_of(alerts.sinks.begin(), alerts.sinks.end(), same_name)) {
        value.reader.error(keys.find("name")->value_mark,
                           "name: another sink is already called '" + sink.name + "'");
      }
    }
    alerts.sinks.push_back(std::move(sink));
  }
  return true;
}

constexpr std::array<Field<SpikeSpec>, 4> kSpikeFields{{
    {.key = "window", .read = set<&SpikeSpec::window, as_positive_duration>},
    {.key = "baseline", .read = set<&SpikeSpec::baseline, as_positive_duration>},
    {.key = "factor", .read = set<&SpikeSpec::factor, as_at_least_one>},
    {.key = "min_spend", .read = set<&SpikeSpec::min_spend, as_usd>},
}};

bool read_spike(const Value& value, AlertsSpec& alerts) {
  SpikeSpec& spike = alerts.spike;
  const auto keys = read_fields(value.described_as("spike"), kSpikeFields, spike);
  const bool windows_valid = (!keys.has("window") || keys.valid("window")) &&
                             (!keys.has("baseline") || keys.valid("baseline"));
  if (windows_valid && spike.baseline <= spike.window) {
    const auto* baseline = keys.find("baseline");
    const auto* window = keys.find("window");
    value.reader.error(baseline ? baseline->value_mark
                       : window ? window->value_mark
                                : value.mark(),
                       "baseline: must be longer than the spike window");
    return false;
  }
  return true;
}

constexpr std::array<Field<FallbackSurgeSpec>, 3> kFallbackSurgeFields{{
    {.key = "window", .read = set<&FallbackSurgeSpec::window, as_positive_duration>},
    {.key = "ratio", .read = set<&FallbackSurgeSpec::ratio, as_fraction>},
    {.key = "min_requests",
     .read = set<&FallbackSurgeSpec::min_requests,
                 as_integer<std::uint64_t, 1, std::numeric_limits<std::uint64_t>::max()>>},
}};

bool read_fallback_surge(const Value& value, AlertsSpec& alerts) {
  read_fields(value.described_as("fallback_surge"), kFallbackSurgeFields, alerts.fallback_surge);
  return true;
}

/// Outcome names become the `outcome` label of metrics and the body of feedback calls.
bool read_outcomes(const Value& value, AlertsSpec& alerts) {
  std::vector<std::string> outcomes;
  bool valid = true;
  for (const auto& item : items(value)) {
    auto name = as_nonempty_string(item);
    if (!name) {
      valid = false;
    } else if (!std::all_of(name->begin(), name->end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
               })) {
      item.error("'" + *name + "' must use only lowercase letters, digits and '_'");
      valid = false;
    } else if (std::find(outcomes.begin(), outcomes.end(), *name) != outcomes.end()) {
      item.error("'" + *name + "' is listed twice");
      valid = false;
    } else {
      outcomes.push_back(std::move(*name));
    }
  }
  if (valid && outcomes.empty()) {
    value.error("list at least one outcome");
    return false;
  }
  alerts.outcomes = std::move(outcomes);
  return valid;
}

constexpr std::array<Field<AlertsSpec>, 4> kAlertsFields{{
    {.key = "sinks", .read = read_sinks},
    {.key = "spike", .read = read_spike},
    {.key = "fallback_surge", .read = read_fallback_surge},
    {.key = "outcomes", .read = read_outcomes},
}};

bool read_alerts(const Value& value, Draft& draft) {
  read_fields(value.described_as("alerts"), kAlertsFields, draft.snapshot.alerts);
  return true;
}

// --- prices ---

constexpr std::array<Field<Price>, 5> kPriceFields{{
    {.key = "input", .read = set<&Price::input, as_usd>, .required = true},
    {.key = "cached_input", .read = set<&Price::cached_input, as_usd>},
    {.key = "cache_write", .read = set<&Price::cache_write, as_usd>},
    {.key = "output", .read = set<&Price::output, as_usd>},
    {.key = "reasoning", .read = set<&Price::reasoning, as_usd>},
}};

bool read_includes(const Value& value, Draft& draft) {
  const auto list = items(value);
  bool valid = value.is_null() || value.node.IsSequence();
  for (const auto& item : list) {
    const auto path = as_nonempty_string(item);
    if (!path) {
      valid = false;
      continue;
    }
    IncludedPriceFile include{item.reader.resolve(*path), item.mark()};
    const auto same_file = [&](const IncludedPriceFile& other) {
      return other.path == include.path;
    };
    if (std::any_of(draft.includes.begin(), draft.includes.end(), same_file)) {
      item.error("'" + *path + "' is included twice");
      valid = false;
      continue;
    }
    draft.includes.push_back(std::move(include));
  }
  return valid;
}

bool read_version(const Value& value, Draft&) {
  const auto version = as_integer<unsigned, 0, std::numeric_limits<unsigned>::max()>(value);
  if (version && *version != kConfigVersion) {
    value.error("unsupported version " + std::to_string(*version) +
                " (this Spendwall reads version " + std::to_string(kConfigVersion) + ")");
    return false;
  }
  return version.has_value();
}

constexpr std::array<Field<Draft>, 9> kRootFields{{
    {.key = "version", .read = read_version, .required = true},
    {.key = "server", .read = read_server},
    {.key = "ledger", .read = read_ledger},
    {.key = "providers",
     .read =
         [](const Value& value, Draft& draft) {
           return draft.providers_complete = read_providers(value, draft.snapshot);
         },
     .required = true},
    {.key = "include_prices",
     .read =
         [](const Value& value, Draft& draft) {
           const bool valid = read_includes(value, draft);
           if (!valid) draft.prices_complete = false;
           return valid;
         }},
    {.key = "prices",
     .read =
         [](const Value& value, Draft& draft) {
           return draft.prices_complete = read_price_table(value, draft.prices);
         }},
    {.key = "routes",
     .read =
         [](const Value& value, Draft& draft) {
           return draft.routes_complete = read_routes(value, draft.snapshot);
         },
     .required = true},
    {.key = "workflows",
     .read = [](const Value& value, Draft& draft) { return read_workflows(value, draft.snapshot); },
     .required = true},
    {.key = "alerts", .read = read_alerts},
}};

bool read_as_of(const Value& value, PriceFileDraft& draft) {
  return assign(draft.spec.as_of, as_date(value));
}

bool read_source(const Value& value, PriceFileDraft& draft) {
  return assign(draft.spec.source, as_string(value));
}

bool read_file_prices(const Value& value, PriceFileDraft& draft) {
  return read_price_table(value, draft.prices);
}

constexpr std::array<Field<PriceFileDraft>, 3> kPriceFileFields{{
    {.key = "as_of", .read = read_as_of, .required = true},
    {.key = "source", .read = read_source},
    {.key = "prices", .read = read_file_prices, .required = true},
}};

}  // namespace

bool read_price_table(const Value& section, std::vector<PriceEntry>& prices) {
  if (!expect_mapping(section)) return false;
  for (const auto& entry : entries(section)) {
    const auto slash = entry.key.find('/');
    PriceEntry price;
    price.source_file = section.reader.file();
    price.mark = entry.key_mark;
    if (slash != std::string::npos) {
      price.provider = entry.key.substr(0, slash);
      price.model = entry.key.substr(slash + 1);
    }
    if (price.provider.empty() || price.model.empty()) {
      section.reader.error(entry.key_mark, "price key '" + entry.key + "' must be provider/model");
      continue;
    }
    const std::string owner = "price of " + entry.key;
    const auto keys =
        read_fields(section.child(entry).described_as(owner), kPriceFields, price.price);
    Price& usd = price.price;
    if (!keys.has("cached_input")) usd.cached_input = usd.input;
    if (!keys.has("cache_write")) usd.cache_write = usd.input;
    if (!keys.has("reasoning")) usd.reasoning = usd.output;
    prices.push_back(std::move(price));
  }
  return true;
}

void read_config(const Value& root, Draft& draft) {
  if (!root.is_null() && !root.node.IsMap()) {
    root.reader.error(root.mark(),
                      "a config is a mapping of sections (version, providers, routes, ...)");
    return;
  }
  read_fields(root, kRootFields, draft);
}

void read_price_file(const Value& root, PriceFileDraft& draft) {
  if (!root.is_null() && !root.node.IsMap()) {
    root.reader.error(root.mark(), "a price file is a mapping of as_of, source and prices");
    return;
  }
  read_fields(root, kPriceFileFields, draft);
}

}  // namespace spendwall::config::detail
