// The top level, server, ledger, prices and alerts sections, through the public loader.
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
using testing::load_doc;
using ::testing::SizeIs;

/// Loads `doc` and expects it to be valid.
ConfigSnapshot load_valid(const ConfigDoc& doc, const EnvLookup& env = env_of({})) {
  const auto result = load_doc(doc, env);
  EXPECT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  return result.ok() ? *result.snapshot : ConfigSnapshot{};
}

// --- version ---

TEST(Version, MustBeOne) {
  const ConfigDoc two("version", "version: 2\n");
  EXPECT_THAT(errors(load_doc(two)),
              ElementsAre(error_at(two.line(1), 10, "unsupported version 2")));
  const ConfigDoc word("version", "version: one\n");
  EXPECT_THAT(errors(load_doc(word)),
              ElementsAre(error_at(word.line(1), 10, "expected a whole number")));
}

// --- server ---

TEST(Server, DefaultsWhenAbsent) {
  const auto config = load_valid(ConfigDoc());
  EXPECT_EQ(config.server.listen, "0.0.0.0:8080");
  EXPECT_EQ(config.server.admin_listen, "127.0.0.1:9090");
  EXPECT_EQ(config.server.max_request_bytes, 8u << 20);
  EXPECT_EQ(config.server.request_timeout, 600s);
}

TEST(Server, ListenAddressesMustBeHostAndPort) {
  const ConfigDoc doc("server", R"(
server:
  listen: "8080"
  admin_listen: "localhost:99999"
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 11, "listen: '8080' is not host:port"),
                  error_at(doc.line(3), 17, "admin_listen: 'localhost:99999' is not host:port")));
}

TEST(Server, AdminBeyondLoopbackNeedsAToken) {
  const ConfigDoc open("server", R"(
server:
  admin_listen: "0.0.0.0:9090"
)");
  EXPECT_THAT(errors(load_doc(open)),
              ElementsAre(error_at(
                  open.line(2), 3,
                  "admin_listen 0.0.0.0:9090 is reachable beyond loopback: set admin_token")));

  const ConfigDoc empty_token("server", R"(
server:
  admin_listen: "10.0.0.5:9090"
  admin_token: "${TOKEN}"
)");
  EXPECT_THAT(errors(load_doc(empty_token, env_of({{"TOKEN", ""}}))),
              ElementsAre(error_at(empty_token.line(2), 3, "set admin_token")));
  EXPECT_TRUE(load_doc(empty_token, env_of({{"TOKEN", "secret"}})).ok());
}

TEST(Server, AdminOnLoopbackNeedsNoToken) {
  for (const char* address : {"127.0.0.1:9090", "127.0.0.2:9090", "localhost:9090", "[::1]:9090"}) {
    const ConfigDoc doc("server", std::string("server:\n  admin_listen: \"") + address + "\"\n");
    EXPECT_TRUE(load_doc(doc).ok()) << address;
  }
}

TEST(Server, AdminAndDataPlaneNeedTheirOwnAddresses) {
  const ConfigDoc doc("server", R"(
server:
  listen: "0.0.0.0:8080"
  admin_listen: "127.0.0.1:8080"
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 17, "admin_listen uses the same address as listen")));
  EXPECT_TRUE(
      load_doc(ConfigDoc("server",
                         "server: { listen: \"127.0.0.1:0\", admin_listen: \"127.0.0.1:0\" }\n"))
          .ok());
}

TEST(Server, LimitsAndTimeouts) {
  const ConfigDoc doc("server", R"(
server:
  workers: 5000
  max_request_bytes: 0
  max_header_bytes: 16KiB
  header_timeout: 0s
  request_timeout: 2m
  drain_timeout: 0s
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 12, "workers: must be between 0 and 4096"),
                          error_at(doc.line(3), 22, "max_request_bytes: must be more than 0 bytes"),
                          error_at(doc.line(5), 19, "header_timeout: must be longer than 0")));

  const auto config = load_valid(ConfigDoc("server", R"(
server: { workers: 4, max_header_bytes: 16KiB, request_timeout: 2m, drain_timeout: 0s, max_request_bytes: 1048576 }
)"));
  EXPECT_EQ(config.server.workers, 4u);
  EXPECT_EQ(config.server.max_header_bytes, 16u << 10);
  EXPECT_EQ(config.server.max_request_bytes, 1u << 20);
  EXPECT_EQ(config.server.request_timeout, 2min);
  EXPECT_EQ(config.server.drain_timeout, 0s);
}

// --- ledger ---

TEST(Ledger, PostgresNeedsAUrl) {
  const ConfigDoc doc("ledger", R"(
ledger:
  backend: postgres
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(1), 1, "ledger is missing 'url'")));
}

TEST(Ledger, PostgresWithItsLease) {
  const auto config = load_valid(ConfigDoc("ledger", R"(
ledger:
  backend: postgres
  url: postgresql://spendwall@db:5432/spendwall
  lease: { fraction: 0.1, min: 2.50, ttl: 1m }
  sync_interval: 500ms
  retention: 30d
)"));
  EXPECT_EQ(config.ledger.backend, LedgerBackend::postgres);
  EXPECT_EQ(config.ledger.url, "postgresql://spendwall@db:5432/spendwall");
  EXPECT_EQ(config.ledger.lease.fraction, 0.1);
  EXPECT_EQ(config.ledger.lease.min, 2'500'000'000);
  EXPECT_EQ(config.ledger.lease.ttl, 1min);
  EXPECT_EQ(config.ledger.sync_interval, 500ms);
  EXPECT_EQ(config.ledger.retention, 24h * 30);
}

TEST(Ledger, KeysOfAnotherBackend) {
  const ConfigDoc sqlite("ledger", R"(
ledger:
  backend: sqlite
  url: postgresql://db/spendwall
  lease: { fraction: 0.1 }
)");
  EXPECT_THAT(errors(load_doc(sqlite)),
              ElementsAre(error_at(sqlite.line(3), 3, "'url' applies only to backend postgres"),
                          error_at(sqlite.line(4), 3, "'lease' applies only to backend postgres")));

  const ConfigDoc postgres("ledger", R"(
ledger:
  backend: postgres
  url: postgresql://db/spendwall
  path: ./spendwall.db
)");
  EXPECT_THAT(
      errors(load_doc(postgres)),
      ElementsAre(error_at(postgres.line(4), 3, "'path' does not apply to backend postgres")));
}

TEST(Ledger, AnUnknownBackendIsTheOnlyError) {
  const ConfigDoc doc("ledger", R"(
ledger:
  backend: mysql
  url: mysql://db
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(2), 12,
                                   "backend: 'mysql' is not one of sqlite, postgres or memory")));
}

TEST(Ledger, BadValues) {
  const ConfigDoc doc("ledger", R"(
ledger:
  backend: postgres
  url: mysql://db
  lease: { fraction: 0, ttl: 0s }
  retention: 0d
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(3), 8, "url: expected a postgresql:// URL"),
                          error_at(doc.line(4), 22, "fraction: must be in (0, 1]"),
                          error_at(doc.line(4), 30, "ttl: must be longer than 0"),
                          error_at(doc.line(5), 14, "retention: must be longer than 0")));
}

// --- prices ---

TEST(Prices, ReadDecimalUsdPerMillionTokensExactly) {
  const ConfigDoc doc("prices", R"(
prices:
  sim/small: { input: 0.075, output: 0.3 }
  sim/large: { input: 1.375, cached_input: 0.000000001, cache_write: 4, output: 15, reasoning: 20.123456789 }
  sim/free: { input: 0 }
  vllm/meta-llama/Llama-3-8B: { input: 0.05 }
)");
  const auto config = load_valid(doc);
  const Price* small = config.find_price("sim", "small");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->input, 75'000'000);
  EXPECT_EQ(small->cached_input, 75'000'000);  // defaults to input
  EXPECT_EQ(small->cache_write, 75'000'000);   // defaults to input
  EXPECT_EQ(small->output, 300'000'000);
  EXPECT_EQ(small->reasoning, 300'000'000);  // defaults to output
  const Price* large = config.find_price("sim", "large");
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(large->input, 1'375'000'000);
  EXPECT_EQ(large->cached_input, 1);
  EXPECT_EQ(large->cache_write, 4'000'000'000);
  EXPECT_EQ(large->reasoning, 20'123'456'789);
  const Price* free = config.find_price("sim", "free");
  ASSERT_NE(free, nullptr);
  EXPECT_EQ(free->output, 0);
  // The model part may itself contain '/'.
  EXPECT_NE(config.find_price("vllm", "meta-llama/Llama-3-8B"), nullptr);
  ASSERT_THAT(config.prices, SizeIs(4));
  EXPECT_EQ(config.prices[1].mark.line, doc.line(3));
  EXPECT_EQ(config.prices[1].mark.column, 3);
}

TEST(Prices, RejectNegativeInexactAndMalformedAmounts) {
  const ConfigDoc doc("prices", R"(
prices:
  sim/small: { input: -0.15, output: 1e-6 }
  sim/large: { input: 0.1234567891, output: cheap }
  sim/other: { input: .inf, output: "" }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 23, "input: must not be negative"),
                  error_at(doc.line(2), 38,
                           "output: write USD as a plain decimal like 0.075, without an exponent"),
                  error_at(doc.line(3), 23, "input: '0.1234567891' has more than 9 decimals"),
                  error_at(doc.line(3), 45, "output: expected a USD amount like 2.50, got 'cheap'"),
                  error_at(doc.line(4), 23, "input: expected a USD amount like 2.50, got '.inf'"),
                  error_at(doc.line(4), 37, "output: expected a USD amount like 2.50, got ''")));
}

TEST(Prices, KeysAndFields) {
  const ConfigDoc doc("prices", R"(
prices:
  sim/small: { output: 0.60 }
  sim/large: { input: 3, outputs: 15 }
  large: { input: 3 }
  sim/: { input: 3 }
  sim/other: 3
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 3, "price of sim/small is missing 'input'"),
                  error_at(doc.line(3), 26,
                           "unknown key 'outputs' in price of sim/large (did you mean 'output'?)"),
                  error_at(doc.line(4), 3, "price key 'large' must be provider/model"),
                  error_at(doc.line(5), 3, "price key 'sim/' must be provider/model"),
                  error_at(doc.line(6), 14, "expected a mapping, got '3'")));
}

// --- alerts ---

TEST(Alerts, DefaultsWhenAbsent) {
  const auto config = load_valid(ConfigDoc());
  EXPECT_THAT(config.alerts.sinks, IsEmpty());
  EXPECT_THAT(config.alerts.outcomes, ElementsAre("accepted", "rejected", "retried", "abandoned"));
  EXPECT_EQ(config.alerts.spike.factor, 3.0);
}

TEST(Alerts, SinkKindsAndTheirKeys) {
  const ConfigDoc doc("alerts", R"(
alerts:
  sinks:
    - { name: slack, kind: slack }
    - { name: hook, kind: webhook, url: "ftp://finops.example" }
    - { name: log, kind: log, url: "https://x.example", headers: { A: b } }
    - { name: pager, kind: pager, url: "https://x.example" }
    - { kind: log }
    - { name: slack, kind: log }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(3), 7, "alert sink is missing 'url'"),
                  error_at(doc.line(4), 41,
                           "url: 'ftp://finops.example' is not an http:// or https:// URL"),
                  error_at(doc.line(5), 31, "'url' does not apply to sinks of kind log"),
                  error_at(doc.line(5), 57, "'headers' does not apply to sinks of kind log"),
                  error_at(doc.line(6), 28, "kind: 'pager' is not one of slack, webhook or log"),
                  error_at(doc.line(7), 7, "alert sink is missing 'name'"),
                  error_at(doc.line(8), 15, "name: another sink is already called 'slack'")));
}

TEST(Alerts, SpikeFallbackSurgeAndOutcomes) {
  const ConfigDoc doc("alerts", R"(
alerts:
  spike: { window: 7d, baseline: 1d, factor: 0.5, min_spend: -1 }
  fallback_surge: { window: 10m, ratio: 1.5, min_requests: 0 }
  outcomes: [accepted, Rejected, accepted]
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 34, "baseline: must be longer than the spike window"),
                  error_at(doc.line(2), 46, "factor: must be at least 1"),
                  error_at(doc.line(2), 62, "min_spend: must not be negative"),
                  error_at(doc.line(3), 41, "ratio: must be in (0, 1]"),
                  error_at(doc.line(3), 60, "min_requests: must be at least 1"),
                  error_at(doc.line(4), 24, "outcomes: 'Rejected' must use only lowercase letters"),
                  error_at(doc.line(4), 34, "outcomes: 'accepted' is listed twice")));

  const ConfigDoc empty("alerts", "alerts: { outcomes: [] }\n");
  EXPECT_THAT(errors(load_doc(empty)),
              ElementsAre(error_at(empty.line(1), 21, "outcomes: list at least one outcome")));
}

TEST(Alerts, ParsedValues) {
  const auto config = load_valid(ConfigDoc("alerts", R"(
alerts:
  sinks:
    - { name: hook, kind: webhook, url: "https://finops.example/hook", headers: { Authorization: "Bearer ${T}" } }
  spike: { window: 30m, baseline: 14d, factor: 2.5, min_spend: 0.50 }
  fallback_surge: { window: 5m, ratio: 0.5, min_requests: 10 }
  outcomes: [accepted, rejected, escalated]
)"),
                                 env_of({{"T", "tok"}}));
  ASSERT_THAT(config.alerts.sinks, SizeIs(1));
  EXPECT_EQ(config.alerts.sinks[0].url, "https://finops.example/hook");
  EXPECT_EQ(config.alerts.sinks[0].headers.at(0).second, "Bearer tok");
  EXPECT_EQ(config.alerts.spike.window, 30min);
  EXPECT_EQ(config.alerts.spike.baseline, 24h * 14);
  EXPECT_EQ(config.alerts.spike.factor, 2.5);
  EXPECT_EQ(config.alerts.spike.min_spend, 500'000'000);
  EXPECT_EQ(config.alerts.fallback_surge.window, 5min);
  EXPECT_EQ(config.alerts.fallback_surge.ratio, 0.5);
  EXPECT_EQ(config.alerts.fallback_surge.min_requests, 10u);
  EXPECT_THAT(config.alerts.outcomes, ElementsAre("accepted", "rejected", "escalated"));
}

TEST(Alerts, HeaderValuesCannotCarryLineBreaks) {
  const ConfigDoc doc("alerts", R"(
alerts:
  sinks:
    - { name: hook, kind: webhook, url: "https://x.example", headers: { "Bad Name": x, X-Token: "${T}" } }
)");
  EXPECT_THAT(errors(load_doc(doc, env_of({{"T", "a\r\nX-Injected: 1"}}))),
              ElementsAre(error_at(doc.line(3), 73, "'Bad Name' is not a valid header name"),
                          error_at(doc.line(3), 97,
                                   "X-Token: header values must not contain line breaks")));
}

}  // namespace
}  // namespace spendwall::config
