#include "metering/report/report.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "report_test_support.hpp"

namespace spendwall::metering::report {
namespace {

using testing::at;
using testing::find_row;
using testing::KnownLedger;
using testing::week;

constexpr config::NanoUsd kNano = 1;
constexpr config::NanoUsd kUsd = config::kNanoPerUsd;

std::vector<std::string> keys(const Report& report) {
  std::vector<std::string> result;
  for (const ReportRow& row : report.rows) result.push_back(row.key);
  return result;
}

class ReportBuildTest : public ::testing::Test {
 protected:
  KnownLedger ledger_;
};

TEST_F(ReportBuildTest, ByWorkflowSumsExactMoneyTokensAndShares) {
  const Report report = ledger_.report(GroupBy::workflow);
  EXPECT_EQ(report.period, week());
  EXPECT_EQ(report.previous, (Period{at("2026-11-16T00:00:00Z"), at("2026-11-23T00:00:00Z")}));
  // Largest spend first; triage spent nothing this week and keeps its row for last week's.
  EXPECT_EQ(keys(report),
            (std::vector<std::string>{"support-assistant", "search", "legacy-bot", "triage"}));

  const ReportRow& support = *find_row(report, "support-assistant");
  EXPECT_EQ(support.owner, "support-platform");
  EXPECT_EQ(support.review, "weekly");
  EXPECT_EQ(support.traffic.requests, 4u);  // the one at the end instant is next week's
  EXPECT_EQ(support.traffic.spend, 4'333'333'337 * kNano);
  EXPECT_EQ(support.traffic.previous_spend, 2 * kUsd);
  EXPECT_EQ(support.traffic.tokens, (TokenUsage{370, 10, 1, 160, 5}));
  EXPECT_DOUBLE_EQ(*support.traffic.change(), 2'333'333'337.0 / 2'000'000'000.0);
  EXPECT_DOUBLE_EQ(*support.traffic.fallback_share(), 0.25);
  EXPECT_DOUBLE_EQ(*support.traffic.estimated_share(), 0.25);
  EXPECT_EQ(support.traffic.outcome_count("accepted"), 2u);
  EXPECT_EQ(support.traffic.outcome_count("rejected"), 1u);
  // 4.333333337 / 2 = 2.1666666685, rounded half away from zero to the nano-USD.
  EXPECT_EQ(support.traffic.cost_per_accepted(), 2'166'666'669 * kNano);

  const ReportRow& search = *find_row(report, "search");
  EXPECT_EQ(search.traffic.spend, 4'000'000'007 * kNano);
  EXPECT_EQ(search.traffic.change(), std::nullopt) << "no spend the week before";
  EXPECT_DOUBLE_EQ(*search.traffic.fallback_share(), 0.5) << "two fallbacks are one request";
  EXPECT_EQ(search.traffic.cost_per_accepted(), 4'000'000'007 * kNano);

  const ReportRow& triage = *find_row(report, "triage");
  EXPECT_EQ(triage.traffic.requests, 1u);
  EXPECT_EQ(triage.traffic.spend, 0);
  EXPECT_DOUBLE_EQ(*triage.traffic.change(), -1.0);
  EXPECT_EQ(triage.traffic.cost_per_accepted(), std::nullopt);
  EXPECT_TRUE(triage.budgets.empty());

  const ReportRow& legacy = *find_row(report, "legacy-bot");
  EXPECT_EQ(legacy.owner, std::nullopt);
  EXPECT_EQ(legacy.review, std::nullopt);

  EXPECT_EQ(report.totals.requests, 8u);
  EXPECT_EQ(report.totals.spend, 9'333'333'344 * kNano);
  EXPECT_EQ(report.totals.previous_spend, 2'250'000'000 * kNano);
  EXPECT_EQ(report.totals.accepted(), 3u);
  EXPECT_EQ(report.totals.cost_per_accepted(), 3'111'111'115 * kNano);
  EXPECT_EQ(report.outcome_names,
            (std::vector<std::string>{"accepted", "rejected", "retried", "abandoned"}));
}

TEST_F(ReportBuildTest, BudgetUtilizationIsTheWindowAtTheEndOfThePeriod) {
  const Report report = ledger_.report(GroupBy::workflow);
  const ReportRow& support = *find_row(report, "support-assistant");
  ASSERT_EQ(support.budgets.size(), 2u);
  // Daily: 2026-11-29 (UTC) holds one request; monthly: November, last week's included.
  EXPECT_EQ(support.budgets[0].window, BudgetWindow::daily);
  EXPECT_EQ(support.budgets[0].spent, 333'333'333 * kNano);
  EXPECT_EQ(support.budgets[0].limit, 10 * kUsd);
  EXPECT_DOUBLE_EQ(*support.budgets[0].utilization(), 0.0333333333);
  EXPECT_EQ(support.budgets[1].window, BudgetWindow::monthly);
  EXPECT_EQ(support.budgets[1].spent, 6'333'333'337 * kNano);
  EXPECT_DOUBLE_EQ(*support.budgets[1].utilization(), 0.06333333337);

  const ReportRow& search = *find_row(report, "search");
  ASSERT_EQ(search.budgets.size(), 1u);
  EXPECT_EQ(search.budgets[0].window, BudgetWindow::monthly);
  EXPECT_DOUBLE_EQ(*search.budgets[0].utilization(), 4'000'000'007.0 / 50e9);
}

TEST_F(ReportBuildTest, NotesUnknownWorkflowsAndIgnoredTimeZones) {
  const Report report = ledger_.report(GroupBy::workflow);
  ASSERT_EQ(report.notes.size(), 2u);
  EXPECT_NE(report.notes[0].find("legacy-bot"), std::string::npos) << report.notes[0];
  EXPECT_NE(report.notes[1].find("UTC"), std::string::npos) << report.notes[1];
  EXPECT_NE(report.notes[1].find("search (Europe/Berlin)"), std::string::npos) << report.notes[1];
}

TEST_F(ReportBuildTest, AWindowResolverReplacesUtcWindows) {
  ReportOptions options;
  options.period = week();
  std::vector<std::string> zones;
  // A resolver whose daily window is the whole week: all of it counts.
  options.window_of = [&](BudgetWindow window, std::string_view timezone,
                          Seconds when) -> std::optional<WindowSpan> {
    zones.emplace_back(timezone);
    if (window == BudgetWindow::monthly) return utc_window(window, when);
    return WindowSpan{week().since, week().until};
  };
  const ReportResult result = build_report(ledger_.config(), ledger_.path(), options);
  ASSERT_TRUE(result.report) << result.error;
  const ReportRow& support = *find_row(*result.report, "support-assistant");
  EXPECT_EQ(support.budgets[0].spent, 4'333'333'337 * kNano);
  EXPECT_NE(std::find(zones.begin(), zones.end(), "Europe/Berlin"), zones.end());
  ASSERT_EQ(result.report->notes.size(), 1u) << "no time-zone caveat with a resolver";
}

TEST_F(ReportBuildTest, AnActiveOverrideReplacesTheLimit) {
  auto config = std::make_shared<config::ConfigSnapshot>(ledger_.config());
  config::OverrideSpec launch;
  launch.name = "launch";
  launch.from = at("2026-11-29T00:00:00Z");
  launch.until = at("2026-12-01T00:00:00Z");
  launch.daily = 40 * kUsd;
  for (config::WorkflowPolicy& policy : config->workflows) {
    if (policy.name == "support-assistant") policy.overrides.push_back(launch);
  }

  ReportOptions options;
  options.period = week();
  const ReportResult result = build_report(*config, ledger_.path(), options);
  ASSERT_TRUE(result.report) << result.error;
  const ReportRow& row = *find_row(*result.report, "support-assistant");
  EXPECT_EQ(row.budgets[0].limit, 40 * kUsd);
  EXPECT_EQ(row.budgets[1].limit, 100 * kUsd) << "the override sets no monthly limit";
}

TEST_F(ReportBuildTest, ByOwnerFoldsWorkflows) {
  const Report report = ledger_.report(GroupBy::owner);
  EXPECT_EQ(keys(report),
            (std::vector<std::string>{"support-platform", "search-team", "(unknown)"}));
  const ReportRow& platform = *find_row(report, "support-platform");
  EXPECT_EQ(platform.owner, "support-platform");
  EXPECT_EQ(platform.review, "daily, weekly");
  EXPECT_EQ(platform.traffic.requests, 5u);
  EXPECT_EQ(platform.traffic.spend, 4'333'333'337 * kNano);
  EXPECT_EQ(platform.traffic.previous_spend, 2'250'000'000 * kNano);
  EXPECT_DOUBLE_EQ(*platform.traffic.change(), 2'083'333'337.0 / 2'250'000'000.0);
  // triage has no budget: the owner's windows are support-assistant's.
  ASSERT_EQ(platform.budgets.size(), 2u);
  EXPECT_EQ(platform.budgets[1].limit, 100 * kUsd);
  EXPECT_EQ(report.totals.spend, 9'333'333'344 * kNano);
}

TEST_F(ReportBuildTest, ByProviderModelAndRoute) {
  const Report providers = ledger_.report(GroupBy::provider);
  EXPECT_EQ(keys(providers), (std::vector<std::string>{"openai", "anthropic", "(none)"}));
  EXPECT_EQ(find_row(providers, "openai")->traffic.spend, 6'833'333'341 * kNano);
  EXPECT_EQ(find_row(providers, "openai")->traffic.previous_spend, 2'250'000'000 * kNano);
  EXPECT_EQ(find_row(providers, "anthropic")->traffic.spend, 2'500'000'003 * kNano);
  EXPECT_EQ(find_row(providers, "(none)")->traffic.requests, 1u);
  EXPECT_EQ(find_row(providers, "openai")->owner, std::nullopt);
  EXPECT_TRUE(find_row(providers, "openai")->budgets.empty());
  EXPECT_TRUE(providers.notes.empty()) << "owner and budget caveats concern workflows only";

  const Report models = ledger_.report(GroupBy::model);
  EXPECT_EQ(keys(models), (std::vector<std::string>{"openai/gpt-4o", "anthropic/claude-sonnet-4-5",
                                                    "openai/gpt-4o-mini", "(none)"}));
  EXPECT_EQ(find_row(models, "openai/gpt-4o")->traffic.spend, 6'833'333'334 * kNano);
  EXPECT_EQ(find_row(models, "openai/gpt-4o-mini")->traffic.spend, 7 * kNano);

  const Report routes = ledger_.report(GroupBy::route);
  EXPECT_EQ(keys(routes), (std::vector<std::string>{"chat", "chat-cheap"}));
  EXPECT_EQ(find_row(routes, "chat")->traffic.spend, 9'333'333'337 * kNano);
  EXPECT_EQ(find_row(routes, "chat-cheap")->traffic.cost_per_accepted(), 7 * kNano);

  for (const Report* report : {&providers, &models, &routes}) {
    EXPECT_EQ(report->totals.spend, 9'333'333'344 * kNano);
    EXPECT_EQ(report->totals.requests, 8u);
  }
}

TEST_F(ReportBuildTest, EmptyPeriodHasNoRowsAndZeroTotals) {
  const Period empty{at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z")};
  const Report report = ledger_.report(GroupBy::workflow, empty);
  EXPECT_TRUE(report.rows.empty());
  EXPECT_EQ(report.totals.requests, 0u);
  EXPECT_EQ(report.totals.spend, 0);
  EXPECT_EQ(report.totals.change(), std::nullopt);
  EXPECT_EQ(report.totals.fallback_share(), std::nullopt);
  EXPECT_EQ(report.totals.cost_per_accepted(), std::nullopt);
  EXPECT_EQ(report.charts.days.size(), 7u);
  EXPECT_TRUE(report.charts.workflow_days.empty());
  EXPECT_TRUE(report.charts.provider_spend.empty());
}

TEST_F(ReportBuildTest, ChartsHaveDailySpendPerWorkflowAndProviderSpend) {
  const Report report = ledger_.report(GroupBy::route);
  const ChartData& charts = report.charts;
  ASSERT_EQ(charts.days.size(), 7u);
  EXPECT_EQ(charts.days.front(), std::chrono::floor<std::chrono::days>(at("2026-11-23T00:00:00Z")));
  // Workflows with spend, largest first; triage spent nothing.
  ASSERT_EQ(charts.workflow_days.size(), 3u);
  EXPECT_EQ(charts.workflow_days[0].workflow, "support-assistant");
  EXPECT_EQ(charts.workflow_days[0].daily_spend,
            (std::vector<config::NanoUsd>{500'000'000, 1'000'000'001, 2'500'000'003, 0, 0, 0,
                                          333'333'333}));
  EXPECT_EQ(charts.workflow_days[1].daily_spend,
            (std::vector<config::NanoUsd>{0, 0, 0, 4'000'000'000, 0, 0, 7}));
  ASSERT_EQ(charts.provider_spend.size(), 2u) << "the blocked request's (none) spent nothing";
  EXPECT_EQ(charts.provider_spend[0].key, "openai");
  ASSERT_EQ(charts.workflow_spend.size(), 4u);
  EXPECT_EQ(charts.workflow_spend[0].accepted, 2u);
}

TEST_F(ReportBuildTest, ReadsWhileTheProxyWrites) {
  // The serving ledger keeps its connection and its spool open; the report reads beside it.
  std::string error;
  ledger::SqliteLedger::Settings settings;
  settings.path = ledger_.path();
  auto serving = ledger::SqliteLedger::open(settings, error);
  ASSERT_NE(serving, nullptr) << error;
  serving->start();
  auto writer = serving->writer_for_worker(0);
  testing::Request late{
      "req_late",  "2026-11-29T12:00:00Z", "search", "chat", "openai", "gpt-4o", 1, {}, 0, false,
      std::nullopt};
  ASSERT_TRUE(writer->append(testing::to_record(late)));
  ASSERT_TRUE(serving->flush());

  const Report report = ledger_.report(GroupBy::workflow);
  EXPECT_EQ(find_row(report, "search")->traffic.spend, 4'000'000'008 * kNano);
  ASSERT_TRUE(writer->append(testing::to_record({"req_later",
                                                 "2026-11-29T13:00:00Z",
                                                 "search",
                                                 "chat",
                                                 "openai",
                                                 "gpt-4o",
                                                 1,
                                                 {},
                                                 0,
                                                 false,
                                                 std::nullopt})));
  EXPECT_TRUE(serving->flush()) << "the reader does not block the writer";
  serving->stop();
}

TEST_F(ReportBuildTest, ListsExceptionsFromAnExceptionsTable) {
  // The reader takes whatever shape the table has: replace the ledger's own with another.
  testing::execute_sql(ledger_.path(), R"sql(
DROP TABLE IF EXISTS exception_deliveries;
DROP TABLE IF EXISTS exceptions;
CREATE TABLE exceptions (id TEXT PRIMARY KEY, at_us INTEGER, kind TEXT, workflow TEXT,
                         next_action TEXT);
INSERT INTO exceptions VALUES
  ('exc_2', 1796036000000000, 'exceeded', 'search', 'Owner asks for more at the review.'),
  ('exc_1', 1795946400000000, 'threshold', 'support-assistant', 'Owner confirms within 4h.'),
  ('exc_old', 1794536000000000, 'spike', 'support-assistant', 'Too old for this report.');
)sql");
  // 1795946400 is 2026-11-29T10:00:00Z; 1796036000 is 2026-11-30T10:53:20Z, after the week.
  const Report report = ledger_.report(GroupBy::workflow);
  ASSERT_EQ(report.exceptions.size(), 1u);
  const ExceptionEntry& entry = report.exceptions[0];
  EXPECT_EQ(entry.id, "exc_1");
  EXPECT_EQ(entry.kind, "threshold");
  EXPECT_EQ(entry.owner, "support-platform") << "taken from the config";
  EXPECT_EQ(entry.next_action, "Owner confirms within 4h.");
  EXPECT_EQ(std::chrono::floor<std::chrono::seconds>(entry.at), at("2026-11-29T10:00:00Z"));
  EXPECT_EQ(find_row(report, "support-assistant")->exceptions.size(), 1u);
  EXPECT_TRUE(find_row(report, "search")->exceptions.empty());

  const Report owners = ledger_.report(GroupBy::owner);
  EXPECT_EQ(find_row(owners, "support-platform")->exceptions.size(), 1u);
}

TEST_F(ReportBuildTest, ListsExceptionsTheLedgerStored) {
  {
    config::LedgerSpec spec;
    spec.backend = config::LedgerBackend::sqlite;
    spec.path = ledger_.path();
    std::string error;
    auto ledger = ledger::open_ledger(spec, error);
    ASSERT_NE(ledger, nullptr) << error;
    const ledger::StoredException event{
        "exc_7",
        at("2026-11-29T10:00:00Z"),
        "support-assistant",
        "threshold",
        "daily",
        "k",
        R"({"id":"exc_7","kind":"threshold","workflow":"support-assistant","next_action":"Confirm."})"};
    ASSERT_EQ(ledger->store_exception(event, {"log"}), ledger::StoreResult::stored);
  }
  const Report report = ledger_.report(GroupBy::workflow);
  ASSERT_EQ(report.exceptions.size(), 1u);
  EXPECT_EQ(report.exceptions[0].id, "exc_7");
  EXPECT_EQ(report.exceptions[0].kind, "threshold");
  EXPECT_EQ(report.exceptions[0].next_action, "Confirm.");
}

TEST_F(ReportBuildTest, ReadsExceptionsStoredAsJsonEvents) {
  testing::execute_sql(ledger_.path(), R"sql(
DROP TABLE IF EXISTS exception_deliveries;
DROP TABLE IF EXISTS exceptions;
CREATE TABLE exceptions (id TEXT PRIMARY KEY, dedupe_key TEXT, event TEXT);
INSERT INTO exceptions VALUES ('exc_9', 'k', '{"id":"exc_9","at":"2026-11-24T09:14:03.250Z",
  "kind":"spike","workflow":"search","owner":"search-team","next_action":"Investigate today."}');
INSERT INTO exceptions VALUES ('exc_bad', 'k2', '{"kind":"spike","at":"yesterday"}');
)sql");
  const Report report = ledger_.report(GroupBy::workflow);
  ASSERT_EQ(report.exceptions.size(), 1u) << "an entry without a readable time is skipped";
  EXPECT_EQ(report.exceptions[0].id, "exc_9");
  EXPECT_EQ(report.exceptions[0].kind, "spike");
  EXPECT_EQ(report.exceptions[0].next_action, "Investigate today.");
  EXPECT_EQ(report.exceptions[0].at,
            std::chrono::sys_time<std::chrono::microseconds>(at("2026-11-24T09:14:03Z")) +
                std::chrono::milliseconds(250));
  EXPECT_EQ(find_row(report, "search")->exceptions.size(), 1u);
}

TEST_F(ReportBuildTest, NoExceptionsTableMeansNoExceptions) {
  const Report report = ledger_.report(GroupBy::workflow);
  EXPECT_TRUE(report.exceptions.empty());
  for (const ReportRow& row : report.rows) EXPECT_TRUE(row.exceptions.empty());
}

TEST(ReportOpenTest, AMissingDatabaseIsAClearError) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "absent.db").string();
  ReportOptions options;
  options.period = week();
  const ReportResult result = build_report(*testing::report_config(), path, options);
  EXPECT_FALSE(result.report);
  EXPECT_NE(result.error.find("does not exist yet"), std::string::npos) << result.error;
  EXPECT_FALSE(std::filesystem::exists(path)) << "a report never creates the database";
}

TEST(ReportOpenTest, AnotherDatabaseIsNotALedger) {
  testing::TempDir dir;
  const std::string path = (dir.path() / "other.db").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ReportOptions options;
  options.period = week();
  const ReportResult result = build_report(*testing::report_config(), path, options);
  EXPECT_FALSE(result.report);
  EXPECT_NE(result.error.find("not a Spendwall ledger"), std::string::npos) << result.error;
}

TEST(ReportOpenTest, OnlyTheSqliteBackendHasADatabase) {
  config::LedgerSpec spec;
  std::string error;
  spec.path = "/var/lib/spendwall/spendwall.db";
  EXPECT_EQ(sqlite_ledger_path(spec, error), spec.path);
  spec.backend = config::LedgerBackend::memory;
  EXPECT_EQ(sqlite_ledger_path(spec, error), std::nullopt);
  EXPECT_NE(error.find("memory"), std::string::npos) << error;
}

TEST(ReportPeriodTest, SinceIsADurationOrAnInstant) {
  const Seconds now = at("2026-12-02T10:00:00Z");
  std::string error;
  EXPECT_EQ(parse_period(std::nullopt, std::nullopt, now, error),
            (Period{at("2026-11-25T10:00:00Z"), now}));
  EXPECT_EQ(parse_period("24h", "2026-12-01T00:00:00Z", now, error),
            (Period{at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z")}));
  EXPECT_EQ(parse_period("2026-11-01T00:00:00Z", std::nullopt, now, error),
            (Period{at("2026-11-01T00:00:00Z"), now}));
  EXPECT_EQ(previous_period({at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z")}),
            (Period{at("2026-11-29T00:00:00Z"), at("2026-11-30T00:00:00Z")}));
}

TEST(ReportPeriodTest, RejectsWhatDoesNotParseOrIsEmpty) {
  const Seconds now = at("2026-12-02T10:00:00Z");
  std::string error;
  EXPECT_EQ(parse_period("seven days", std::nullopt, now, error), std::nullopt);
  EXPECT_NE(error.find("--since"), std::string::npos) << error;
  EXPECT_EQ(parse_period(std::nullopt, "tomorrow", now, error), std::nullopt);
  EXPECT_NE(error.find("--until"), std::string::npos) << error;
  EXPECT_EQ(parse_period("2026-12-03T00:00:00Z", std::nullopt, now, error), std::nullopt);
  EXPECT_NE(error.find("before"), std::string::npos) << error;
}

TEST(ReportPeriodTest, UtcWindowsAreCalendarDaysAndMonths) {
  EXPECT_EQ(utc_window(BudgetWindow::daily, at("2026-12-31T23:59:59Z")),
            (WindowSpan{at("2026-12-31T00:00:00Z"), at("2027-01-01T00:00:00Z")}));
  EXPECT_EQ(utc_window(BudgetWindow::monthly, at("2026-12-31T23:59:59Z")),
            (WindowSpan{at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")}));
  EXPECT_EQ(utc_window(BudgetWindow::monthly, at("2028-02-10T00:00:00Z")),
            (WindowSpan{at("2028-02-01T00:00:00Z"), at("2028-03-01T00:00:00Z")}));
  EXPECT_EQ(format_timestamp(at("2026-02-03T04:05:06Z")), "2026-02-03T04:05:06Z");
}

TEST(ReportNamesTest, ParseTheCliSpellings) {
  for (GroupBy by :
       {GroupBy::workflow, GroupBy::owner, GroupBy::provider, GroupBy::model, GroupBy::route}) {
    EXPECT_EQ(parse_group_by(to_string(by)), by);
  }
  for (ReportFormat format :
       {ReportFormat::table, ReportFormat::csv, ReportFormat::json, ReportFormat::html}) {
    EXPECT_EQ(parse_report_format(to_string(format)), format);
  }
  EXPECT_EQ(parse_group_by("team"), std::nullopt);
  EXPECT_EQ(parse_report_format("pdf"), std::nullopt);
}

}  // namespace
}  // namespace spendwall::metering::report
