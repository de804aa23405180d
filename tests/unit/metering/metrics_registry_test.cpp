#include "metering/metrics_registry.hpp"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "config/build_info.hpp"
#include "metering/metric_names.hpp"
#include "metrics_test_support.hpp"

namespace spendwall::metering {
namespace {

using namespace std::chrono_literals;
using testing::counter_sum;
using testing::counter_value;
using testing::find_family;
using testing::find_series;
using testing::gauge_value;

/// A registry with one worker and the names most tests use.
class MetricsRegistryTest : public ::testing::Test {
 protected:
  explicit MetricsRegistryTest(const MetricsCapacity& capacity = {})
      : registry_(capacity), worker_(registry_.add_worker()) {}

  LabelId id(std::string_view name) { return registry_.labels().intern(name); }

  RequestSample chat_sample() {
    return {.workflow = id("support"),
            .route = id("fast"),
            .provider = id("openai"),
            .model = id("gpt-4o"),
            .endpoint = Endpoint::chat_completions,
            .status = 200};
  }

  MetricsRegistry registry_;
  WorkerMetrics& worker_;
};

TEST_F(MetricsRegistryTest, CostIsExportedExactly) {
  RequestSample sample = chat_sample();
  sample.cost = 123;
  for (int i = 0; i < 1'000; ++i) worker_.request_finished(sample);

  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_cost_usd_total",
                          {{"workflow", "support"},
                           {"route", "fast"},
                           {"provider", "openai"},
                           {"model", "gpt-4o"}}),
            0.000123);
  EXPECT_NE(render_metrics(registry_).find(
                "spendwall_cost_usd_total{workflow=\"support\",route=\"fast\",provider=\"openai\","
                "model=\"gpt-4o\"} 0.000123\n"),
            std::string::npos);
}

TEST_F(MetricsRegistryTest, CostSumsAcrossWorkersAndStatusesExactly) {
  WorkerMetrics& second = registry_.add_worker();
  RequestSample sample = chat_sample();
  sample.cost = 1'000'000'001;  // 1.000000001 USD
  worker_.request_finished(sample);
  sample.status = 502;
  second.request_finished(sample);
  second.request_finished(sample);

  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_cost_usd_total",
                          {{"workflow", "support"},
                           {"route", "fast"},
                           {"provider", "openai"},
                           {"model", "gpt-4o"}}),
            3.000000003);
  EXPECT_EQ(counter_sum(families, "spendwall_requests_total"), 3);
  EXPECT_EQ(find_family(families, "spendwall_cost_usd_total")->metric.size(), 1u);
}

TEST_F(MetricsRegistryTest, TokensPerKindSummedOverRoutes) {
  RequestSample sample = chat_sample();
  sample.tokens = {.input = 10, .cached_input = 5, .output = 7, .reasoning = 3};
  worker_.request_finished(sample);
  sample.route = id("cheap");
  worker_.request_finished(sample);

  const auto families = registry_.Collect();
  const auto tokens = [&](std::string_view type) {
    return counter_value(
        families, "spendwall_tokens_total",
        {{"workflow", "support"}, {"provider", "openai"}, {"model", "gpt-4o"}, {"type", type}});
  };
  EXPECT_EQ(tokens("input"), 20);
  EXPECT_EQ(tokens("cached_input"), 10);
  EXPECT_EQ(tokens("output"), 14);
  EXPECT_EQ(tokens("reasoning"), 6);
  EXPECT_EQ(tokens("cache_write"), -1) << "a kind never counted has no series";
  EXPECT_EQ(find_family(families, "spendwall_tokens_total")->metric.size(), 4u);
  EXPECT_EQ(find_family(families, "spendwall_cost_usd_total")->metric.size(), 0u)
      << "zero cost adds no series";
}

TEST_F(MetricsRegistryTest, UsageEstimatedCounted) {
  RequestSample sample = chat_sample();
  sample.usage_estimated = true;
  worker_.request_finished(sample);
  worker_.request_finished(sample);
  sample.usage_estimated = false;
  worker_.request_finished(sample);

  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_usage_estimated_total",
                          {{"workflow", "support"}, {"provider", "openai"}, {"model", "gpt-4o"}}),
            2);
}

TEST_F(MetricsRegistryTest, UnresolvedLabelsRenderEmpty) {
  worker_.request_finished(
      {.workflow = id("support"), .endpoint = Endpoint::messages, .status = 403});
  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_requests_total",
                          {{"workflow", "support"},
                           {"route", ""},
                           {"provider", ""},
                           {"model", ""},
                           {"endpoint", "/v1/messages"},
                           {"code", "403"}}),
            1);
  EXPECT_NE(render_metrics(registry_).find(
                "spendwall_requests_total{workflow=\"support\",route=\"\",provider=\"\",model=\"\","
                "endpoint=\"/v1/messages\",code=\"403\"} 1\n"),
            std::string::npos);
}

TEST_F(MetricsRegistryTest, LabelsStableAcrossReloadThatReordersWorkflows) {
  registry_.set_snapshot(testing::snapshot_with(
      {testing::workflow("support", "team-a"), testing::workflow("search", "team-b")}));
  const LabelId search = id("search");
  RequestSample sample = chat_sample();
  sample.workflow = search;
  worker_.request_finished(sample);

  registry_.set_snapshot(testing::snapshot_with({testing::workflow("billing", "team-c"),
                                                 testing::workflow("search", "team-b2"),
                                                 testing::workflow("support", "team-a")}));
  EXPECT_EQ(id("search"), search);
  sample.workflow = id("search");
  worker_.request_finished(sample);

  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_requests_total",
                          {{"workflow", "search"},
                           {"route", "fast"},
                           {"provider", "openai"},
                           {"model", "gpt-4o"},
                           {"endpoint", "/v1/chat/completions"},
                           {"code", "200"}}),
            2);
  const auto* info = find_family(families, "spendwall_workflow_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 3u);
  EXPECT_EQ(gauge_value(families, "spendwall_workflow_info",
                        {{"workflow", "search"},
                         {"owner", "team-b2"},
                         {"contact", "#team-b2"},
                         {"review", "quarterly"}}),
            1);
}

TEST_F(MetricsRegistryTest, HistogramBucketsAreInclusiveUpperBounds) {
  for (std::chrono::nanoseconds overhead :
       {-5ns, 0ns, 25'000ns, 25'001ns, 100'000'000ns, 100'000'001ns}) {
    worker_.proxy_overhead(Endpoint::models, overhead);
  }
  const auto families = registry_.Collect();
  const auto* series =
      find_series(families, "spendwall_proxy_overhead_seconds", {{"endpoint", "/v1/models"}});
  ASSERT_NE(series, nullptr);
  const auto& histogram = series->histogram;
  ASSERT_EQ(histogram.bucket.size(), kProxyOverheadBuckets.kBoundCount + 1);
  EXPECT_EQ(histogram.bucket[0].upper_bound, 25e-6);
  EXPECT_EQ(histogram.bucket[0].cumulative_count, 3u);  // -5ns (as 0), 0, 25us
  EXPECT_EQ(histogram.bucket[1].upper_bound, 50e-6);
  EXPECT_EQ(histogram.bucket[1].cumulative_count, 4u);
  EXPECT_EQ(histogram.bucket[10].cumulative_count, 4u);
  EXPECT_EQ(histogram.bucket[11].upper_bound, 0.1);
  EXPECT_EQ(histogram.bucket[11].cumulative_count, 5u);
  EXPECT_EQ(histogram.bucket[12].cumulative_count, 6u);  // +Inf
  EXPECT_EQ(histogram.sample_count, 6u);
  EXPECT_DOUBLE_EQ(histogram.sample_sum, (25'000 + 25'001 + 200'000'001) / 1e9);
}

TEST_F(MetricsRegistryTest, UpstreamAttemptsAndHistograms) {
  const LabelId openai = id("openai");
  const LabelId model = id("gpt-4o");
  worker_.attempt_finished({.provider = openai,
                            .model = model,
                            .result = AttemptResult::ok,
                            .duration = 5ms,
                            .time_to_first_token = 600s});
  worker_.attempt_finished({.provider = openai,
                            .model = model,
                            .result = attempt_result(config::FailureClass::rate_limited),
                            .duration = 601s});
  worker_.attempt_finished(
      {.provider = openai, .model = model, .result = AttemptResult::ok, .duration = 1500ms});

  const auto families = registry_.Collect();
  const testing::LabelPairs target{{"provider", "openai"}, {"model", "gpt-4o"}};
  EXPECT_EQ(counter_value(families, "spendwall_upstream_attempts_total",
                          {{"provider", "openai"}, {"model", "gpt-4o"}, {"result", "ok"}}),
            2);
  EXPECT_EQ(
      counter_value(families, "spendwall_upstream_attempts_total",
                    {{"provider", "openai"}, {"model", "gpt-4o"}, {"result", "rate_limited"}}),
      1);
  EXPECT_EQ(find_family(families, "spendwall_upstream_attempts_total")->metric.size(), 2u);

  const auto* duration = find_series(families, "spendwall_upstream_duration_seconds", target);
  ASSERT_NE(duration, nullptr);
  const auto& d = duration->histogram;
  EXPECT_EQ(d.bucket.front().upper_bound, 0.005);
  EXPECT_EQ(d.bucket.front().cumulative_count, 1u);  // exactly 5 ms
  EXPECT_EQ(d.bucket[7].upper_bound, 1.0);
  EXPECT_EQ(d.bucket[7].cumulative_count, 1u);
  EXPECT_EQ(d.bucket[8].upper_bound, 2.5);
  EXPECT_EQ(d.bucket[8].cumulative_count, 2u);
  EXPECT_EQ(d.bucket[15].upper_bound, 600.0);
  EXPECT_EQ(d.bucket[15].cumulative_count, 2u);
  EXPECT_EQ(d.bucket[16].cumulative_count, 3u);  // 601 s only in +Inf
  EXPECT_EQ(d.sample_sum, 602.505);

  const auto* first_token = find_series(families, "spendwall_time_to_first_token_seconds", target);
  ASSERT_NE(first_token, nullptr);
  EXPECT_EQ(first_token->histogram.sample_count, 1u);
  EXPECT_EQ(first_token->histogram.bucket[15].cumulative_count, 1u);  // 600 s is inside le=600
  EXPECT_EQ(first_token->histogram.bucket[14].cumulative_count, 0u);
}

TEST_F(MetricsRegistryTest, NoFirstTokenSeriesWithoutStreams) {
  worker_.attempt_finished({.provider = id("openai"), .model = id("gpt-4o"), .duration = 1s});
  const auto families = registry_.Collect();
  EXPECT_EQ(find_family(families, "spendwall_time_to_first_token_seconds")->metric.size(), 0u);
  EXPECT_EQ(find_family(families, "spendwall_upstream_duration_seconds")->metric.size(), 1u);
}

TEST_F(MetricsRegistryTest, FallbacksCarryBothTargetsAndReason) {
  worker_.fallback({.workflow = id("support"),
                    .route = id("fast"),
                    .from_provider = id("openai"),
                    .from_model = id("gpt-4o"),
                    .to_provider = id("anthropic"),
                    .to_model = id("claude-sonnet"),
                    .reason = config::FailureClass::timeout});
  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_fallbacks_total",
                          {{"workflow", "support"},
                           {"route", "fast"},
                           {"from_provider", "openai"},
                           {"from_model", "gpt-4o"},
                           {"to_provider", "anthropic"},
                           {"to_model", "claude-sonnet"},
                           {"reason", "timeout"}}),
            1);
}

TEST_F(MetricsRegistryTest, UnauthenticatedByEndpoint) {
  worker_.unauthenticated(Endpoint::chat_completions);
  worker_.unauthenticated(Endpoint::other);
  worker_.unauthenticated(Endpoint::other);
  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_unauthenticated_requests_total",
                          {{"endpoint", "/v1/chat/completions"}}),
            1);
  EXPECT_EQ(
      counter_value(families, "spendwall_unauthenticated_requests_total", {{"endpoint", "other"}}),
      2);
  EXPECT_EQ(counter_sum(families, "spendwall_requests_total"), 0);
}

TEST_F(MetricsRegistryTest, GaugesSumWorkersAndKeepZero) {
  WorkerMetrics& second = registry_.add_worker();
  const LabelId support = id("support");
  const LabelId openai = id("openai");
  worker_.active_requests_add(support, +1);
  worker_.active_requests_add(support, +1);
  second.active_requests_add(support, +1);
  second.active_requests_add(support, -1);
  worker_.upstream_connections_set(openai, 3, 1);
  worker_.upstream_connections_set(openai, 4, 2);  // replaces
  second.upstream_connections_set(openai, 1, 0);

  auto families = registry_.Collect();
  EXPECT_EQ(gauge_value(families, "spendwall_active_requests", {{"workflow", "support"}}), 2);
  EXPECT_EQ(gauge_value(families, "spendwall_upstream_connections",
                        {{"provider", "openai"}, {"state", "idle"}}),
            5);
  EXPECT_EQ(gauge_value(families, "spendwall_upstream_connections",
                        {{"provider", "openai"}, {"state", "active"}}),
            2);

  worker_.active_requests_add(support, -2);
  families = registry_.Collect();
  EXPECT_EQ(gauge_value(families, "spendwall_active_requests", {{"workflow", "support"}}), 0);
}

TEST_F(MetricsRegistryTest, ControlPlaneCounters) {
  const auto families_before = registry_.Collect();
  EXPECT_EQ(counter_value(families_before, "spendwall_config_reloads_total", {{"result", "ok"}}),
            0);
  EXPECT_EQ(counter_value(families_before, "spendwall_ledger_records_total", {}), 0);

  registry_.record_initial_config_load(std::chrono::system_clock::time_point(1'700'000'000s));
  registry_.record_config_reload(ReloadResult::rejected,
                                 std::chrono::system_clock::time_point(1'700'000'100s));
  registry_.record_config_reload(ReloadResult::ok,
                                 std::chrono::system_clock::time_point(1'700'000'200s));
  registry_.record_config_reload(ReloadResult::rejected,
                                 std::chrono::system_clock::time_point(1'700'000'300s));
  std::uint64_t records = 41;
  registry_.set_ledger_counters([&records] { return ++records; }, [] { return std::uint64_t{3}; });

  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_config_reloads_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(counter_value(families, "spendwall_config_reloads_total", {{"result", "rejected"}}), 2);
  EXPECT_EQ(gauge_value(families, "spendwall_config_last_reload_success_timestamp_seconds", {}),
            1'700'000'200.0);
  EXPECT_EQ(counter_value(families, "spendwall_ledger_records_total", {}), 42);
  EXPECT_EQ(counter_value(families, "spendwall_ledger_write_errors_total", {}), 3);
  EXPECT_EQ(gauge_value(families, "spendwall_build_info",
                        {{"version", config::kVersion}, {"commit", config::kCommit}}),
            1);
}

class StaticFamily final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family;
    family.name = "spendwall_budget_limit_usd";
    family.help = "test";
    family.type = prometheus::MetricType::Gauge;
    family.metric.emplace_back().gauge.value = 5;
    return {family};
  }
};

TEST_F(MetricsRegistryTest, ExtraCollectablesJoinWhileAlive) {
  auto extra = std::make_shared<const StaticFamily>();
  registry_.add_collectable(extra);
  auto families = registry_.Collect();
  ASSERT_NE(find_family(families, "spendwall_budget_limit_usd"), nullptr);
  EXPECT_TRUE(std::is_sorted(families.begin(), families.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));

  extra.reset();
  families = registry_.Collect();
  EXPECT_EQ(find_family(families, "spendwall_budget_limit_usd"), nullptr);
}

TEST_F(MetricsRegistryTest, EveryOwnFamilyIsPresentAndDeclared) {
  const auto families = registry_.Collect();
  ASSERT_EQ(families.size(), 18u);
  for (const auto& family : families) {
    const auto* def = std::find_if(kMetricDefs.begin(), kMetricDefs.end(),
                                   [&](const MetricDef& d) { return d.name == family.name; });
    ASSERT_NE(def, kMetricDefs.end()) << family.name;
    EXPECT_EQ(def->type, family.type) << family.name;
    EXPECT_EQ(def->help, family.help) << family.name;
    for (const auto& metric : family.metric) {
      ASSERT_EQ(metric.label.size(), def->label_count()) << family.name;
      for (std::size_t i = 0; i < metric.label.size(); ++i) {
        EXPECT_EQ(metric.label[i].name, def->labels[i]) << family.name;
      }
    }
  }
}

TEST_F(MetricsRegistryTest, RecordingAllocatesNothing) {
  const RequestSample chat = chat_sample();  // interning allocates; it is not per request
  const std::size_t before = testing::allocations_on_this_thread();
  for (std::uint16_t i = 0; i < 100; ++i) {
    RequestSample sample = chat;
    sample.status = static_cast<std::uint16_t>(200 + i);  // a new series every time
    sample.cost = 7;
    sample.tokens.input = 1;
    sample.proxy_overhead = 30us;
    worker_.request_finished(sample);
    worker_.attempt_finished(
        {.provider = i, .model = i, .duration = 1s, .time_to_first_token = 1ms});
    worker_.fallback({.workflow = i, .reason = config::FailureClass::server_error});
    worker_.unauthenticated(Endpoint::models);
    worker_.active_requests_add(i, 1);
    worker_.upstream_connections_set(i, 1, 1);
    worker_.proxy_overhead(Endpoint::budget, 10us);
  }
  EXPECT_EQ(testing::allocations_on_this_thread(), before);
}

/// Tiny tables, to see what happens when they fill up.
class MetricsOverflowTest : public MetricsRegistryTest {
 protected:
  MetricsOverflowTest()
      : MetricsRegistryTest(MetricsCapacity{
            .requests = 2, .upstream_targets = 1, .fallbacks = 1, .workflows = 1, .providers = 1}) {
  }
};

TEST_F(MetricsOverflowTest, FullRequestTableCountsIntoOtherSeries) {
  RequestSample sample = chat_sample();
  sample.cost = 10;
  sample.tokens.output = 2;
  for (int status : {200, 201, 202, 203, 204, 200}) {
    sample.status = static_cast<std::uint16_t>(status);
    worker_.request_finished(sample);
  }
  const auto families = registry_.Collect();
  EXPECT_EQ(find_family(families, "spendwall_requests_total")->metric.size(), 3u);
  EXPECT_EQ(counter_value(families, "spendwall_requests_total",
                          {{"workflow", "support"},
                           {"route", "fast"},
                           {"provider", "openai"},
                           {"model", "gpt-4o"},
                           {"endpoint", "/v1/chat/completions"},
                           {"code", "200"}}),
            2);
  EXPECT_EQ(counter_value(families, "spendwall_requests_total",
                          {{"workflow", "other"},
                           {"route", "other"},
                           {"provider", "other"},
                           {"model", "other"},
                           {"endpoint", "other"},
                           {"code", "other"}}),
            3);
  // Nothing is lost: totals stay exact across the real and the overflow series.
  EXPECT_EQ(counter_sum(families, "spendwall_requests_total"), 6);
  EXPECT_EQ(counter_sum(families, "spendwall_cost_usd_total"), 60e-9);
  EXPECT_EQ(
      counter_value(
          families, "spendwall_cost_usd_total",
          {{"workflow", "other"}, {"route", "other"}, {"provider", "other"}, {"model", "other"}}),
      30e-9);
  EXPECT_EQ(counter_sum(families, "spendwall_tokens_total"), 12);
}

TEST_F(MetricsOverflowTest, OtherTablesOverflowIntoOtherToo) {
  for (const char* provider : {"openai", "anthropic", "mistral"}) {
    worker_.attempt_finished({.provider = id(provider), .model = id("m"), .duration = 1s});
    worker_.fallback({.workflow = id(provider), .reason = config::FailureClass::timeout});
    worker_.active_requests_add(id(provider), 1);
  }
  const auto families = registry_.Collect();
  EXPECT_EQ(counter_value(families, "spendwall_upstream_attempts_total",
                          {{"provider", "other"}, {"model", "other"}, {"result", "ok"}}),
            2);
  EXPECT_EQ(counter_value(families, "spendwall_fallbacks_total",
                          {{"workflow", "other"},
                           {"route", "other"},
                           {"from_provider", "other"},
                           {"from_model", "other"},
                           {"to_provider", "other"},
                           {"to_model", "other"},
                           {"reason", "other"}}),
            2);
  EXPECT_EQ(gauge_value(families, "spendwall_active_requests", {{"workflow", "other"}}), 2);
  EXPECT_EQ(gauge_value(families, "spendwall_active_requests", {{"workflow", "openai"}}), 1);
}

TEST_F(MetricsOverflowTest, OverflowMergesWithARealOtherSeries) {
  RequestSample sample{.workflow = kOtherLabel,
                       .route = kOtherLabel,
                       .provider = kOtherLabel,
                       .model = kOtherLabel,
                       .endpoint = Endpoint::chat_completions,
                       .status = 200,
                       .cost = 1};
  worker_.request_finished(sample);
  sample.status = 201;
  worker_.request_finished(sample);
  sample.status = 202;  // the table is full now
  worker_.request_finished(sample);
  const auto families = registry_.Collect();
  EXPECT_EQ(find_family(families, "spendwall_cost_usd_total")->metric.size(), 1u)
      << "one label set, one series";
  EXPECT_EQ(counter_sum(families, "spendwall_cost_usd_total"), 3e-9);
}

}  // namespace
}  // namespace spendwall::metering
