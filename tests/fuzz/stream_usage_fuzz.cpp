// Usage extraction from the SSE events of each provider wire format (StreamUsageTracker over
// SseFramer), as the proxy meters a streamed response.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "metering/sse.hpp"
#include "metering/stream_usage.hpp"
#include "metering/usage.hpp"

namespace {

using spendwall::metering::Endpoint;
using spendwall::metering::TokenUsage;

// Mode byte: '0' chat, '1' responses, '2' legacy completions, '3' Anthropic messages.
constexpr std::array<Endpoint, 4> kWires{Endpoint::chat_completions, Endpoint::responses,
                                         Endpoint::completions, Endpoint::messages};

void check_bounded(const TokenUsage& usage) {
  using spendwall::fuzz::require;
  constexpr auto kMax = spendwall::metering::kMaxTokenCount;
  require(usage.input <= kMax && usage.cached_input <= kMax && usage.cache_write <= kMax &&
              usage.output <= kMax && usage.reasoning <= kMax,
          "reported token counts are bounded");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  // One extractor for the whole run, as a worker reuses one across streams.
  static spendwall::metering::UsageExtractor extractor;
  const auto input = spendwall::fuzz::split_mode(data, size, kWires.size());

  spendwall::metering::StreamUsageTracker tracker(extractor, kWires[input.mode]);
  spendwall::metering::SseFramer framer(1 << 20);
  framer.feed(input.payload,
              [&](std::string_view name, std::string_view event_data, std::string_view) {
                (void)tracker.observe(name, event_data);
                check_bounded(tracker.usage());
              });
  const auto settled = tracker.settle(input.payload.size());
  if (tracker.has_usage()) {
    require(settled.source == spendwall::metering::UsageSource::reported,
            "complete usage is recorded as reported");
    require(settled.tokens == tracker.usage(), "reported usage is recorded as it is");
  }
  return 0;
}
