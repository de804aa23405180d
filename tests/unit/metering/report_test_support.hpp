#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"
#include "config/units.hpp"
#include "ledger_test_support.hpp"
#include "metering/ledger/sqlite_ledger.hpp"
#include "metering/report/report.hpp"

/// A ledger with known content for the report tests: eleven requests over two weeks of
/// November 2026, whose sums are worked out by hand below.
/// Thread-safety: plain functions and values.
namespace spendwall::metering::report::testing {

using ledger::testing::TempDir;

inline std::chrono::sys_seconds at(std::string_view rfc3339) {
  const auto parsed = config::parse_timestamp(rfc3339);
  if (!parsed) throw std::invalid_argument(std::string(rfc3339));
  return *parsed;
}

/// The report's period: the week to 2026-11-30, and the week before it.
inline Period week() { return {at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z")}; }

inline std::string key_hash(char digit) { return "sha256:" + std::string(64, digit); }

/// Owners, reviews and budgets of the workflows the ledger names (`legacy-bot` is missing
/// on purpose: a workflow the config no longer has).
inline std::shared_ptr<const config::ConfigSnapshot> report_config() {
  const std::string yaml = R"(version: 1
providers:
  openai: { kind: openai, base_url: "https://api.openai.com/v1", api_key: test }
  anthropic: { kind: anthropic, base_url: "https://api.anthropic.com", api_key: test }
prices:
  openai/gpt-4o: { input: 2.50, output: 10.00 }
  openai/gpt-4o-mini: { input: 0.15, output: 0.60 }
  anthropic/claude-sonnet-4-5: { input: 3.00, output: 15.00 }
routes:
  chat:
    targets: [ { provider: openai, model: gpt-4o } ]
    fallbacks: [ { provider: anthropic, model: claude-sonnet-4-5 } ]
  chat-cheap:
    targets: [ { provider: openai, model: gpt-4o-mini } ]
workflows:
  support-assistant:
    owner: support-platform
    keys: [ ")" + key_hash('a') +
                           R"(" ]
    routes: [chat, chat-cheap]
    budget: { daily: 10, monthly: 100 }
    review: weekly
  search:
    owner: search-team
    keys: [ ")" + key_hash('b') +
                           R"(" ]
    routes: [chat, chat-cheap]
    budget: { monthly: 50, timezone: Europe/Berlin }
    review: monthly
  triage:
    owner: support-platform
    keys: [ ")" + key_hash('c') +
                           R"(" ]
    routes: [chat]
    review: daily
)";
  config::LoadResult loaded = config::load_config_text(
      yaml, "report.yaml", "/tmp", [](std::string_view) { return std::optional<std::string>(); });
  if (!loaded.ok()) {
    std::string errors;
    for (const auto& diagnostic : loaded.diagnostics) errors += diagnostic.format() + "\n";
    throw std::runtime_error(errors);
  }
  return loaded.snapshot;
}

struct Request {
  std::string id;
  std::string_view started_at;
  std::string workflow;
  std::string route;
  std::string provider;
  std::string model;
  config::NanoUsd cost = 0;
  TokenUsage tokens{};
  std::uint32_t fallbacks = 0;
  bool estimated = false;
  std::optional<std::string> outcome;
};

inline RequestRecord to_record(const Request& request) {
  RequestRecord record;
  record.id = request.id;
  record.started_at = at(request.started_at);
  record.finished_at = record.started_at + std::chrono::milliseconds(800);
  record.workflow = request.workflow;
  record.route = request.route;
  record.provider = request.provider;
  record.model = request.model;
  record.status = request.provider.empty() ? 429 : 200;
  record.tokens = request.tokens;
  record.usage_source = request.estimated ? UsageSource::estimated : UsageSource::reported;
  record.cost = request.cost;
  record.latency_ms = 800;
  record.fallbacks = request.fallbacks;
  if (request.outcome) {
    record.outcome = Outcome{*request.outcome, std::nullopt, std::nullopt,
                             record.finished_at + std::chrono::minutes(5)};
  }
  return record;
}

/// The known content. In the week (see week()):
///   support-assistant  4 requests  4.333333337 USD, 2 accepted, 1 rejected, 1 fallback,
///                      1 estimated; previous week 2 USD
///   search             2 requests  4.000000007 USD, 1 accepted; nothing the week before
///   legacy-bot         1 request   1 USD (not in the config)
///   triage             1 request   0 USD (blocked); previous week 0.25 USD
/// One request starts exactly at the end of the week and belongs to the next one.
inline std::vector<Request> known_requests() {
  return {
      {"req_01",
       "2026-11-24T10:00:00Z",
       "support-assistant",
       "chat",
       "openai",
       "gpt-4o",
       1'000'000'001,
       {100, 10, 1, 50, 5},
       0,
       false,
       "accepted"},
      {"req_02",
       "2026-11-25T12:00:00Z",
       "support-assistant",
       "chat",
       "anthropic",
       "claude-sonnet-4-5",
       2'500'000'003,
       {200, 0, 0, 80, 0},
       1,
       false,
       "accepted"},
      {"req_03",
       "2026-11-29T23:59:59Z",
       "support-assistant",
       "chat",
       "openai",
       "gpt-4o",
       333'333'333,
       {30, 0, 0, 10, 0},
       0,
       true,
       "rejected"},
      {"req_04",
       "2026-11-23T00:00:00Z",
       "support-assistant",
       "chat",
       "openai",
       "gpt-4o",
       500'000'000,
       {40, 0, 0, 20, 0},
       0,
       false,
       std::nullopt},
      {"req_05",
       "2026-11-26T08:00:00Z",
       "search",
       "chat",
       "openai",
       "gpt-4o",
       4'000'000'000,
       {1000, 0, 0, 100, 0},
       2,
       true,
       std::nullopt},
      {"req_06",
       "2026-11-29T10:00:00Z",
       "search",
       "chat-cheap",
       "openai",
       "gpt-4o-mini",
       7,
       {5, 0, 0, 1, 0},
       0,
       false,
       "accepted"},
      {"req_07", "2026-11-27T09:00:00Z", "triage", "chat", "", "", 0, {}, 0, false, std::nullopt},
      {"req_08",
       "2026-11-28T15:30:00Z",
       "legacy-bot",
       "chat",
       "openai",
       "gpt-4o",
       1'000'000'000,
       {10, 0, 0, 10, 0},
       0,
       false,
       std::nullopt},
      {"req_09",
       "2026-11-30T00:00:00Z",
       "support-assistant",
       "chat",
       "openai",
       "gpt-4o",
       9'000'000'000,
       {1, 0, 0, 1, 0},
       0,
       false,
       "accepted"},
      {"req_10",
       "2026-11-20T11:00:00Z",
       "support-assistant",
       "chat",
       "openai",
       "gpt-4o",
       2'000'000'000,
       {1, 0, 0, 1, 0},
       0,
       false,
       "accepted"},
      {"req_11",
       "2026-11-18T11:00:00Z",
       "triage",
       "chat",
       "openai",
       "gpt-4o",
       250'000'000,
       {1, 0, 0, 1, 0},
       0,
       false,
       std::nullopt},
  };
}

/// Writes `requests` through the SQLite ledger, as `spendwall serve` does, and closes it.
inline void write_ledger(const std::string& path, const std::vector<Request>& requests) {
  std::string error;
  ledger::SqliteLedger::Settings settings;
  settings.path = path;
  auto ledger = ledger::SqliteLedger::open(settings, error);
  ASSERT_NE(ledger, nullptr) << error;
  auto writer = ledger->writer_for_worker(0);
  for (const Request& request : requests) {
    ASSERT_TRUE(writer->append(to_record(request))) << writer->last_error();
  }
  ASSERT_TRUE(ledger->flush());
  ledger->stop();
}

/// Runs SQL on the database with a read-write connection of its own.
inline void execute_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message == nullptr ? "" : message;
  sqlite3_free(message);
  sqlite3_close_v2(db);
  ASSERT_EQ(rc, SQLITE_OK) << text;
}

/// A ledger with the known content in a folder of its own.
class KnownLedger {
 public:
  KnownLedger() : config_(report_config()), path_((dir_.path() / "ledger.db").string()) {
    write_ledger(path_, known_requests());
  }

  const config::ConfigSnapshot& config() const { return *config_; }
  const std::string& path() const { return path_; }
  const TempDir& dir() const { return dir_; }

  Report report(GroupBy by, Period period = week()) const {
    ReportOptions options;
    options.period = period;
    options.by = by;
    ReportResult result = build_report(*config_, path_, options);
    if (!result.report) throw std::runtime_error(result.error);
    return std::move(*result.report);
  }

 private:
  TempDir dir_;
  std::shared_ptr<const config::ConfigSnapshot> config_;
  std::string path_;
};

inline const ReportRow* find_row(const Report& report, std::string_view key) {
  for (const ReportRow& row : report.rows) {
    if (row.key == key) return &row;
  }
  return nullptr;
}

}  // namespace spendwall::metering::report::testing
