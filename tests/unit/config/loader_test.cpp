#include "config/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/quickstart.hpp"
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
using testing::load_text;
using ::testing::SizeIs;
using testing::TempDir;
using testing::warning_at;
using testing::warnings;

const std::string kDataDir = std::string(SPENDWALL_TEST_DATA_DIR) + "/config";

EnvLookup full_example_env() {
  return env_of({{"SPENDWALL_ADMIN_TOKEN", "admin-secret"},
                 {"OPENAI_API_KEY", "sk-openai"},
                 {"ANTHROPIC_API_KEY", "sk-ant"},
                 {"SLACK_WEBHOOK_URL", "https://hooks.slack.example/T000/B000"},
                 {"FINOPS_TOKEN", "finops-secret"}});
}

std::string hex(const std::array<unsigned char, 32>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (unsigned char byte : bytes) {
    text += kHex[byte >> 4];
    text += kHex[byte & 0xf];
  }
  return text;
}

// --- The shipped configs ---

TEST(Quickstart, LoadsWithoutErrorsOrWarnings) {
  const auto result =
      load_config_text(quickstart_yaml(), "quickstart.yaml", "/srv/spendwall", env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_THAT(result.diagnostics, IsEmpty());

  const ConfigSnapshot& config = *result.snapshot;
  EXPECT_EQ(config.file, "quickstart.yaml");
  EXPECT_EQ(config.directory, "/srv/spendwall");
  EXPECT_EQ(config.ledger.path, "/srv/spendwall/spendwall-quickstart.db");
  ASSERT_THAT(config.providers, SizeIs(1));
  EXPECT_EQ(config.providers[0].kind, ProviderKind::simulated);
  ASSERT_THAT(config.workflows, SizeIs(2));
  // The demo keys the quickstart's comment hands out.
  EXPECT_EQ(
      hex(config.workflows[0].key_hashes.at(0)),
      "6baaa7657c50253f8c92e07ff3841f486f1b12034c58cd8a0a20ba42e73a8091");  // sw-demo-key-support
  EXPECT_EQ(
      hex(config.workflows[1].key_hashes.at(0)),
      "5d59e539547b77ec2078f8304dcc0bf088d0753c8adf6e86f29e299c7b0bf6d0");  // sw-demo-key-research
  EXPECT_TRUE(config.workflows[1].all_routes);
  EXPECT_THAT(config.workflows[1].routes, IsEmpty());
}

TEST(ShippedPriceTables, LoadCleanAndPriceEveryKindExactly) {
  const std::string prices_dir = std::string(SPENDWALL_TEST_DATA_DIR) + "/../../config/prices";
  const std::string yaml = R"(version: 1
ledger: { backend: memory }
providers:
  openai: { kind: openai, base_url: "https://api.openai.com/v1", api_key: k }
  anthropic: { kind: anthropic, base_url: "https://api.anthropic.com", api_key: k }
include_prices: [openai.yaml, anthropic.yaml]
routes:
  chat:
    targets: [ { provider: openai, model: gpt-4o } ]
    fallbacks: [ { provider: anthropic, model: claude-sonnet-4-5 } ]
workflows:
  w:
    owner: platform
    keys: [ "sha256:6baaa7657c50253f8c92e07ff3841f486f1b12034c58cd8a0a20ba42e73a8091" ]
    routes: [chat]
    budget: { daily: 10 }
)";
  const auto result = load_config_text(yaml, "prices.yaml", prices_dir, env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_THAT(result.diagnostics, IsEmpty());
  const Price* gpt4o = result.snapshot->find_price("openai", "gpt-4o");
  ASSERT_NE(gpt4o, nullptr);
  EXPECT_EQ(gpt4o->input, 2'500'000'000);
  EXPECT_EQ(gpt4o->cached_input, 1'250'000'000);
  EXPECT_EQ(gpt4o->reasoning, gpt4o->output) << "reasoning defaults to the output price";
  const Price* sonnet = result.snapshot->find_price("anthropic", "claude-sonnet-4-5");
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->cached_input, 300'000'000);
  EXPECT_EQ(sonnet->cache_write, 3'750'000'000);
  EXPECT_EQ(result.snapshot->price_files.size(), 2u);
}

TEST(FullExample, LoadsWithTheTwoWarningsItEarns) {
  const auto result = load_config_file(kDataDir + "/full_example.yaml", full_example_env());
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  const std::string file = kDataDir + "/full_example.yaml";
  EXPECT_THAT(warnings(result),
              ElementsAre(warning_at(44, 3, "provider 'sim' is not used by any route", file),
                          warning_at(79, 3, "route 'chat-cheap' has no fallbacks", file)));
}

TEST(FullExample, ParsesEverySection) {
  const auto result = load_config_file(kDataDir + "/full_example.yaml", full_example_env());
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  const ConfigSnapshot& config = *result.snapshot;

  EXPECT_EQ(config.directory, kDataDir);
  EXPECT_THAT(config.content_digest, SizeIs(64));

  const ServerSpec& server = config.server;
  EXPECT_EQ(server.listen, "0.0.0.0:8080");
  EXPECT_EQ(server.admin_listen, "127.0.0.1:9090");
  EXPECT_EQ(server.admin_token, "admin-secret");
  EXPECT_EQ(server.workers, 0u);
  EXPECT_EQ(server.max_request_bytes, 8u << 20);
  EXPECT_EQ(server.max_header_bytes, 64u << 10);
  EXPECT_EQ(server.header_timeout, 10s);
  EXPECT_EQ(server.request_timeout, 600s);
  EXPECT_EQ(server.idle_timeout, 75s);
  EXPECT_EQ(server.drain_timeout, 30s);

  EXPECT_EQ(config.ledger.backend, LedgerBackend::sqlite);
  EXPECT_EQ(config.ledger.path, kDataDir + "/spendwall.db");
  EXPECT_EQ(config.ledger.sync_interval, 1s);
  EXPECT_EQ(config.ledger.retention, 24h * 90);

  ASSERT_THAT(config.providers, SizeIs(4));
  const ProviderSpec* openai = config.find_provider("openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->kind, ProviderKind::openai);
  EXPECT_EQ(openai->base_url, "https://api.openai.com/v1");
  EXPECT_EQ(openai->api_key, "sk-openai");
  EXPECT_THAT(openai->headers,
              ElementsAre(std::pair<std::string, std::string>("OpenAI-Organization", "org-123")));
  EXPECT_EQ(openai->connect_timeout, 5s);
  EXPECT_EQ(openai->first_byte_timeout, 60s);
  EXPECT_EQ(openai->max_connections, 512u);
  EXPECT_EQ(openai->max_response_bytes, 64u << 20);
  EXPECT_EQ(openai->mark.line, 26);
  EXPECT_EQ(openai->mark.column, 3);
  const ProviderSpec* anthropic = config.find_provider("anthropic");
  ASSERT_NE(anthropic, nullptr);
  EXPECT_EQ(anthropic->kind, ProviderKind::anthropic);
  EXPECT_EQ(anthropic->api_key, "sk-ant");
  EXPECT_EQ(anthropic->anthropic_version, "2023-06-01");
  const ProviderSpec* sim = config.find_provider("sim");
  ASSERT_NE(sim, nullptr);
  EXPECT_EQ(sim->kind, ProviderKind::simulated);
  EXPECT_EQ(sim->latency, 150ms);
  EXPECT_EQ(sim->tokens_per_second, 80.0);
  EXPECT_EQ(sim->error_rate, 0.0);
  EXPECT_EQ(sim->error_status, 429u);

  ASSERT_THAT(config.price_files, SizeIs(2));
  EXPECT_EQ(config.price_files[0].path, kDataDir + "/prices/openai.yaml");
  EXPECT_EQ(config.price_files[0].as_of, std::chrono::sys_days{std::chrono::year{2026} / 11 / 1});
  EXPECT_EQ(config.price_files[0].source, "provider pricing pages");
  EXPECT_EQ(config.price_files[1].path, kDataDir + "/prices/anthropic.yaml");

  const Price* gpt4o = config.find_price("openai", "gpt-4o");
  ASSERT_NE(gpt4o, nullptr);
  EXPECT_EQ(gpt4o->input, 2'500'000'000);
  EXPECT_EQ(gpt4o->cached_input, 1'250'000'000);
  EXPECT_EQ(gpt4o->cache_write, 2'500'000'000);  // defaults to input
  EXPECT_EQ(gpt4o->output, 10'000'000'000);
  EXPECT_EQ(gpt4o->reasoning, 10'000'000'000);  // defaults to output
  const Price* eu = config.find_price("openai-eu", "gpt-4o");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->cached_input, 1'375'000'000);
  const Price* mini = config.find_price("openai", "gpt-4o-mini");
  ASSERT_NE(mini, nullptr);
  EXPECT_EQ(mini->cached_input, 75'000'000);
  // The main file overrides the included 0.01.
  const Price* embedding = config.find_price("openai", "text-embedding-3-small");
  ASSERT_NE(embedding, nullptr);
  EXPECT_EQ(embedding->input, 20'000'000);
  EXPECT_EQ(embedding->output, 0);
  // Only in an included file.
  const Price* o3 = config.find_price("openai", "o3");
  ASSERT_NE(o3, nullptr);
  EXPECT_EQ(o3->reasoning, 8'000'000'000);
  const Price* sonnet = config.find_price("anthropic", "claude-sonnet-4-5");
  ASSERT_NE(sonnet, nullptr);
  EXPECT_EQ(sonnet->cache_write, 3'750'000'000);
  EXPECT_EQ(config.prices.front().source_file, kDataDir + "/prices/openai.yaml");
  EXPECT_EQ(config.prices.back().source_file, kDataDir + "/full_example.yaml");

  const RouteSpec* chat = config.find_route("chat");
  ASSERT_NE(chat, nullptr);
  ASSERT_THAT(chat->targets, SizeIs(2));
  EXPECT_EQ(chat->targets[0].provider, "openai");
  EXPECT_EQ(chat->targets[0].model, "gpt-4o");
  EXPECT_EQ(chat->targets[0].weight, 3u);
  EXPECT_EQ(chat->targets[1].provider, "openai-eu");
  EXPECT_EQ(chat->targets[1].weight, 1u);
  ASSERT_THAT(chat->fallbacks, SizeIs(1));
  EXPECT_EQ(chat->fallbacks[0].provider, "anthropic");
  EXPECT_EQ(chat->fallbacks[0].model, "claude-sonnet-4-5");
  EXPECT_THAT(chat->fallback_on, ElementsAre(FailureClass::rate_limited, FailureClass::server_error,
                                             FailureClass::timeout, FailureClass::connect_error,
                                             FailureClass::context_length));
  EXPECT_EQ(chat->retries, 1u);
  EXPECT_EQ(chat->max_retry_wait, 2s);
  EXPECT_EQ(chat->cooldown, 30s);
  EXPECT_EQ(chat->cooldown_after, 3u);
  EXPECT_EQ(chat->default_max_output_tokens, 1024u);
  EXPECT_EQ(chat->default_image_tokens, 1500u);
  const RouteSpec* cheap = config.find_route("chat-cheap");
  ASSERT_NE(cheap, nullptr);
  EXPECT_THAT(cheap->fallbacks, IsEmpty());

  const WorkflowPolicy* support = config.find_workflow("support-assistant");
  ASSERT_NE(support, nullptr);
  EXPECT_EQ(support->owner, "support-platform");
  EXPECT_EQ(support->contact, "#support-platform");
  ASSERT_THAT(support->key_hashes, SizeIs(1));
  EXPECT_EQ(hex(support->key_hashes[0]),
            "035717c97a5e049bad15694bdcc5ae4fe31b2439f710d0c6c78b6abb3da7253d");
  EXPECT_THAT(support->routes, ElementsAre("chat", "chat-cheap"));
  EXPECT_FALSE(support->all_routes);
  ASSERT_TRUE(support->budget.has_value());
  const BudgetSpec& budget = *support->budget;
  EXPECT_EQ(budget.daily, 200 * kNanoPerUsd);
  EXPECT_EQ(budget.monthly, 4000 * kNanoPerUsd);
  EXPECT_EQ(budget.timezone, "Europe/Berlin");
  EXPECT_THAT(budget.alert_at, ElementsAre(0.5, 0.8, 1.0));
  EXPECT_EQ(budget.on_exceeded, OnExceeded::downgrade);
  EXPECT_EQ(budget.downgrade_to, "chat-cheap");
  EXPECT_EQ(budget.ceiling, 1.25);
  EXPECT_EQ(budget.session_cap, 2 * kNanoPerUsd);
  ASSERT_THAT(support->overrides, SizeIs(1));
  const OverrideSpec& launch = support->overrides[0];
  EXPECT_EQ(launch.name, "holiday-launch");
  EXPECT_EQ(launch.from, std::chrono::sys_days{std::chrono::year{2026} / 12 / 1});
  EXPECT_EQ(launch.until, std::chrono::sys_days{std::chrono::year{2026} / 12 / 8});
  EXPECT_EQ(launch.daily, 600 * kNanoPerUsd);
  EXPECT_EQ(launch.monthly, std::nullopt);
  EXPECT_EQ(launch.reason, "Holiday launch traffic");
  EXPECT_EQ(launch.approved_by, "vp-platform");
  EXPECT_EQ(support->decisions.threshold, "Owner confirms the movement is expected within 4h.");
  EXPECT_EQ(support->decisions.fallback_surge,
            "Check provider status; move weight away from the failing target.");
  EXPECT_EQ(support->review, "weekly");

  const AlertsSpec& alerts = config.alerts;
  ASSERT_THAT(alerts.sinks, SizeIs(3));
  EXPECT_EQ(alerts.sinks[0].name, "platform-slack");
  EXPECT_EQ(alerts.sinks[0].kind, SinkKind::slack);
  EXPECT_EQ(alerts.sinks[0].url, "https://hooks.slack.example/T000/B000");
  EXPECT_EQ(alerts.sinks[1].kind, SinkKind::webhook);
  EXPECT_THAT(alerts.sinks[1].headers,
              ElementsAre(std::pair<std::string, std::string>("X-Token", "finops-secret")));
  EXPECT_EQ(alerts.sinks[2].kind, SinkKind::log);
  EXPECT_EQ(alerts.sinks[2].url, "");
  EXPECT_EQ(alerts.spike.window, 1h);
  EXPECT_EQ(alerts.spike.baseline, 24h * 7);
  EXPECT_EQ(alerts.spike.factor, 3.0);
  EXPECT_EQ(alerts.spike.min_spend, 5 * kNanoPerUsd);
  EXPECT_EQ(alerts.fallback_surge.window, 10min);
  EXPECT_EQ(alerts.fallback_surge.ratio, 0.2);
  EXPECT_EQ(alerts.fallback_surge.min_requests, 50u);
  EXPECT_THAT(alerts.outcomes, ElementsAre("accepted", "rejected", "retried", "abandoned"));
}

TEST(FullExample, NamesEveryUnsetVariableAtItsValue) {
  const auto result = load_config_file(kDataDir + "/full_example.yaml", env_of({}));
  EXPECT_FALSE(result.ok());
  const std::string file = kDataDir + "/full_example.yaml";
  EXPECT_THAT(
      errors(result),
      ElementsAre(
          error_at(8, 16, "environment variable SPENDWALL_ADMIN_TOKEN is not set", file),
          error_at(29, 14, "OPENAI_API_KEY", file), error_at(38, 14, "OPENAI_API_KEY", file),
          error_at(42, 14, "ANTHROPIC_API_KEY", file), error_at(113, 49, "SLACK_WEBHOOK_URL", file),
          error_at(114, 106, "FINOPS_TOKEN", file)));
}

// --- ${VAR} substitution ---

TEST(EnvSubstitution, ReplacesEveryReferenceInAScalar) {
  const ConfigDoc doc("providers", R"(
providers:
  sim: { kind: simulated }
  openai:
    kind: openai
    base_url: "https://${HOST}/v1"
    api_key: "${KEY_PREFIX}-${KEY}"
    headers: { X-Cost-Center: "$HOME stays literal" }
)");
  const auto result =
      load_doc(doc, env_of({{"HOST", "gateway.internal"}, {"KEY_PREFIX", "sk"}, {"KEY", "123"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  const ProviderSpec* openai = result.snapshot->find_provider("openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->base_url, "https://gateway.internal/v1");
  EXPECT_EQ(openai->api_key, "sk-123");
  EXPECT_EQ(openai->headers.at(0).second, "$HOME stays literal");
}

TEST(EnvSubstitution, WorksInNumbersToo) {
  const ConfigDoc doc("workflows", R"(
workflows:
  app:
    owner: team
    keys: [ ")" + key_hash(1) + R"(" ]
    routes: [chat, cheap]
    budget: { daily: "${DAILY_USD}" }
)");
  const auto result = load_doc(doc, env_of({{"DAILY_USD", "12.5"}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_EQ(result.snapshot->workflows[0].budget->daily, 12'500'000'000);
}

TEST(EnvSubstitution, AnUnsetVariableIsAnErrorNamingIt) {
  const ConfigDoc doc("server", R"(
server:
  admin_token: ${ADMIN_TOKEN}
  listen: "${HOST}:${PORT}"
)");
  const auto result = load_doc(doc, env_of({{"HOST", "127.0.0.1"}}));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(doc.line(2), 16, "environment variable ADMIN_TOKEN is not set"),
                          error_at(doc.line(3), 11, "environment variable PORT is not set")));
}

TEST(EnvSubstitution, AnEmptyVariableIsSetButEmpty) {
  const ConfigDoc doc("server", R"(
server:
  admin_token: "${ADMIN_TOKEN}"
)");
  const auto result = load_doc(doc, env_of({{"ADMIN_TOKEN", ""}}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_EQ(result.snapshot->server.admin_token, "");
}

TEST(EnvSubstitution, AMalformedReferenceIsAnError) {
  const ConfigDoc doc("server", R"(
server:
  admin_token: "${1TOKEN}"
  listen: "${HOST"
)");
  const auto result = load_doc(doc, env_of({{"HOST", "x"}}));
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(doc.line(2), 16, "malformed variable reference '${1TOKEN}'"),
                          error_at(doc.line(3), 11, "malformed variable reference '${HOST'")));
}

TEST(EnvSubstitution, UsesTheProcessEnvironment) {
  ASSERT_EQ(::setenv("SPENDWALL_CONFIG_TEST_VARIABLE", "from-process", 1), 0);
  const EnvLookup env = process_environment();
  EXPECT_EQ(env("SPENDWALL_CONFIG_TEST_VARIABLE"), "from-process");
  EXPECT_EQ(env("SPENDWALL_CONFIG_TEST_UNSET_VARIABLE"), std::nullopt);
  ::unsetenv("SPENDWALL_CONFIG_TEST_VARIABLE");
}

// --- Structure: unknown keys, wrong types, YAML problems ---

TEST(UnknownKeys, AreErrorsAtTheKeyWithTheNearestKnownKey) {
  const ConfigDoc doc("server", R"(
server:
  listen: "127.0.0.1:8080"
  max_requst_bytes: 1MiB
)");
  const auto result = load_doc(doc);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(doc.line(3), 3,
                                   "unknown key 'max_requst_bytes' in server (did you mean "
                                   "'max_request_bytes'?)")));
}

TEST(UnknownKeys, WithoutANearMissListTheKnownKeys) {
  const ConfigDoc doc("alerts", R"(
alerts:
  pager: { url: "https://x" }
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 3,
                                   "unknown key 'pager' in alerts (expected one of: sinks, spike, "
                                   "fallback_surge, outcomes)")));
}

TEST(UnknownKeys, AtTheTopLevel) {
  const ConfigDoc doc("alerts", R"(
alert:
  sinks: []
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(1), 1,
                                   "unknown key 'alert' in the config (did you mean 'alerts'?)")));
}

TEST(UnknownKeys, InsideFlowMappings) {
  const ConfigDoc doc("routes", R"(
routes:
  chat:
    targets: [ { provider: sim, modle: large } ]
    fallbacks: [ { provider: sim, model: small } ]
  cheap:
    targets: [ { provider: sim, model: small } ]
    fallbacks: [ { provider: sim, model: large } ]
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(3), 16, "target of route 'chat' is missing 'model'"),
                          error_at(doc.line(3), 33,
                                   "unknown key 'modle' in target of route 'chat' (did you "
                                   "mean 'model'?)")));
}

TEST(WrongTypes, AreErrorsAtTheValue) {
  const ConfigDoc doc("server", R"(
server:
  workers: [1, 2]
  listen: { host: localhost }
  max_request_bytes: lots
  header_timeout: 10
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 12, "workers: expected a single value, got a list"),
                  error_at(doc.line(3), 11, "listen: expected a single value, got a mapping"),
                  error_at(doc.line(4), 22, "max_request_bytes: 'lots' is not a size"),
                  error_at(doc.line(5), 19, "header_timeout: '10' is not a duration")));
}

TEST(WrongTypes, ASectionThatIsNotAMapping) {
  const ConfigDoc doc("server", R"(
server: "127.0.0.1:8080"
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(1), 9, "expected a mapping, got '127.0.0.1:8080'")));
}

TEST(WrongTypes, AMissingValueIsReportedAtItsKey) {
  const ConfigDoc doc("server", R"(
server:
  listen:
  workers: 2
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 3, "listen: missing value")));
}

TEST(YamlProblems, ASyntaxErrorIsOneDiagnosticAtItsMark) {
  const auto result = load_text("version: 1\nproviders:\n  sim: { kind: simulated\nroutes: {}\n");
  EXPECT_FALSE(result.ok());
  ASSERT_THAT(result.diagnostics, SizeIs(1));
  EXPECT_EQ(result.diagnostics[0].severity, Severity::error);
  EXPECT_EQ(result.diagnostics[0].line, 4);
  EXPECT_EQ(result.diagnostics[0].column, 7);
  EXPECT_THAT(result.diagnostics[0].message, ::testing::HasSubstr("YAML syntax"));
}

TEST(YamlProblems, BadIndentation) {
  const auto result = load_text("version: 1\nserver:\n  listen: \"127.0.0.1:1\"\n   workers: 2\n");
  EXPECT_THAT(errors(result), ElementsAre(error_at(4, 4, "YAML syntax")));
}

TEST(YamlProblems, AnEmptyFile) {
  EXPECT_THAT(errors(load_text("")), ElementsAre(error_at(1, 1, "the file is empty")));
  EXPECT_THAT(errors(load_text("# only a comment\n")),
              ElementsAre(error_at(1, 1, "the file is empty")));
}

// yaml-cpp 0.7's LoadAll never returned on these (jbeder/yaml-cpp#1040): it kept reporting
// empty documents, allocating without bound. Found by tests/fuzz (config_yaml).
TEST(YamlProblems, AStrayFlowEntryAtTheTopLevelIsAnErrorNotAHang) {
  for (const char* text : {",", ", b\n", "- a\n, b\n"}) {
    const LoadResult result = load_text(text);
    EXPECT_FALSE(result.ok()) << text;
    EXPECT_GT(result.error_count(), 0u) << text;
  }
}

TEST(YamlProblems, ARootThatIsNotAMapping) {
  EXPECT_THAT(errors(load_text("- version\n- 1\n")),
              ElementsAre(error_at(1, 1, "a config is a mapping")));
}

TEST(YamlProblems, MoreThanOneDocument) {
  const ConfigDoc doc("alerts", R"(
---
version: 1
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 1, "only one YAML document")));
}

TEST(YamlProblems, DuplicateKeys) {
  const ConfigDoc doc("server", R"(
server:
  workers: 2
  workers: 4
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(3), 3,
                                   "duplicate key 'workers' (first defined at " +
                                       std::to_string(doc.line(2)) + ":3)")));
}

TEST(YamlProblems, AnchorsAndAliasesAreFollowed) {
  const ConfigDoc doc("server", R"(
server:
  listen: &address "127.0.0.1:8080"
  admin_listen: *address
)");
  const auto result = load_doc(doc);
  // The alias makes both listen on one address, which is caught as such.
  EXPECT_THAT(
      errors(result),
      ElementsAre(error_at(doc.line(2), 11, "admin_listen uses the same address as listen")));
}

TEST(YamlProblems, NothingThrows) {
  for (const char* text : {"\t", "{", "[", "]", "version: !!binary x", "? [a, b]\n: c\n", "&a [*a]",
                           "*undefined", "version: 1\nproviders: &p\n  x: *p\n", "\xff\xfe\x00",
                           "%YAML 9.9\n---\na: 1\n", "version: 1\n<<: {a: 1}\n"}) {
    EXPECT_NO_THROW({
      const auto result = load_text(text);
      EXPECT_FALSE(result.ok()) << text;
      EXPECT_GT(result.error_count(), 0u) << text;
    }) << text;
  }
}

// --- Collection: everything at once, in file order, nothing half-applied ---

TEST(Collection, ReportsEveryErrorInFileOrder) {
  const auto result = load_text(R"(version: 1
server:
  workers: many
providers:
  sim: { kind: simulated, latency: soon }
prices:
  sim/large: { input: -3 }
routes:
  chat:
    targets: [ { provider: ghost, model: large } ]
workflows:
  app:
    keys: [ "sha256:nothex" ]
    routes: [chat, nowhere]
)");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.snapshot, nullptr);
  EXPECT_THAT(formatted(result),
              ElementsAre(error_at(3, 12, "workers: expected a whole number, got 'many'"),
                          warning_at(5, 3, "provider 'sim' is not used by any route"),
                          error_at(5, 36, "latency: 'soon' is not a duration"),
                          error_at(7, 23, "input: must not be negative"),
                          warning_at(9, 3, "route 'chat' has no fallbacks"),
                          error_at(10, 28, "provider: 'ghost' is not defined under providers"),
                          error_at(12, 3, "workflow 'app' is missing 'owner'"),
                          warning_at(12, 3, "workflow 'app' has no budget"),
                          error_at(13, 13, "keys: expected sha256:"),
                          error_at(14, 20, "routes: route 'nowhere' is not defined under routes")));
  EXPECT_EQ(result.error_count(), 7u);
}

TEST(Collection, MissingSectionsAreReportedAtTheTop) {
  EXPECT_THAT(errors(load_text("version: 1\n")),
              ElementsAre(error_at(1, 1, "the config is missing 'providers'"),
                          error_at(1, 1, "the config is missing 'routes'"),
                          error_at(1, 1, "the config is missing 'workflows'")));
  EXPECT_THAT(errors(load_doc(ConfigDoc("version", ""))),
              ElementsAre(error_at(1, 1, "missing 'version'")));
}

TEST(Collection, WarningsAloneStillLoad) {
  const ConfigDoc doc("workflows", R"(
workflows:
  app:
    owner: team
    keys: [ ")" + key_hash(1) + R"(" ]
    routes: [chat]
)");
  const auto result = load_doc(doc);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.error_count(), 0u);
  EXPECT_THAT(formatted(result),
              ElementsAre(warning_at(doc.line(2), 3, "workflow 'app' has no budget")));
}

TEST(Diagnostic, FormatsLikeACompiler) {
  EXPECT_EQ((Diagnostic{Severity::error, "a.yaml", 3, 7, "bad"}).format(),
            "a.yaml:3:7: error: bad");
  EXPECT_EQ((Diagnostic{Severity::warning, "a.yaml", 12, 1, "hm"}).format(),
            "a.yaml:12:1: warning: hm");
  EXPECT_EQ((Diagnostic{Severity::error, "a.yaml", 0, 0, "unreadable"}).format(),
            "a.yaml: error: unreadable");
}

// --- Files: reading, folder, ledger path, digest ---

TEST(Files, AMissingConfigFileIsOneErrorWithoutPosition) {
  const auto result = load_config_file("/nonexistent/spendwall.yaml", env_of({}));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(
      formatted(result),
      ElementsAre("/nonexistent/spendwall.yaml: error: cannot read config file: no such file"));
}

TEST(Files, TheLedgerPathResolvesAgainstTheConfigFolder) {
  TempDir dir;
  const std::string path = dir.write("deploy/spendwall.yaml", ConfigDoc().text());
  const auto result = load_config_file(path, env_of({}));
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  EXPECT_EQ(result.snapshot->file, path);
  EXPECT_EQ(result.snapshot->directory, dir.path() + "/deploy");
  EXPECT_EQ(result.snapshot->ledger.path, dir.path() + "/deploy/spendwall.db");
}

TEST(Files, LedgerPathsThatNeedNoResolving) {
  const auto path_of = [](std::string_view ledger) {
    const auto result = load_doc(ConfigDoc("ledger", ledger), env_of({}), "/etc/spendwall");
    return result.ok() ? result.snapshot->ledger.path : ::testing::PrintToString(formatted(result));
  };
  EXPECT_EQ(path_of("ledger: { path: /var/lib/spendwall/ledger.db }"),
            "/var/lib/spendwall/ledger.db");
  EXPECT_EQ(path_of("ledger: { path: data/../ledger.db }"), "/etc/spendwall/ledger.db");
  EXPECT_EQ(path_of("ledger: { path: \":memory:\" }"), ":memory:");
  EXPECT_EQ(path_of("ledger: { backend: memory, path: ./unused.db }"), "./unused.db");
}

TEST(Files, TheDigestCoversTheConfigAndItsPriceFiles) {
  TempDir dir;
  const ConfigDoc doc("prices", R"(
include_prices: [prices.yaml]
prices:
  sim/small: { input: 0.15 }
)");
  const std::string path = dir.write("spendwall.yaml", doc.text());
  dir.write("prices.yaml", "as_of: 2026-11-01\nprices:\n  sim/large: { input: 3 }\n");

  const auto first = load_config_file(path, env_of({}));
  ASSERT_TRUE(first.ok()) << ::testing::PrintToString(formatted(first));
  const auto again = load_config_file(path, env_of({}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first.snapshot->content_digest, again.snapshot->content_digest);
  EXPECT_EQ(first.snapshot->content_digest.find_first_not_of("0123456789abcdef"),
            std::string::npos);
  EXPECT_EQ(load_config_text(doc.text(), path, dir.path(), env_of({})).snapshot->content_digest,
            first.snapshot->content_digest);

  dir.write("prices.yaml", "as_of: 2026-11-02\nprices:\n  sim/large: { input: 3 }\n");
  const auto changed = load_config_file(path, env_of({}));
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(changed.snapshot->content_digest, first.snapshot->content_digest);
}

// --- include_prices ---

class IncludePrices : public ::testing::Test {
 protected:
  LoadResult load_with(std::string_view includes_and_prices) {
    const ConfigDoc doc("prices", includes_and_prices);
    line_offset_ = doc.line(0);
    return load_config_file(dir_.write("spendwall.yaml", doc.text()),
                            env_of({{"SOURCE", "pricing page"}}));
  }
  int line(int n) const { return line_offset_ + n; }
  std::string main_file() const { return dir_.path() + "/spendwall.yaml"; }

  TempDir dir_;
  int line_offset_ = 0;
};

TEST_F(IncludePrices, MergesFilesInOrderAndTheMainFileOverrides) {
  dir_.write("prices/a.yaml", R"(as_of: 2026-11-01
source: "${SOURCE}"
prices:
  sim/small: { input: 0.10, output: 0.40 }
  sim/large: { input: 3, output: 15 }
)");
  dir_.write("prices/b.yaml",
             "as_of: 2026-11-02\nprices:\n  sim/small: { input: 0.12, output: 0.50 }\n");
  const auto result = load_with(R"(
include_prices: [prices/a.yaml, prices/b.yaml]
prices:
  sim/large: { input: 2.5, output: 12 }
)");
  ASSERT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  const ConfigSnapshot& config = *result.snapshot;
  ASSERT_THAT(config.price_files, SizeIs(2));
  EXPECT_EQ(config.price_files[0].path, dir_.path() + "/prices/a.yaml");
  EXPECT_EQ(config.price_files[0].source, "pricing page");
  EXPECT_EQ(config.price_files[1].as_of, std::chrono::sys_days{std::chrono::year{2026} / 11 / 2});
  EXPECT_EQ(config.find_price("sim", "small")->input, 120'000'000);    // b.yaml over a.yaml
  EXPECT_EQ(config.find_price("sim", "large")->input, 2'500'000'000);  // the main file over both
  ASSERT_THAT(config.prices, SizeIs(4));
  EXPECT_EQ(config.prices[0].source_file, dir_.path() + "/prices/a.yaml");
  EXPECT_EQ(config.prices[0].mark.line, 4);
  EXPECT_EQ(config.prices[3].source_file, main_file());
}

TEST_F(IncludePrices, AMissingFileIsAnErrorAtItsListItemAndNothingMore) {
  const auto result = load_with(R"(
include_prices:
  - prices/missing.yaml
)");
  // The routes' prices are probably in the missing file: no error per target.
  EXPECT_THAT(errors(result), ElementsAre(error_at(line(2), 5,
                                                   "cannot read price file " + dir_.path() +
                                                       "/prices/missing.yaml: no such file",
                                                   main_file())));
}

TEST_F(IncludePrices, ErrorsInAnIncludedFileNameThatFile) {
  const std::string prices = dir_.write("prices/bad.yaml", R"(as_of: 2026-11-01
source: test
prices:
  sim/small: { input: 0.15, outptu: 0.60 }
  sim/large: { input: 1e2 }
)");
  const auto result = load_with("include_prices: [prices/bad.yaml]\n");
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(4, 29, "unknown key 'outptu' in price of sim/small", prices),
                          error_at(5, 23, "input: write USD as a plain decimal", prices)));
}

TEST_F(IncludePrices, AnIncludedFileFollowsThePriceFileSchema) {
  const std::string no_date =
      dir_.write("prices/no_date.yaml", "source: x\nprices: {}\nextra: 1\n");
  const std::string syntax =
      dir_.write("prices/syntax.yaml", "as_of: 2026-11-01\nprices: { sim/small: [\n");
  const std::string bad_date =
      dir_.write("prices/bad_date.yaml", "as_of: 2026-13-01\nprices: {}\n");
  const auto result = load_with(
      "include_prices: [prices/no_date.yaml, prices/syntax.yaml, prices/bad_date.yaml]\n");
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(1, 1, "the price file is missing 'as_of'", no_date),
                          error_at(3, 1, "unknown key 'extra' in the price file", no_date),
                          error_at(3, 1, "YAML syntax", syntax),
                          error_at(1, 8, "as_of: '2026-13-01' is not a date", bad_date)));
}

TEST_F(IncludePrices, ListsEachFileOnce) {
  dir_.write("prices/a.yaml",
             "as_of: 2026-11-01\nprices: { sim/small: { input: 1 }, sim/large: { input: 2 } }\n");
  const auto result = load_with(R"(
include_prices: [prices/a.yaml, ./prices/a.yaml]
)");
  EXPECT_THAT(
      errors(result),
      ElementsAre(error_at(line(1), 33, "'./prices/a.yaml' is included twice", main_file())));
}

TEST_F(IncludePrices, MustBeAList) {
  const auto result = load_with("include_prices: prices/a.yaml\n");
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(line(1), 17, "include_prices: expected a list", main_file())));
}

}  // namespace
}  // namespace spendwall::config
