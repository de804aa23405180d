// Microbenchmarks of the per-request hot path: body parse, usage extraction from a
// stream, cost and counter update. Run: ./build/bench/hot_path_bench
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "metering/cost.hpp"
#include "metering/metrics_registry.hpp"
#include "metering/sse.hpp"
#include "metering/stream_usage.hpp"
#include "metering/usage.hpp"
#include "proxy/api/request.hpp"
#include "proxy/api/rewrite.hpp"

namespace {

using namespace spendwall;

std::string read_data(const std::string& name) {
  std::ifstream file(std::string(SPENDWALL_TEST_DATA_DIR) + "/" + name, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

/// A ~1 KB chat request, as a typical SDK sends it.
std::string chat_body_1kb() {
  std::string body =
      R"({"model":"chat","messages":[{"role":"system","content":"You are a helpful assistant."},)"
      R"({"role":"user","content":")";
  body.append(880, 'x');
  body += R"("}],"temperature":0.2,"max_tokens":256,"stream":true})";
  return body;
}

void BM_RequestParse1KB(benchmark::State& state) {
  std::string body = chat_body_1kb();
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  api::RequestParser parser;
  for (auto _ : state) {
    auto parsed =
        parser.parse(metering::Endpoint::chat_completions,
                     simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_RequestParse1KB);

void BM_RequestParseAndRewrite1KB(benchmark::State& state) {
  std::string body = chat_body_1kb();
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  api::RequestParser parser;
  std::string out;
  for (auto _ : state) {
    auto parsed =
        parser.parse(metering::Endpoint::chat_completions,
                     simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    api::rewrite_body(body, parsed.value(), "gpt-4o-mini", true, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RequestParseAndRewrite1KB);

/// Framing and usage tracking of a recorded OpenAI chat stream, per SSE event.
void BM_StreamUsagePerEvent(benchmark::State& state) {
  const std::string stream = read_data("metering/chat_stream.sse");
  metering::UsageExtractor extractor;
  metering::StreamUsageTracker tracker(extractor, metering::Endpoint::chat_completions);
  metering::SseFramer framer(1 << 20);
  std::int64_t events = 0;
  for (auto _ : state) {
    framer.reset();
    tracker.reset(metering::Endpoint::chat_completions);
    std::string_view input = stream;
    metering::SseEvent event;
    while (framer.next(input, event)) {
      benchmark::DoNotOptimize(tracker.observe(event.name, event.data));
      ++events;
    }
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_StreamUsagePerEvent);

void BM_UsageFromBody(benchmark::State& state) {
  std::string body = read_data("metering/chat_cached.json");
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  metering::UsageExtractor extractor;
  for (auto _ : state) {
    auto usage = extractor.from_body(
        metering::Endpoint::chat_completions,
        simdjson::padded_string_view(body.data(), body.size(), body.capacity()));
    benchmark::DoNotOptimize(usage);
  }
}
BENCHMARK(BM_UsageFromBody);

/// Cost of one request plus its counter updates: what metering adds after the exchange.
void BM_CostAndCounters(benchmark::State& state) {
  metering::MetricsRegistry registry;
  metering::WorkerMetrics& metrics = registry.add_worker();
  metering::LabelId workflow = registry.labels().intern("support");
  metering::LabelId route = registry.labels().intern("chat");
  metering::LabelId provider = registry.labels().intern("openai");
  metering::LabelId model = registry.labels().intern("gpt-4o");
  config::Price price{2'500'000'000, 1'250'000'000, 2'500'000'000, 10'000'000'000, 10'000'000'000};
  metering::TokenUsage usage{1200, 300, 0, 250, 40};
  for (auto _ : state) {
    config::NanoUsd cost = metering::cost_nano_usd(usage, price);
    metrics.request_finished({.workflow = workflow,
                              .route = route,
                              .provider = provider,
                              .model = model,
                              .endpoint = metering::Endpoint::chat_completions,
                              .status = 200,
                              .tokens = usage,
                              .cost = cost,
                              .usage_estimated = false,
                              .proxy_overhead = std::chrono::microseconds(40)});
    benchmark::DoNotOptimize(cost);
  }
}
BENCHMARK(BM_CostAndCounters);

}  // namespace

BENCHMARK_MAIN();
