#include "metering/usage.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "allocation_counter.hpp"
#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using testing::padded;
using testing::read_test_data;

struct BodyCase {
  std::string_view file;
  Endpoint wire;
  TokenUsage expected;
  std::uint64_t provider_total;  // the provider's own total, which the kinds must sum to
  std::uint64_t content_bytes;   // UTF-8 bytes of the answer's text, counted independently
};

// Expected kinds worked out by hand from each body's `usage` (PRODUCT.md §2 step 9).
const BodyCase kBodyCases[] = {
    {"chat_plain.json", Endpoint::chat_completions, {.input = 44, .output = 65}, 109, 323},
    // prompt 1291 of which 1152 cached
    {"chat_cached.json",
     Endpoint::chat_completions,
     {.input = 139, .cached_input = 1152, .output = 55},
     1346,
     263},
    // completion 1369 of which 1344 reasoning
    {"chat_reasoning.json",
     Endpoint::chat_completions,
     {.input = 63, .output = 25, .reasoning = 1344},
     1432,
     73},
    {"completion_legacy.json", Endpoint::completions, {.input = 12, .output = 17}, 29, 80},
    {"embeddings.json", Endpoint::embeddings, {.input = 46}, 46, 0},
    // input 1286 of which 1152 cached; output 290 of which 256 reasoning
    {"responses.json",
     Endpoint::responses,
     {.input = 134, .cached_input = 1152, .output = 34, .reasoning = 256},
     1576,
     192},
    {"anthropic_message.json",
     Endpoint::messages,
     {.input = 21, .cached_input = 2048, .cache_write = 312, .output = 62},
     21 + 2048 + 312 + 62,
     234},
};

class RecordedBodyTest : public ::testing::TestWithParam<BodyCase> {};

TEST_P(RecordedBodyTest, ExtractsDisjointKinds) {
  const BodyCase& c = GetParam();
  const auto body = padded(read_test_data(c.file));
  UsageExtractor extractor;
  const std::optional<TokenUsage> usage = extractor.from_body(c.wire, body);
  ASSERT_TRUE(usage);
  EXPECT_EQ(*usage, c.expected);
  EXPECT_EQ(usage->total(), c.provider_total);
  EXPECT_EQ(extractor.content_bytes_of_body(c.wire, body), c.content_bytes);
}

INSTANTIATE_TEST_SUITE_P(Payloads, RecordedBodyTest, ::testing::ValuesIn(kBodyCases),
                         [](const auto& case_info) {
                           return testing::case_name(case_info.param.file);
                         });

struct InlineCase {
  std::string_view name;
  Endpoint wire;
  std::string_view body;
  std::optional<TokenUsage> expected;
};

const InlineCase kInlineCases[] = {
    {"cached_above_prompt_clamps_at_zero", Endpoint::chat_completions,
     R"({"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":12}}})",
     TokenUsage{.input = 0, .cached_input = 12}},
    {"reasoning_above_output_clamps_at_zero", Endpoint::responses,
     R"({"usage":{"output_tokens":5,"output_tokens_details":{"reasoning_tokens":9}}})",
     TokenUsage{.output = 0, .reasoning = 9}},
    {"null_details_and_counts", Endpoint::chat_completions,
     R"({"usage":{"prompt_tokens":7,"completion_tokens":null,"prompt_tokens_details":null}})",
     TokenUsage{.input = 7}},
    {"usage_first_and_pretty", Endpoint::messages,
     "{\n  \"usage\" : { \"input_tokens\" : 3 , \"output_tokens\" : 4 },\n  \"id\": \"m\"\n}\n",
     TokenUsage{.input = 3, .output = 4}},
    {"embeddings_ignore_completion_fields", Endpoint::embeddings,
     R"({"usage":{"prompt_tokens":8,"completion_tokens":99,"total_tokens":8}})",
     TokenUsage{.input = 8}},
    {"largest_accepted_count", Endpoint::messages, R"({"usage":{"input_tokens":1099511627776}})",
     TokenUsage{.input = kMaxTokenCount}},
    {"count_over_limit", Endpoint::messages, R"({"usage":{"input_tokens":1099511627777}})",
     std::nullopt},
    {"negative_count", Endpoint::chat_completions, R"({"usage":{"prompt_tokens":-1}})",
     std::nullopt},
    {"fractional_count", Endpoint::chat_completions, R"({"usage":{"prompt_tokens":1.5}})",
     std::nullopt},
    {"string_count", Endpoint::chat_completions, R"({"usage":{"prompt_tokens":"12"}})",
     std::nullopt},
    {"details_not_an_object", Endpoint::chat_completions,
     R"({"usage":{"prompt_tokens":1,"prompt_tokens_details":3}})", std::nullopt},
    {"usage_without_counts", Endpoint::chat_completions, R"({"usage":{"total_tokens":5}})",
     std::nullopt},
    {"usage_null", Endpoint::chat_completions, R"({"id":"x","usage":null})", std::nullopt},
    {"usage_missing", Endpoint::chat_completions, R"({"id":"x"})", std::nullopt},
    {"usage_not_top_level", Endpoint::chat_completions,
     R"({"choices":[{"usage":{"prompt_tokens":1}}]})", std::nullopt},
    {"body_truncated", Endpoint::chat_completions, R"({"usage":{"prompt_tokens":1},"id":"x)",
     std::nullopt},
    {"trailing_garbage", Endpoint::chat_completions, R"({"usage":{"prompt_tokens":1}}})",
     std::nullopt},
    {"broken_usage_object", Endpoint::chat_completions, R"({"usage":{"prompt_tokens" 1}})",
     std::nullopt},
    {"not_json", Endpoint::chat_completions, "upstream connect error", std::nullopt},
    {"empty_body", Endpoint::chat_completions, "", std::nullopt},
    {"unmetered_endpoint", Endpoint::models, R"({"usage":{"prompt_tokens":1}})", std::nullopt},
};

class InlineBodyTest : public ::testing::TestWithParam<InlineCase> {};

TEST_P(InlineBodyTest, ReadsOrRejects) {
  const InlineCase& c = GetParam();
  UsageExtractor extractor;
  EXPECT_EQ(extractor.from_body(c.wire, padded(c.body)), c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, InlineBodyTest, ::testing::ValuesIn(kInlineCases),
                         [](const auto& case_info) {
                           return testing::case_name(case_info.param.name);
                         });

TEST(UsageExtractor, ReadsUsageJsonWithoutPadding) {
  UsageExtractor extractor;
  const std::string usage = R"({"input_tokens":5,"cache_read_input_tokens":7,"output_tokens":2})";
  EXPECT_EQ(extractor.from_usage_json(Endpoint::messages, usage),
            (TokenUsage{.input = 5, .cached_input = 7, .output = 2}));
  EXPECT_EQ(extractor.from_usage_json(Endpoint::messages, "null"), std::nullopt);
  EXPECT_EQ(extractor.from_usage_json(Endpoint::messages, ""), std::nullopt);
  EXPECT_EQ(extractor.from_usage_json(Endpoint::messages, R"({"input_tokens":1} {})"),
            std::nullopt);
  EXPECT_EQ(extractor.from_usage_json(Endpoint::messages, R"({"input_tokens":1)"), std::nullopt);
}

TEST(UsageExtractor, CopiesTheUsageWhenTheBodyLacksPadding) {
  const std::string body = R"({"id":"x","usage":{"prompt_tokens":5,"completion_tokens":2}})";
  UsageExtractor extractor;
  EXPECT_EQ(
      extractor.from_body(Endpoint::chat_completions,
                          simdjson::padded_string_view(body.data(), body.size(), body.size())),
      (TokenUsage{.input = 5, .output = 2}));
}

TEST(UsageExtractor, ContentBytesOfUnreadableBodiesAreZero) {
  UsageExtractor extractor;
  EXPECT_EQ(extractor.content_bytes_of_body(Endpoint::chat_completions, padded("not json")), 0u);
  EXPECT_EQ(extractor.content_bytes_of_body(Endpoint::chat_completions,
                                            padded(R"({"choices":[{"message":{"content":"ab)")),
            0u);
  EXPECT_EQ(extractor.content_bytes_of_body(Endpoint::messages, padded(R"({"id":"x"})")), 0u);
}

TEST(UsageExtractor, ContentBytesCountToolCallArguments) {
  UsageExtractor extractor;
  const auto body = padded(R"({"choices":[{"message":{"content":null,"tool_calls":[{"function":)"
                           R"({"name":"f","arguments":"{\"a\":1}"}}]}}]})");
  EXPECT_EQ(extractor.content_bytes_of_body(Endpoint::chat_completions, body),
            std::string_view(R"({"a":1})").size());
}

TEST(UsageExtractor, ReadsALargeBodyWithUsageAtTheEnd) {
  // An embeddings answer near the 64 MiB response limit: 1,900 vectors of 3,072 numbers.
  std::string body = R"({"object":"list","data":[)";
  std::string vector = "[";
  for (int i = 0; i < 3072; ++i) vector += (i ? ",-0.0123456" : "-0.0123456");
  vector += "]";
  for (int i = 0; i < 1900; ++i) {
    body += (i ? "," : "");
    body +=
        R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)" + vector + "}";
  }
  body +=
      R"(],"model":"text-embedding-3-large","usage":{"prompt_tokens":123456,"total_tokens":123456}})";
  ASSERT_GT(body.size(), std::size_t{32} << 20);
  UsageExtractor extractor;
  EXPECT_EQ(extractor.from_body(Endpoint::embeddings, padded(body)), TokenUsage{.input = 123456});
}

TEST(UsageExtractor, AllocatesNothingOnceWarm) {
  const auto body = padded(read_test_data("responses.json"));
  UsageExtractor extractor;
  ASSERT_TRUE(extractor.from_body(Endpoint::responses, body));
  ASSERT_TRUE(extractor.from_usage_json(Endpoint::messages, R"({"input_tokens":1})"));
  const std::size_t before = testing::allocations_on_this_thread();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(extractor.from_body(Endpoint::responses, body));
    ASSERT_TRUE(extractor.from_usage_json(Endpoint::messages, R"({"input_tokens":1})"));
  }
  EXPECT_EQ(testing::allocations_on_this_thread(), before);
}

}  // namespace
}  // namespace spendwall::metering
