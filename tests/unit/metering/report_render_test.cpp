#include "metering/report/render.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "metering/report/render_format.hpp"
#include "report_html_support.hpp"
#include "report_test_support.hpp"

namespace spendwall::metering::report {
namespace {

using testing::at;
using testing::KnownLedger;

std::vector<std::string> lines_of(const std::string& text, std::string_view end = "\n") {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t found; (found = text.find(end, start)) != std::string::npos;
       start = found + end.size()) {
    lines.push_back(text.substr(start, found - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

/// A report built by hand, with names a renderer must quote or escape.
Report awkward_report() {
  Report report;
  report.period = {at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z")};
  report.previous = previous_period(report.period);
  report.outcome_names = {"accepted"};
  ReportRow row;
  row.key = "a,\"b\"\n<script>alert('x')</script>";
  row.owner = "team & co";
  row.review = "weekly";
  row.traffic.requests = 3;
  row.traffic.spend = 1'500'000'001;
  row.traffic.outcomes["accepted"] = 1;
  report.rows.push_back(row);
  report.totals = row.traffic;
  report.charts.days = {std::chrono::floor<std::chrono::days>(report.period.since)};
  report.charts.workflow_days = {{row.key, {row.traffic.spend}}};
  report.charts.workflow_spend = {{row.key, row.traffic.spend, 1}};
  report.charts.provider_spend = {{"<b>prov</b>", row.traffic.spend, 0}};
  report.exceptions.push_back(
      {"exc_1", "threshold", row.key, "team & co",
       std::chrono::sys_time<std::chrono::microseconds>(report.period.since),
       "Call <owner> & \"decide\""});
  report.notes.push_back("note with <angle> brackets");
  return report;
}

class ReportRenderTest : public ::testing::Test {
 protected:
  KnownLedger ledger_;
};

// --- JSON: the admin-api.md shape ---

TEST_F(ReportRenderTest, JsonFollowsTheAdminApiShape) {
  const std::string text = render_json(ledger_.report(GroupBy::workflow));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;

  EXPECT_EQ(std::string_view(doc["since"]), "2026-11-23T00:00:00Z");
  EXPECT_EQ(std::string_view(doc["until"]), "2026-11-30T00:00:00Z");
  EXPECT_EQ(std::string_view(doc["by"]), "workflow");
  EXPECT_EQ(std::string_view(doc["previous"]["since"]), "2026-11-16T00:00:00Z");
  EXPECT_EQ(std::string_view(doc["previous"]["until"]), "2026-11-23T00:00:00Z");

  simdjson::dom::array rows = doc["rows"];
  ASSERT_EQ(rows.size(), 4u);
  simdjson::dom::element support = rows.at(0);
  EXPECT_EQ(std::string_view(support["key"]), "support-assistant");
  EXPECT_EQ(std::string_view(support["owner"]), "support-platform");
  EXPECT_EQ(std::string_view(support["review"]), "weekly");
  EXPECT_EQ(uint64_t(support["requests"]), 4u);
  EXPECT_EQ(uint64_t(support["tokens"]["input"]), 370u);
  EXPECT_EQ(uint64_t(support["tokens"]["cached_input"]), 10u);
  EXPECT_EQ(uint64_t(support["tokens"]["cache_write"]), 1u);
  EXPECT_EQ(uint64_t(support["tokens"]["output"]), 160u);
  EXPECT_EQ(uint64_t(support["tokens"]["reasoning"]), 5u);
  EXPECT_DOUBLE_EQ(double(support["change"]), 1.1666666685);
  EXPECT_DOUBLE_EQ(double(support["fallback_share"]), 0.25);
  EXPECT_DOUBLE_EQ(double(support["estimated_share"]), 0.25);
  EXPECT_EQ(uint64_t(support["outcomes"]["accepted"]), 2u);
  EXPECT_EQ(uint64_t(support["outcomes"]["rejected"]), 1u);
  EXPECT_EQ(uint64_t(support["outcomes"]["abandoned"]), 0u);
  EXPECT_DOUBLE_EQ(double(support["budget_utilization"]["daily"]), 0.0333333333);
  EXPECT_DOUBLE_EQ(double(support["budget_utilization"]["monthly"]), 0.06333333337);
  EXPECT_EQ(simdjson::dom::array(support["exceptions"]).size(), 0u);

  simdjson::dom::element search = rows.at(1);
  EXPECT_TRUE(search["change"].is_null());
  EXPECT_TRUE(search["budget_utilization"]["daily"].error() == simdjson::NO_SUCH_FIELD);
  simdjson::dom::element triage = rows.at(3);
  EXPECT_TRUE(triage["cost_per_accepted_usd"].is_null());
  EXPECT_EQ(simdjson::dom::object(triage["budget_utilization"]).size(), 0u);
  simdjson::dom::element legacy = rows.at(2);
  EXPECT_TRUE(legacy["owner"].is_null());

  EXPECT_EQ(uint64_t(doc["totals"]["requests"]), 8u);
  EXPECT_EQ(simdjson::dom::array(doc["exceptions"]).size(), 0u);
}

TEST_F(ReportRenderTest, JsonMoneyIsTheExactDecimalOfTheNanoUsd) {
  const std::string text = render_json(ledger_.report(GroupBy::workflow));
  for (std::string_view exact : {R"("spend_usd":4.333333337,"previous_spend_usd":2,)",
                                 R"("cost_per_accepted_usd":2.166666669)",
                                 R"("spend_usd":4.000000007,"previous_spend_usd":0,)",
                                 R"("spend_usd":0,"previous_spend_usd":0.25,)",
                                 R"("spend_usd":9.333333344,"previous_spend_usd":2.25,)",
                                 R"("cost_per_accepted_usd":3.111111115)"}) {
    EXPECT_NE(text.find(exact), std::string::npos) << exact << "\n" << text;
  }
}

TEST_F(ReportRenderTest, JsonOfEveryGroupingParses) {
  for (GroupBy by :
       {GroupBy::workflow, GroupBy::owner, GroupBy::provider, GroupBy::model, GroupBy::route}) {
    const std::string text = render_json(ledger_.report(by));
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
    EXPECT_EQ(std::string_view(doc["by"]), to_string(by));
    EXPECT_DOUBLE_EQ(double(doc["totals"]["spend_usd"]), 9.333333344);
  }
  const std::string owners = render_json(ledger_.report(GroupBy::owner));
  EXPECT_NE(owners.find(
                R"("key":"support-platform","owner":"support-platform","review":"daily, weekly")"),
            std::string::npos)
      << owners;
  const std::string models = render_json(ledger_.report(GroupBy::model));
  EXPECT_NE(models.find(R"("key":"openai/gpt-4o","owner":null,"review":null)"), std::string::npos);
}

TEST_F(ReportRenderTest, JsonOfAnEmptyPeriod) {
  const std::string text = render_json(
      ledger_.report(GroupBy::workflow, {at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z")}));
  EXPECT_NE(text.find(R"("rows":[])"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("totals":{"requests":0,)"), std::string::npos) << text;
  EXPECT_NE(
      text.find(R"("spend_usd":0,"previous_spend_usd":0,"change":null,"fallback_share":null)"),
      std::string::npos)
      << text;
}

TEST(ReportRenderJsonTest, EscapesNamesAndListsExceptions) {
  const std::string text = render_json(awkward_report());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(text).get(doc), simdjson::SUCCESS) << text;
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["key"]), "a,\"b\"\n<script>alert('x')</script>");
  EXPECT_EQ(std::string_view(doc["exceptions"].at(0)["at"]), "2026-11-23T00:00:00Z");
  EXPECT_EQ(std::string_view(doc["exceptions"].at(0)["next_action"]), "Call <owner> & \"decide\"");
}

// --- CSV: RFC 4180 ---

TEST_F(ReportRenderTest, CsvHasAHeaderAndOneRecordPerRow) {
  const std::string text = render_csv(ledger_.report(GroupBy::workflow));
  const std::vector<std::string> lines = lines_of(text, "\r\n");
  ASSERT_EQ(lines.size(), 5u) << text;
  EXPECT_EQ(lines[0],
            "key,owner,review,requests,input_tokens,cached_input_tokens,cache_write_tokens,"
            "output_tokens,reasoning_tokens,spend_usd,previous_spend_usd,change,fallback_share,"
            "estimated_share,outcome_accepted,outcome_rejected,outcome_retried,outcome_abandoned,"
            "cost_per_accepted_usd,daily_utilization,monthly_utilization,exceptions");
  EXPECT_EQ(lines[1],
            "support-assistant,support-platform,weekly,4,370,10,1,160,5,4.333333337,2,1.1666666685,"
            "0.25,0.25,2,1,0,0,2.166666669,0.0333333333,0.06333333337,0");
  EXPECT_EQ(lines[2],
            "search,search-team,monthly,2,1005,0,0,101,0,4.000000007,0,,0.5,0.5,1,0,0,0,"
            "4.000000007,,0.08000000014,0");
  EXPECT_EQ(lines[3], "legacy-bot,,,1,10,0,0,10,0,1,0,,0,0,0,0,0,0,,,,0");
  EXPECT_EQ(lines[4], "triage,support-platform,daily,1,0,0,0,0,0,0,0.25,-1,0,0,0,0,0,0,,,,0");
  EXPECT_TRUE(text.ends_with("\r\n"));
}

TEST_F(ReportRenderTest, CsvOfOtherGroupingsAndAnEmptyPeriod) {
  const std::string providers = render_csv(ledger_.report(GroupBy::provider));
  EXPECT_TRUE(providers.starts_with("key,owner,")) << providers;
  EXPECT_NE(providers.find("\r\nanthropic,,,1,200,0,0,80,0,2.500000003,0,,1,0,"), std::string::npos)
      << providers;
  const std::string empty = render_csv(
      ledger_.report(GroupBy::route, {at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z")}));
  EXPECT_EQ(lines_of(empty, "\r\n").size(), 1u) << "only the header";
}

TEST(ReportRenderCsvTest, QuotesFieldsWithCommasQuotesAndLineBreaks) {
  const std::string text = render_csv(awkward_report());
  EXPECT_NE(text.find("\r\n\"a,\"\"b\"\"\n<script>alert('x')</script>\",team & co,weekly,3,"),
            std::string::npos)
      << text;
}

// --- Table ---

TEST_F(ReportRenderTest, TableColumnsAreAligned) {
  const std::string text = render_table(ledger_.report(GroupBy::workflow));
  const std::vector<std::string> lines = lines_of(text);
  // Title, blank, header, rule, four rows, rule, total.
  ASSERT_GE(lines.size(), 10u) << text;
  EXPECT_TRUE(lines[2].starts_with("WORKFLOW")) << lines[2];
  const std::size_t width = lines[2].size();
  for (std::size_t i = 3; i < 10; ++i) EXPECT_EQ(lines[i].size(), width) << i << ": " << lines[i];
  // Figures end where their header ends.
  const std::size_t spend_end = lines[2].find("SPEND USD") + std::string_view("SPEND USD").size();
  EXPECT_EQ(lines[4].find("4.333333337") + std::string_view("4.333333337").size(), spend_end)
      << text;
  EXPECT_TRUE(lines[4].starts_with("support-assistant  support-platform  weekly")) << lines[4];
  EXPECT_NE(lines[4].find("+116.7%"), std::string::npos) << lines[4];
  EXPECT_NE(lines[4].find("2.166666669"), std::string::npos) << lines[4];
  EXPECT_TRUE(lines[9].starts_with("TOTAL")) << lines[9];
  EXPECT_NE(lines[9].find("9.333333344"), std::string::npos) << lines[9];
  EXPECT_NE(text.find("Note: budget utilization uses UTC"), std::string::npos) << text;
}

TEST_F(ReportRenderTest, TableOfEveryGroupingAndAnEmptyPeriod) {
  for (GroupBy by : {GroupBy::owner, GroupBy::provider, GroupBy::model, GroupBy::route}) {
    const std::string text = render_table(ledger_.report(by));
    std::string title(format::key_title(by));
    for (char& c : title) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_NE(text.find("\n" + title + "  "), std::string::npos) << text;
    EXPECT_NE(text.find("\nTOTAL "), std::string::npos) << text;
  }
  const std::string text = render_table(
      ledger_.report(GroupBy::workflow, {at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z")}));
  EXPECT_NE(text.find("(no requests)"), std::string::npos) << text;
  EXPECT_NE(text.find("Exceptions raised in the period: 0"), std::string::npos) << text;
}

TEST(ReportRenderTableTest, ControlCharactersCannotBreakTheLayout) {
  const std::string text = render_table(awkward_report());
  EXPECT_EQ(text.find("\n<script>"), std::string::npos) << text;
  EXPECT_NE(text.find("a,\"b\"?<script>"), std::string::npos) << text;
}

// --- HTML ---

TEST_F(ReportRenderTest, HtmlHasTheThreeChartsWithOneBarPerFigure) {
  const std::string html = render_html(ledger_.report(GroupBy::workflow));
  // Daily spend: support-assistant on four days, search on two, legacy-bot on one.
  EXPECT_EQ(testing::count_bars(html, "daily-spend"), 7u);
  EXPECT_EQ(testing::count_bars(html, "provider-spend"), 2u);
  // Only support-assistant and search have accepted outcomes.
  EXPECT_EQ(testing::count_bars(html, "cost-per-accepted"), 2u);
  EXPECT_NE(html.find("No accepted outcome: legacy-bot, triage."), std::string::npos);
  EXPECT_NE(html.find("data-series=\"search\" data-day=\"2026-11-26\""), std::string::npos);
  EXPECT_NE(html.find("<title>search, 2026-11-26: $4</title>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"text\">support-assistant</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">4.333333337</td>"), std::string::npos);
  EXPECT_NE(html.find("class=\"num up\">+116.7%</td>"), std::string::npos);
  EXPECT_NE(html.find("class=\"num down\">-100.0%</td>"), std::string::npos);
}

TEST_F(ReportRenderTest, HtmlIsSelfContained) {
  const std::string html = render_html(ledger_.report(GroupBy::workflow));
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_TRUE(html.ends_with("</html>\n"));
  for (std::string_view external : {"<script", "<link", "src=", "@import", "url(", "https://"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  // The SVG namespace is a name, not a fetch; nothing else names a web address.
  std::string without_namespace = html;
  for (std::size_t found;
       (found = without_namespace.find("http://www.w3.org/2000/svg")) != std::string::npos;) {
    without_namespace.erase(found, 26);
  }
  EXPECT_EQ(without_namespace.find("http://"), std::string::npos);
}

TEST_F(ReportRenderTest, HtmlOfAnEmptyPeriodStillHasItsCharts) {
  const std::string html = render_html(
      ledger_.report(GroupBy::workflow, {at("2027-03-01T00:00:00Z"), at("2027-03-08T00:00:00Z")}));
  for (std::string_view chart : {"daily-spend", "provider-spend", "cost-per-accepted"}) {
    EXPECT_EQ(testing::count_bars(html, chart), 0u) << chart;
  }
  EXPECT_NE(html.find("No spend in this period"), std::string::npos);
  EXPECT_NE(html.find("No requests in this period."), std::string::npos);
}

TEST_F(ReportRenderTest, HtmlOfOtherGroupings) {
  for (GroupBy by : {GroupBy::owner, GroupBy::provider, GroupBy::model, GroupBy::route}) {
    const std::string html = render_html(ledger_.report(by));
    EXPECT_NE(html.find("<h2>Spend by " + std::string(to_string(by)) + "</h2>"), std::string::npos);
    // The charts do not depend on the grouping.
    EXPECT_EQ(testing::count_bars(html, "daily-spend"), 7u) << to_string(by);
  }
}

TEST(ReportRenderHtmlTest, EscapesEveryName) {
  const std::string html = render_html(awkward_report());
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("<b>prov"), std::string::npos);
  EXPECT_EQ(html.find("<owner>"), std::string::npos);
  EXPECT_EQ(html.find("<angle>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("Call &lt;owner&gt; &amp; &quot;decide&quot;"), std::string::npos);
  EXPECT_EQ(testing::count_bars(html, "daily-spend"), 1u);
}

TEST(ReportRenderHtmlTest, ManyWorkflowsShareTheLastColour) {
  Report report = awkward_report();
  report.charts.workflow_days.clear();
  for (int i = 0; i < 12; ++i) {
    report.charts.workflow_days.push_back({"wf-" + std::to_string(i), {100 - i}});
  }
  const std::string html = render_html(report);
  // Eight workflows of their own and one `other` segment.
  EXPECT_EQ(testing::count_bars(html, "daily-spend"), 9u);
  EXPECT_NE(html.find("data-series=\"other\""), std::string::npos);
}

TEST(ReportFormatTest, FiguresAsPeopleReadThem) {
  EXPECT_EQ(format::percent(0.373333, true, "-"), "+37.3%");
  EXPECT_EQ(format::percent(-1.0, true, "-"), "-100.0%");
  EXPECT_EQ(format::percent(0.000342, false, "-"), "<0.1%");
  EXPECT_EQ(format::percent(0.0, false, "-"), "0.0%");
  EXPECT_EQ(format::percent(std::nullopt, false, "-"), "-");
  EXPECT_EQ(format::rounded_usd(1'234'565'000'000), "$1234.57");
  EXPECT_EQ(format::rounded_usd(3 * config::kNanoPerUsd), "$3.00");
  EXPECT_EQ(format::rounded_usd(12'500'000'000), "$12.50");
  EXPECT_EQ(format::rounded_usd(58'754'999), "$0.05875");
  EXPECT_EQ(format::rounded_usd(7), "$0.000000007");
  EXPECT_EQ(format::rounded_usd(0), "$0");
  EXPECT_EQ(format::count(1'234'567), "1,234,567");
  EXPECT_EQ(format::count(999), "999");
  EXPECT_EQ(format::decimal(0.25), "0.25");
  EXPECT_EQ(format::decimal(std::nullopt), "");
}

TEST(ReportRenderDispatchTest, FollowsTheFormat) {
  const Report report = awkward_report();
  EXPECT_EQ(render(report, ReportFormat::table), render_table(report));
  EXPECT_EQ(render(report, ReportFormat::csv), render_csv(report));
  EXPECT_EQ(render(report, ReportFormat::json), render_json(report));
  EXPECT_EQ(render(report, ReportFormat::html), render_html(report));
}

}  // namespace
}  // namespace spendwall::metering::report
