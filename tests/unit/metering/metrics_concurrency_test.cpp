#include "metering/metrics_registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "metrics_test_support.hpp"

namespace spendwall::metering {
namespace {

using namespace std::chrono_literals;

/// Exact integer total of a family whose values are integers scaled by `scale` (1e9 turns
/// USD back into nano-USD): each series is exact to far below one unit.
std::uint64_t exact_total(const std::vector<prometheus::MetricFamily>& families,
                          std::string_view name, double scale = 1) {
  std::uint64_t total = 0;
  if (const auto* family = testing::find_family(families, name)) {
    for (const auto& metric : family->metric) {
      total += static_cast<std::uint64_t>(std::llround(metric.counter.value * scale));
    }
  }
  return total;
}

// Each worker thread writes its own shard while a scraper folds all of them in a loop.
// Small tables make new series get published, and the overflow series used, during the
// scrapes. Every shared cell is an atomic and every key is published with release and
// read after acquire, so the test is also clean under -DSPENDWALL_SANITIZE=thread.
TEST(MetricsConcurrency, ScrapingWhileWorkersWriteEndsExact) {
  constexpr int kWorkers = 4;
  constexpr int kPerWorker = 20'000;
  constexpr config::NanoUsd kCost = 123;
  MetricsRegistry registry(MetricsCapacity{.requests = 256, .upstream_targets = 8});

  std::vector<LabelId> workflows;
  std::set<std::string> known_workflows{"other"};
  for (int i = 0; i < 8; ++i) {
    const std::string name = testing::numbered("workflow-", i);
    workflows.push_back(registry.labels().intern(name));
    known_workflows.insert(name);
  }
  const LabelId route = registry.labels().intern("fast");
  const LabelId provider = registry.labels().intern("openai");
  std::vector<LabelId> models;
  for (int i = 0; i < 16; ++i)
    models.push_back(registry.labels().intern(testing::numbered("m", i)));

  std::vector<WorkerMetrics*> shards;
  for (int w = 0; w < kWorkers; ++w) shards.push_back(&registry.add_worker());

  std::atomic<int> writing{kWorkers};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      while (!go.load()) std::this_thread::yield();
      WorkerMetrics& shard = *shards[static_cast<std::size_t>(w)];
      for (int i = 0; i < kPerWorker; ++i) {
        const auto workflow = workflows[static_cast<std::size_t>(i % 8)];
        shard.active_requests_add(workflow, +1);
        shard.request_finished({.workflow = workflow,
                                .route = route,
                                .provider = provider,
                                .model = models[static_cast<std::size_t>(i % 16)],
                                .endpoint = Endpoint::chat_completions,
                                .status = static_cast<std::uint16_t>(200 + i % 50),
                                .tokens = {.input = 3, .output = 2},
                                .cost = kCost,
                                .usage_estimated = i % 10 == 0,
                                .proxy_overhead = std::chrono::microseconds(i % 200)});
        shard.attempt_finished({.provider = provider,
                                .model = models[static_cast<std::size_t>(i % 16)],
                                .duration = std::chrono::milliseconds(i % 1000),
                                .time_to_first_token = 10ms});
        shard.active_requests_add(workflow, -1);
      }
      writing.fetch_sub(1);
    });
  }

  int scrapes = 0;
  std::uint64_t last_requests = 0;
  std::uint64_t last_cost = 0;
  go.store(true);
  while (writing.load() > 0 || scrapes < 3) {
    const auto families = registry.Collect();
    const auto requests = exact_total(families, "spendwall_requests_total");
    const auto cost = exact_total(families, "spendwall_cost_usd_total", 1e9);
    EXPECT_GE(requests, last_requests) << "a counter went backwards";
    EXPECT_GE(cost, last_cost) << "a counter went backwards";
    last_requests = requests;
    last_cost = cost;
    for (const auto& series : testing::find_family(families, "spendwall_requests_total")->metric) {
      EXPECT_TRUE(known_workflows.contains(series.label[0].value)) << series.label[0].value;
    }
    for (const auto& series :
         testing::find_family(families, "spendwall_upstream_duration_seconds")->metric) {
      EXPECT_EQ(series.histogram.bucket.back().cumulative_count, series.histogram.sample_count);
    }
    ++scrapes;
  }
  for (auto& thread : threads) thread.join();

  const auto families = registry.Collect();
  constexpr std::uint64_t kTotal = std::uint64_t{kWorkers} * kPerWorker;
  EXPECT_EQ(exact_total(families, "spendwall_requests_total"), kTotal);
  EXPECT_EQ(exact_total(families, "spendwall_cost_usd_total", 1e9), kTotal * kCost);
  EXPECT_EQ(exact_total(families, "spendwall_tokens_total"), kTotal * 5);
  EXPECT_EQ(exact_total(families, "spendwall_usage_estimated_total"), kTotal / 10);
  EXPECT_EQ(exact_total(families, "spendwall_upstream_attempts_total"), kTotal);
  EXPECT_EQ(testing::counter_value(families, "spendwall_requests_total",
                                   {{"workflow", "other"},
                                    {"route", "other"},
                                    {"provider", "other"},
                                    {"model", "other"},
                                    {"endpoint", "other"},
                                    {"code", "other"}}) > 0,
            true)
      << "400 combinations per worker overflow a 256-entry table";
  for (const auto& series : testing::find_family(families, "spendwall_active_requests")->metric) {
    EXPECT_EQ(series.gauge.value, 0) << series.label[0].value;
  }
  std::uint64_t overhead_count = 0;
  for (const auto& series :
       testing::find_family(families, "spendwall_proxy_overhead_seconds")->metric) {
    overhead_count += series.histogram.sample_count;
  }
  EXPECT_EQ(overhead_count, kTotal);
  RecordProperty("scrapes", scrapes);
}

}  // namespace
}  // namespace spendwall::metering
