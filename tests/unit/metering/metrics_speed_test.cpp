#include "metering/metrics_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "metrics_test_support.hpp"

// Quick loops that report the cost of the hot path and of a scrape. They assert nothing
// about time (sanitizer and debug builds are many times slower); the figures worth
// quoting come from a Release build.
namespace spendwall::metering {
namespace {

using Clock = std::chrono::steady_clock;

double nanoseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

TEST(MetricsSpeed, RequestFinishedLoop) {
  MetricsRegistry registry;
  WorkerMetrics& worker = registry.add_worker();
  std::vector<RequestSample> samples;
  for (int i = 0; i < 256; ++i) {  // a realistic working set of distinct series
    samples.push_back({.workflow = registry.labels().intern(testing::numbered("w", i % 16)),
                       .route = registry.labels().intern(testing::numbered("r", i % 4)),
                       .provider = registry.labels().intern("openai"),
                       .model = registry.labels().intern(testing::numbered("m", i % 8)),
                       .endpoint = Endpoint::chat_completions,
                       .status = static_cast<std::uint16_t>(i % 2 == 0 ? 200 : 429),
                       .tokens = {.input = 1000, .output = 200},
                       .cost = 12'345,
                       .proxy_overhead = std::chrono::microseconds(30 + i % 50)});
  }
  constexpr int kIterations = 2'000'000;
  const auto start = Clock::now();
  for (int i = 0; i < kIterations; ++i) {
    worker.request_finished(samples[static_cast<std::size_t>(i) & 255]);
  }
  const double per_call = nanoseconds_since(start) / kIterations;
  std::printf("[ metrics  ] request_finished: %.1f ns per call (256 live series)\n", per_call);
  RecordProperty("request_finished_ns", std::to_string(per_call));
  EXPECT_EQ(testing::counter_sum(registry.Collect(), "spendwall_requests_total"), kIterations);
}

TEST(MetricsSpeed, Render10kSeries) {
  MetricsRegistry registry;
  std::vector<WorkerMetrics*> workers;
  for (int w = 0; w < 4; ++w) workers.push_back(&registry.add_worker());
  const LabelId route = registry.labels().intern("fast");
  const LabelId provider = registry.labels().intern("openai");
  const LabelId model = registry.labels().intern("gpt-4o");
  for (int workflow = 0; workflow < 100; ++workflow) {
    const LabelId id = registry.labels().intern(testing::numbered("workflow-", workflow));
    for (int code = 0; code < 100; ++code) {
      workers[static_cast<std::size_t>(code % 4)]->request_finished(
          {.workflow = id,
           .route = route,
           .provider = provider,
           .model = model,
           .endpoint = Endpoint::chat_completions,
           .status = static_cast<std::uint16_t>(200 + code),
           .tokens = {.input = 10, .output = 5},
           .cost = 1'000});
    }
  }
  double best_collect = 1e30;
  double best_render = 1e30;
  std::size_t lines = 0;
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    const auto families = registry.Collect();
    best_collect = std::min(best_collect, nanoseconds_since(start));
    start = Clock::now();
    const std::string text = render_metrics(registry);
    best_render = std::min(best_render, nanoseconds_since(start));
    lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  std::printf("[ metrics  ] %zu exposition lines: Collect %.2f ms, Collect+render %.2f ms\n", lines,
              best_collect / 1e6, best_render / 1e6);
  RecordProperty("render_10k_ms", std::to_string(best_render / 1e6));
  EXPECT_GT(lines, 10'000u);
}

}  // namespace
}  // namespace spendwall::metering
