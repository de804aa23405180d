#include "metering/estimate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "metering/sse.hpp"
#include "metering/stream_usage.hpp"
#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using testing::padded;
using testing::read_test_data;

TEST(EstimateTokens, RoundsUp) {
  EXPECT_EQ(estimate_tokens(0), 0u);
  EXPECT_EQ(estimate_tokens(1), 1u);
  EXPECT_EQ(estimate_tokens(4), 1u);
  EXPECT_EQ(estimate_tokens(5), 2u);
  EXPECT_EQ(estimate_tokens(400), 100u);
}

TEST(EstimateUsage, CountsUncachedInputAndVisibleOutputOnly) {
  EXPECT_EQ(estimate_usage(4'000, 802), (TokenUsage{.input = 1'000, .output = 201}));
  static_assert(estimate_usage(0, 0) == TokenUsage{});
}

/// Decoded bytes of the strings a request's text is made of: message contents, prompt,
/// input, instructions.
std::uint64_t request_text_bytes(std::string_view request_json) {
  namespace ondemand = simdjson::ondemand;
  ondemand::parser parser;
  const auto json = padded(request_json);
  ondemand::document document;
  ondemand::object request;
  EXPECT_FALSE(parser.iterate(json).get(document) || document.get_object().get(request));
  std::uint64_t bytes = 0;
  auto add_string = [&](ondemand::value value) {
    std::string_view text;
    if (!value.get_string().get(text)) bytes += text.size();
  };
  for (auto member : request) {
    ondemand::field field;
    std::string_view key;
    EXPECT_FALSE(std::move(member).get(field) || field.unescaped_key().get(key));
    ondemand::array array;
    if (key == "messages" && !field.value().get_array().get(array)) {
      for (auto message : array) {
        ondemand::object object;
        ondemand::value content;
        if (!message.get_object().get(object) &&
            !object.find_field_unordered("content").get(content)) {
          add_string(content);
        }
      }
    } else if (key == "input" && !field.value().get_array().get(array)) {
      for (auto item : array) {
        ondemand::value value;
        if (!item.get(value)) add_string(value);
      }
    } else if (key == "prompt" || key == "input" || key == "instructions") {
      add_string(field.value());
    }
  }
  return bytes;
}

double relative_error(std::uint64_t estimate, std::uint64_t actual) {
  return (static_cast<double>(estimate) - static_cast<double>(actual)) /
         static_cast<double>(actual);
}

// Input: the request's text against the provider's whole input count (the tokenizer's
// count plus the chat format's few tokens per message). docs/design/usage-estimation.md
// states these figures; the bound keeps them honest.
struct InputCase {
  std::string_view request;
  std::string_view response;
  Endpoint wire;
};

const InputCase kInputCases[] = {
    {"chat_plain.request.json", "chat_plain.json", Endpoint::chat_completions},
    {"chat_cached.request.json", "chat_cached.json", Endpoint::chat_completions},
    {"chat_reasoning.request.json", "chat_reasoning.json", Endpoint::chat_completions},
    {"completion_legacy.request.json", "completion_legacy.json", Endpoint::completions},
    {"embeddings.request.json", "embeddings.json", Endpoint::embeddings},
    {"responses.request.json", "responses.json", Endpoint::responses},
};

constexpr double kMeasuredInputErrorBound = 0.30;
constexpr double kMeasuredOutputErrorBound = 0.45;

TEST(EstimateError, InputFromRequestTextAgainstRecordedPayloads) {
  UsageExtractor extractor;
  for (const InputCase& c : kInputCases) {
    const std::uint64_t text_bytes = request_text_bytes(read_test_data(c.request));
    const auto reported = extractor.from_body(c.wire, padded(read_test_data(c.response)));
    ASSERT_TRUE(reported) << c.response;
    const std::uint64_t actual = reported->input + reported->cached_input;
    const double error = relative_error(estimate_usage(text_bytes, 0).input, actual);
    std::printf("input  %-24s %6llu bytes %6llu tokens  error %+5.1f%%\n",
                std::string(c.response).c_str(), static_cast<unsigned long long>(text_bytes),
                static_cast<unsigned long long>(actual), error * 100);
    EXPECT_LE(std::fabs(error), kMeasuredInputErrorBound) << c.response;
  }
}

// Output: the content bytes a tracker counted on each recorded stream against the visible
// output tokens the provider reported at its end.
TEST(EstimateError, OutputFromRelayedContentAgainstRecordedStreams) {
  struct StreamCase {
    std::string_view file;
    Endpoint wire;
  };
  const StreamCase streams[] = {
      {"chat_stream.sse", Endpoint::chat_completions},
      {"completion_legacy_stream.sse", Endpoint::completions},
      {"responses_stream.sse", Endpoint::responses},
  };
  UsageExtractor json;
  for (const StreamCase& c : streams) {
    SseFramer framer(1 << 20);
    StreamUsageTracker tracker(json, c.wire);
    framer.feed(read_test_data(c.file), [&](std::string_view name, std::string_view data,
                                            std::string_view) { tracker.observe(name, data); });
    ASSERT_TRUE(tracker.has_usage()) << c.file;
    const double error =
        relative_error(estimate_tokens(tracker.content_bytes()), tracker.usage().output);
    std::printf("output %-24s %6llu bytes %6llu tokens  error %+5.1f%%\n",
                std::string(c.file).c_str(),
                static_cast<unsigned long long>(tracker.content_bytes()),
                static_cast<unsigned long long>(tracker.usage().output), error * 100);
    EXPECT_LE(std::fabs(error), kMeasuredOutputErrorBound) << c.file;
  }
}

// A cut stream: 20 one-token chunks were relayed before the cut.
TEST(EstimateError, CutStreamAgainstTokensRelayed) {
  UsageExtractor json;
  SseFramer framer(1 << 20);
  StreamUsageTracker tracker(json, Endpoint::chat_completions);
  framer.feed(read_test_data("chat_stream_truncated.sse"),
              [&](std::string_view name, std::string_view data, std::string_view) {
                tracker.observe(name, data);
              });
  const MeteredUsage settled = tracker.settle(0);
  const double error = relative_error(settled.tokens.output, 20);
  std::printf("output cut after 20 tokens       %6llu bytes %6d tokens  error %+5.1f%%\n",
              static_cast<unsigned long long>(tracker.content_bytes()), 20, error * 100);
  EXPECT_LE(std::fabs(error), kMeasuredOutputErrorBound);
}

}  // namespace
}  // namespace spendwall::metering
