// Providers, routes and their cross-references, through the public loader.
#include "config/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace spendwall::config {
namespace {

using namespace std::chrono_literals;
using testing::ConfigDoc;
using ::testing::ElementsAre;
using testing::env_of;
using testing::error_at;
using testing::errors;
using testing::formatted;
using ::testing::IsEmpty;
using testing::key_hash;
using testing::load_doc;
using ::testing::SizeIs;
using testing::TempDir;
using testing::warning_at;
using testing::warnings;

ConfigSnapshot load_valid(const ConfigDoc& doc, const EnvLookup& env = env_of({}),
                          const std::string& directory = ".") {
  const auto result = load_doc(doc, env, directory);
  EXPECT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  return result.ok() ? *result.snapshot : ConfigSnapshot{};
}

// --- providers ---

TEST(Providers, HttpKindsNeedBaseUrlAndApiKey) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  openai: { kind: openai }
  anthropic:
    kind: anthropic
    base_url: https://api.anthropic.com
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(3), 3, "provider 'openai' is missing 'base_url'"),
                          error_at(doc.line(3), 3, "provider 'openai' is missing 'api_key'"),
                          error_at(doc.line(4), 3, "provider 'anthropic' is missing 'api_key'")));
}

TEST(Providers, AMissingOrUnknownKindIsTheOnlyError) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  local: { base_url: "http://localhost:11434/v1", latency: 5s }
  gemini: { kind: gemini, base_url: "ftp://nowhere", latency: 5s }
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(3), 3, "provider 'local' is missing 'kind'"),
                          error_at(doc.line(4), 19,
                                   "kind: 'gemini' is not one of openai, anthropic or simulated")));
}

TEST(Providers, KeysOfAnotherKind) {
  const ConfigDoc doc("providers", R"(
providers:
  sim:
    kind: simulated
    api_key: sk-123
  openai:
    kind: openai
    base_url: https://api.openai.com/v1
    api_key: sk-123
    anthropic_version: "2023-06-01"
    error_rate: 0.5
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(
          error_at(doc.line(4), 5, "'api_key' does not apply to providers of kind simulated"),
          error_at(doc.line(9), 5,
                   "'anthropic_version' applies only to providers of kind anthropic"),
          error_at(doc.line(10), 5, "'error_rate' applies only to providers of kind simulated")));
}

TEST(Providers, BaseUrlMustBeHttpOrHttps) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  a: { kind: openai, api_key: k, base_url: "ftp://api.example" }
  b: { kind: openai, api_key: k, base_url: "api.openai.com/v1" }
  c: { kind: openai, api_key: k, base_url: "https://" }
  d: { kind: openai, api_key: "", base_url: "https://api.example" }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 44,
                           "base_url: 'ftp://api.example' is not an http:// or https:// URL"),
                  error_at(doc.line(4), 44, "base_url: 'api.openai.com/v1' is not"),
                  error_at(doc.line(5), 44, "base_url: 'https://' is not"),
                  error_at(doc.line(6), 31, "api_key: must not be empty")));
}

TEST(Providers, ParsedValues) {
  const auto config = load_valid(ConfigDoc("providers", R"(
providers:
  sim:
    kind: simulated
    latency: 0ms
    tokens_per_second: 12.5
    error_rate: 1
    error_status: 503
    first_byte_timeout: 2s
  ollama:
    kind: openai
    base_url: "http://localhost:11434/v1/"
    api_key: unused
    headers: { X-B: "2", X-A: "1" }
    connect_timeout: 250ms
    max_connections: 8
    max_response_bytes: 1MiB
  anthropic:
    kind: anthropic
    base_url: https://api.anthropic.com
    api_key: k
)"));
  ASSERT_THAT(config.providers, SizeIs(3));
  const ProviderSpec& sim = config.providers[0];
  EXPECT_EQ(sim.kind, ProviderKind::simulated);
  EXPECT_EQ(sim.base_url, "");
  EXPECT_EQ(sim.latency, 0ms);
  EXPECT_EQ(sim.tokens_per_second, 12.5);
  EXPECT_EQ(sim.error_rate, 1.0);
  EXPECT_EQ(sim.error_status, 503u);
  EXPECT_EQ(sim.first_byte_timeout, 2s);
  const ProviderSpec& ollama = config.providers[1];
  EXPECT_EQ(ollama.base_url, "http://localhost:11434/v1");  // no trailing slash to double up
  EXPECT_THAT(ollama.headers, ElementsAre(std::pair<std::string, std::string>("X-B", "2"),
                                          std::pair<std::string, std::string>("X-A", "1")));
  EXPECT_EQ(ollama.connect_timeout, 250ms);
  EXPECT_EQ(ollama.max_connections, 8u);
  EXPECT_EQ(ollama.max_response_bytes, 1u << 20);
  EXPECT_EQ(config.providers[2].anthropic_version, "2023-06-01");  // the default
}

TEST(Providers, SimulatedValueRanges) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated, error_rate: 1.5, error_status: 200, tokens_per_second: 0, latency: -1s }
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 39, "error_rate: must be in [0, 1]"),
                          error_at(doc.line(2), 58, "error_status: must be between 400 and 599"),
                          error_at(doc.line(2), 82, "tokens_per_second: must be greater than 0"),
                          error_at(doc.line(2), 94, "latency: '-1s' is not a duration")));
}

TEST(Providers, CaFileResolvesAgainstTheConfigFolder) {
  TempDir dir;
  dir.write("certs/internal-ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  gateway: { kind: openai, base_url: "https://gw.internal", api_key: k, ca_file: certs/internal-ca.pem }
  other: { kind: openai, base_url: "https://other.internal", api_key: k, ca_file: certs/missing.pem }
)");
  const auto result = load_doc(doc, env_of({}), dir.path());
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(doc.line(4), 83,
                                   "ca_file: file 'certs/missing.pem' not found (looked for '" +
                                       dir.path() + "/certs/missing.pem')")));

  const ConfigDoc valid("providers", R"(
providers:
  sim: { kind: simulated }
  gateway: { kind: openai, base_url: "https://gw.internal", api_key: k, ca_file: certs/internal-ca.pem }
)");
  const auto config = load_valid(valid, env_of({}), dir.path());
  EXPECT_EQ(config.find_provider("gateway")->ca_file, dir.path() + "/certs/internal-ca.pem");
}

TEST(Providers, NamesAndLimits) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  open/ai: { kind: simulated }
  "my sim": { kind: simulated }
  capped: { kind: simulated, max_connections: 0, max_response_bytes: 0 }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 3, "provider name 'open/ai' must not contain '/'"),
                  error_at(doc.line(4), 3, "provider name 'my sim' must not contain spaces"),
                  error_at(doc.line(5), 47, "max_connections: must be between 1 and 65535"),
                  error_at(doc.line(5), 70, "max_response_bytes: must be more than 0 bytes")));
}

TEST(Providers, AProviderNoRouteUsesIsAWarning) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  spare: { kind: simulated }
)");
  const auto result = load_doc(doc);
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(warnings(result),
              ElementsAre(warning_at(doc.line(3), 3, "provider 'spare' is not used by any route")));
}

TEST(Providers, APricedProviderReachableThroughStarIsUsed) {
  const ConfigDoc doc({"providers", "prices", "workflows"}, R"(
providers:
  sim: { kind: simulated }
  priced: { kind: simulated }
  unpriced: { kind: simulated }
prices:
  sim/small: { input: 0.15 }
  sim/large: { input: 3 }
  priced/model: { input: 1 }
workflows:
  app:
    owner: team
    keys: [ ")" + key_hash(1) + R"(" ]
    routes: ["*"]
    budget: { daily: 1 }
)");
  // A workflow allowed "*" may name priced/model directly.
  const auto result = load_doc(doc);
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(
      warnings(result),
      ElementsAre(warning_at(doc.line(4), 3, "provider 'unpriced' is not used by any route")));
}

// --- routes ---

TEST(Routes, ATargetNamesADefinedProvider) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large }, { provider: ghost, model: large } ]
    fallbacks: [ { provider: phantom, model: small } ]
)");
  // One problem, one error: an undefined provider is not also reported as unpriced.
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 61, "provider: 'ghost' is not defined under providers"),
                  error_at(doc.line(4), 30, "provider: 'phantom' is not defined under providers")));
}

TEST(Routes, ATargetHasAPrice) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: huge } ]
    fallbacks:
      - provider: sim
        model: tiny
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 40, "model: no price for sim/huge (add it under prices)"),
                  error_at(doc.line(6), 16, "model: no price for sim/tiny")));
}

TEST(Routes, ProvidersAndPricesMayComeAfterTheirUse) {
  const std::string text = R"(version: 1
routes:
  early:
    targets: [ { provider: late, model: model } ]
    fallbacks: [ { provider: sim, model: small } ]
workflows:
  app: { owner: team, keys: [ ")" +
                           key_hash(1) + R"(" ], routes: [early], budget: { daily: 1 } }
providers:
  sim: { kind: simulated }
  late: { kind: simulated }
prices:
  sim/small: { input: 0.15 }
  late/model: { input: 1 }
)";
  const auto result = testing::load_text(text);
  EXPECT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_THAT(result.diagnostics, IsEmpty());
}

TEST(Routes, WeightsArePositive) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets:
      - { provider: sim, model: large, weight: 0 }
      - { provider: sim, model: small, weight: -2 }
    fallbacks: [ { provider: sim, model: small } ]
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(4), 48, "weight: must be between 1 and 1000000"),
                          error_at(doc.line(5), 48, "weight: expected a whole number, got '-2'")));

  const auto config = load_valid(ConfigDoc());
  ASSERT_THAT(config.routes, SizeIs(2));
  EXPECT_EQ(config.routes[0].targets.at(0).weight, 1u);
}

TEST(Routes, ARouteHasAtLeastOneTarget) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: []
    fallbacks: [ { provider: sim, model: small } ]
  cheap:
    fallbacks: [ { provider: sim, model: small } ]
  bare:
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 14, "targets: route 'chat' needs at least one target"),
                  error_at(doc.line(5), 3, "route 'cheap' is missing 'targets'"),
                  error_at(doc.line(7), 3, "route 'bare' is missing 'targets'")));
}

TEST(Routes, FallbacksAreOrderedAndCarryNoWeight) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small, weight: 2 } ]
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(4), 49,
                                   "unknown key 'weight' in fallback of route 'chat' (expected one "
                                   "of: provider, model)")));
}

TEST(Routes, FallbackOnTakesTheFallbackClasses) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
    fallback_on: [timeout, client_error, timeout, rate-limited]
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(5), 28,
                                   "fallback_on: 'client_error' is not one of rate_limited, "
                                   "server_error, timeout, connect_error or context_length"),
                          error_at(doc.line(5), 42, "fallback_on: 'timeout' is listed twice"),
                          error_at(doc.line(5), 51, "fallback_on: 'rate-limited' is not one of")));

  const auto config = load_valid(ConfigDoc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
    fallback_on: [connect_error, context_length]
  cheap:
    targets: [ { provider: sim, model: small } ]
    fallbacks: [ { provider: sim, model: large } ]
    fallback_on: []
)"));
  ASSERT_THAT(config.routes, SizeIs(2));
  EXPECT_THAT(config.routes[0].fallback_on,
              ElementsAre(FailureClass::connect_error, FailureClass::context_length));
  EXPECT_THAT(config.routes[1].fallback_on, IsEmpty());
}

TEST(Routes, RetryAndReservationSettings) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
    retries: 11
    max_retry_wait: soon
    cooldown_after: 0
    default_max_output_tokens: 0
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(5), 14, "retries: must be between 0 and 10"),
                  error_at(doc.line(6), 21, "max_retry_wait: 'soon' is not a duration"),
                  error_at(doc.line(7), 21, "cooldown_after: must be between 1 and"),
                  error_at(doc.line(8), 32, "default_max_output_tokens: must be between 1")));

  const ConfigDoc valid("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
    retries: 0
    max_retry_wait: 0s
    cooldown: 1m
    cooldown_after: 5
    default_max_output_tokens: 4096
    default_image_tokens: 0
)");
  const auto config = load_valid(valid);
  ASSERT_THAT(config.routes, SizeIs(1));
  const RouteSpec& chat = config.routes[0];
  EXPECT_EQ(chat.retries, 0u);
  EXPECT_EQ(chat.max_retry_wait, 0s);
  EXPECT_EQ(chat.cooldown, 1min);
  EXPECT_EQ(chat.cooldown_after, 5u);
  EXPECT_EQ(chat.default_max_output_tokens, 4096u);
  EXPECT_EQ(chat.default_image_tokens, 0u);
  EXPECT_EQ(chat.mark.line, valid.line(2));
  EXPECT_EQ(chat.mark.column, 3);
}

TEST(Routes, NamesCannotLookLikeProviderModelOrStar) {
  const ConfigDoc doc("routes", R"(
routes:
  openai/gpt-4o:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
  "*":
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 3, "route name 'openai/gpt-4o' must not contain '/'"),
                  error_at(doc.line(5), 3, "route name '*' must not contain '*'")));
}

TEST(Routes, ARouteWithoutFallbacksIsAWarning) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
  cheap:
    targets: [ { provider: sim, model: small } ]
    fallbacks: []
)");
  const auto result = load_doc(doc);
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(warnings(result),
              ElementsAre(warning_at(doc.line(2), 3, "route 'chat' has no fallbacks"),
                          warning_at(doc.line(4), 3, "route 'cheap' has no fallbacks")));
}

TEST(Routes, ABrokenSectionIsOneError) {
  const ConfigDoc doc("routes", R"(
routes: [chat, cheap]
)");
  // The workflow's routes cannot be checked against a section that could not be read.
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(1), 9, "routes: expected a mapping, got a list")));
}

}  // namespace
}  // namespace spendwall::config
