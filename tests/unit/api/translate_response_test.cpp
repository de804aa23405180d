#include "proxy/api/translate_response.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "translate_test_support.hpp"

namespace spendwall::api {
namespace {

using metering::ApiFormat;
using testing::json_equal;
using testing::read_translate_data;

constexpr std::string_view kClientModel = "my-route";
constexpr std::int64_t kCreated = 1700000000;

enum class Upstream { anthropic, openai };

TranslateResult translate(TranslationWorkspace& workspace, Upstream upstream, std::string_view body,
                          std::string& out) {
  const simdjson::padded_string padded(body);
  if (upstream == Upstream::anthropic) {
    return anthropic_to_openai_chat_response(workspace, padded, kClientModel, kCreated, out);
  }
  return openai_chat_to_anthropic_response(workspace, padded, kClientModel, out);
}

std::string translated(Upstream upstream, std::string_view body) {
  TranslationWorkspace workspace;
  std::string out;
  const TranslateResult result = translate(workspace, upstream, body, out);
  EXPECT_TRUE(result) << result.error().message;
  return out;
}

simdjson::dom::element parsed(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  return root;
}

// ---- Recorded responses --------------------------------------------------------------------

struct GoldenCase {
  std::string_view input;
  Upstream upstream;
  std::string_view expected;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.input; }

class TranslateResponseGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(TranslateResponseGoldenTest, MatchesTheExpectedTranslation) {
  const GoldenCase& c = GetParam();
  EXPECT_TRUE(json_equal(translated(c.upstream, read_translate_data(c.input)),
                         read_translate_data(c.expected)));
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, TranslateResponseGoldenTest,
    ::testing::Values(
        // Text blocks joined; usage with cache reads and writes.
        GoldenCase{"responses/anthropic_text.json", Upstream::anthropic,
                   "responses/anthropic_text.to_openai.json"},
        // Text plus two tool uses → content plus tool_calls with JSON-text arguments.
        GoldenCase{"responses/anthropic_tool_use.json", Upstream::anthropic,
                   "responses/anthropic_tool_use.to_openai.json"},
        // length → max_tokens; cached and reasoning tokens.
        GoldenCase{"responses/openai_text.json", Upstream::openai,
                   "responses/openai_text.to_anthropic.json"},
        // Tool calls → tool_use blocks with parsed input.
        GoldenCase{"responses/openai_tool_calls.json", Upstream::openai,
                   "responses/openai_tool_calls.to_anthropic.json"},
        // A refusal → a text block and stop_reason refusal.
        GoldenCase{"responses/openai_refusal.json", Upstream::openai,
                   "responses/openai_refusal.to_anthropic.json"}));

// ---- Stop reasons --------------------------------------------------------------------------

struct ReasonCase {
  std::string_view from;
  std::string_view to;
};

class TranslateAnthropicStopReasonTest : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(TranslateAnthropicStopReasonTest, BecomesFinishReason) {
  const std::string body = R"({"id":"m","type":"message","role":"assistant","content":[],
      "stop_reason":")" + std::string(GetParam().from) +
                           R"(","usage":{"input_tokens":1,"output_tokens":1}})";
  simdjson::dom::parser parser;
  std::string_view reason;
  EXPECT_EQ(
      parsed(parser, translated(Upstream::anthropic, body))["choices"].at(0)["finish_reason"].get(
          reason),
      simdjson::SUCCESS);
  EXPECT_EQ(reason, GetParam().to);
}

INSTANTIATE_TEST_SUITE_P(
    All, TranslateAnthropicStopReasonTest,
    ::testing::Values(ReasonCase{"end_turn", "stop"}, ReasonCase{"stop_sequence", "stop"},
                      ReasonCase{"max_tokens", "length"}, ReasonCase{"tool_use", "tool_calls"},
                      ReasonCase{"refusal", "content_filter"}, ReasonCase{"pause_turn", "stop"},
                      ReasonCase{"model_context_window_exceeded", "length"},
                      ReasonCase{"something_new", "stop"}));

class TranslateOpenAiFinishReasonTest : public ::testing::TestWithParam<ReasonCase> {};

TEST_P(TranslateOpenAiFinishReasonTest, BecomesStopReason) {
  const std::string body = R"({"id":"c","object":"chat.completion","choices":[{"index":0,
      "message":{"role":"assistant","content":"x"},"finish_reason":")" +
                           std::string(GetParam().from) + R"("}]})";
  simdjson::dom::parser parser;
  std::string_view reason;
  EXPECT_EQ(parsed(parser, translated(Upstream::openai, body))["stop_reason"].get(reason),
            simdjson::SUCCESS);
  EXPECT_EQ(reason, GetParam().to);
}

INSTANTIATE_TEST_SUITE_P(All, TranslateOpenAiFinishReasonTest,
                         ::testing::Values(ReasonCase{"stop", "end_turn"},
                                           ReasonCase{"length", "max_tokens"},
                                           ReasonCase{"tool_calls", "tool_use"},
                                           ReasonCase{"function_call", "tool_use"},
                                           ReasonCase{"content_filter", "refusal"}));

// ---- Usage ---------------------------------------------------------------------------------

struct UsageCase {
  std::string_view name;
  std::string_view usage;  ///< the upstream usage object
  std::string_view expected;
};

void PrintTo(const UsageCase& c, std::ostream* os) { *os << c.name; }

class TranslateAnthropicUsageTest : public ::testing::TestWithParam<UsageCase> {};

TEST_P(TranslateAnthropicUsageTest, BecomesOpenAiUsage) {
  const std::string body =
      R"({"id":"m","type":"message","content":[],"stop_reason":"end_turn","usage":)" +
      std::string(GetParam().usage) + "}";
  simdjson::dom::parser parser;
  simdjson::dom::element usage;
  ASSERT_EQ(parsed(parser, translated(Upstream::anthropic, body))["usage"].get(usage),
            simdjson::SUCCESS);
  EXPECT_TRUE(json_equal(simdjson::to_string(usage), GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    All, TranslateAnthropicUsageTest,
    ::testing::Values(UsageCase{"plain", R"({"input_tokens":10,"output_tokens":5})",
                                R"({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,
                      "prompt_tokens_details":{"cached_tokens":0}})"},
                      UsageCase{"cache_read_and_write",
                                R"({"input_tokens":10,"cache_read_input_tokens":200,
                      "cache_creation_input_tokens":30,"output_tokens":5})",
                                R"({"prompt_tokens":240,"completion_tokens":5,"total_tokens":245,
                      "prompt_tokens_details":{"cached_tokens":200}})"},
                      UsageCase{"nulls_are_zero",
                                R"({"input_tokens":3,"cache_read_input_tokens":null,
                      "cache_creation_input_tokens":null,"output_tokens":0})",
                                R"({"prompt_tokens":3,"completion_tokens":0,"total_tokens":3,
                      "prompt_tokens_details":{"cached_tokens":0}})"}),
    testing::param_name<UsageCase>);

class TranslateOpenAiUsageTest : public ::testing::TestWithParam<UsageCase> {};

TEST_P(TranslateOpenAiUsageTest, BecomesAnthropicUsage) {
  const std::string body = R"({"id":"c","choices":[{"index":0,"message":{"content":"x"},
      "finish_reason":"stop"}],"usage":)" +
                           std::string(GetParam().usage) + "}";
  simdjson::dom::parser parser;
  simdjson::dom::element usage;
  ASSERT_EQ(parsed(parser, translated(Upstream::openai, body))["usage"].get(usage),
            simdjson::SUCCESS);
  EXPECT_TRUE(json_equal(simdjson::to_string(usage), GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    All, TranslateOpenAiUsageTest,
    ::testing::Values(
        UsageCase{"plain", R"({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15})",
                  R"({"input_tokens":10,"cache_creation_input_tokens":0,
                      "cache_read_input_tokens":0,"output_tokens":5})"},
        UsageCase{"cached_and_reasoning",
                  R"({"prompt_tokens":1000,"completion_tokens":300,"total_tokens":1300,
                      "prompt_tokens_details":{"cached_tokens":800},
                      "completion_tokens_details":{"reasoning_tokens":256}})",
                  R"({"input_tokens":200,"cache_creation_input_tokens":0,
                      "cache_read_input_tokens":800,"output_tokens":300})"},
        UsageCase{"cached_above_prompt_clamps",
                  R"({"prompt_tokens":5,"completion_tokens":1,
                      "prompt_tokens_details":{"cached_tokens":9}})",
                  R"({"input_tokens":0,"cache_creation_input_tokens":0,
                      "cache_read_input_tokens":9,"output_tokens":1})"}),
    testing::param_name<UsageCase>);

// ---- Round trip ----------------------------------------------------------------------------

// Without cache writes (which OpenAI cannot express) an Anthropic message survives OpenAI
// and back: content, stop reason and usage.
TEST(TranslateResponseRoundTrip, AnthropicThroughOpenAiAndBack) {
  const std::string original = R"({"id":"msg_1","type":"message","role":"assistant",
      "model":"my-route","content":[{"type":"text","text":"Calling."},
      {"type":"tool_use","id":"toolu_1","name":"add","input":{"a":[1,2],"b":{"c":null}}}],
      "stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":40,
      "cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":12}})";

  const std::string back = translated(Upstream::openai, translated(Upstream::anthropic, original));

  EXPECT_TRUE(json_equal(back, original));
}

// ---- Bad upstream answers ------------------------------------------------------------------

TEST(TranslateResponse, UnreadableAnswersAreServerErrors) {
  struct Case {
    Upstream upstream;
    std::string_view body;
  };
  for (const Case& c : {
           Case{Upstream::anthropic, "not json"},
           Case{Upstream::anthropic, R"({"type":"message"})"},
           Case{Upstream::anthropic, R"({"type":"error","error":{"type":"api_error"}})"},
           Case{Upstream::anthropic,
                R"({"type":"message","content":[{"type":"tool_use","id":"t"}]})"},
           Case{Upstream::openai, R"({"choices":[]})"},
           Case{Upstream::openai, R"({"choices":[{"index":0}]})"},
           Case{Upstream::openai,
                R"({"choices":[{"message":{"content":[{"type":"text","text":"x"}]}}]})"},
           Case{Upstream::openai, R"({"choices":[{"message":{"tool_calls":[{"id":"c",
               "function":{"name":"f","arguments":"{\"truncated\":"}}]}}]})"},
           Case{Upstream::openai, R"({"choices":[{"message":{"tool_calls":[{"id":"c",
               "function":{"name":"f","arguments":"[1,2]"}}]}}]})"},
       }) {
    TranslationWorkspace workspace;
    std::string out;
    const TranslateResult result = translate(workspace, c.upstream, c.body, out);
    ASSERT_FALSE(result) << c.body;
    EXPECT_EQ(result.error().kind, ErrorKind::upstream_server_error) << c.body;
  }
}

// ---- Error bodies --------------------------------------------------------------------------

struct ErrorCase {
  std::string_view name;
  ApiFormat upstream;
  unsigned status;
  std::string_view body;
  std::string_view expected;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class TranslateErrorBodyTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TranslateErrorBodyTest, KeepsTheMessageInTheClientsShape) {
  const ErrorCase& c = GetParam();
  TranslationWorkspace workspace;
  std::string out = "stale";

  translate_error_body(workspace, c.upstream, c.status, c.body, out);

  EXPECT_TRUE(json_equal(out, c.expected));
}

constexpr std::string_view kOpenAiError =
    R"({"error":{"message":"Bad \"thing\"","type":"invalid_request_error","param":"x",
        "code":null}})";

INSTANTIATE_TEST_SUITE_P(
    All, TranslateErrorBodyTest,
    ::testing::Values(
        ErrorCase{"openai_400", ApiFormat::openai, 400, kOpenAiError,
                  R"({"type":"error","error":{"type":"invalid_request_error",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_401", ApiFormat::openai, 401, kOpenAiError,
                  R"({"type":"error","error":{"type":"authentication_error",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_403", ApiFormat::openai, 403, kOpenAiError,
                  R"({"type":"error","error":{"type":"permission_error",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_404", ApiFormat::openai, 404, kOpenAiError,
                  R"({"type":"error","error":{"type":"not_found_error",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_413", ApiFormat::openai, 413, kOpenAiError,
                  R"({"type":"error","error":{"type":"request_too_large",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_422", ApiFormat::openai, 422, kOpenAiError,
                  R"({"type":"error","error":{"type":"invalid_request_error",
                      "message":"Bad \"thing\""}})"},
        ErrorCase{"openai_429", ApiFormat::openai, 429,
                  R"({"error":{"message":"Rate limit","type":"requests",
                      "code":"rate_limit_exceeded"}})",
                  R"({"type":"error","error":{"type":"rate_limit_error",
                      "message":"Rate limit"}})"},
        ErrorCase{"openai_500", ApiFormat::openai, 500,
                  R"({"error":{"message":"oops","type":"server_error"}})",
                  R"({"type":"error","error":{"type":"api_error","message":"oops"}})"},
        ErrorCase{"openai_529", ApiFormat::openai, 529,
                  R"({"error":{"message":"busy","type":"server_error"}})",
                  R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})"},
        ErrorCase{"openai_unreadable", ApiFormat::openai, 502, "<html>Bad Gateway</html>",
                  R"({"type":"error","error":{"type":"api_error",
                      "message":"the provider answered with an undescribed error"}})"},
        ErrorCase{"anthropic_overloaded", ApiFormat::anthropic, 529,
                  R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},
                      "request_id":"req_1"})",
                  R"({"error":{"message":"Overloaded","type":"overloaded_error","code":null,
                      "param":null}})"},
        ErrorCase{"anthropic_invalid", ApiFormat::anthropic, 400,
                  R"({"type":"error","error":{"type":"invalid_request_error",
                      "message":"max_tokens: Field required"}})",
                  R"({"error":{"message":"max_tokens: Field required",
                      "type":"invalid_request_error","code":null,"param":null}})"},
        ErrorCase{"anthropic_unreadable", ApiFormat::anthropic, 500, "",
                  R"({"error":{"message":"the provider answered with an undescribed error",
                      "type":"api_error","code":null,"param":null}})"}),
    testing::param_name<ErrorCase>);

}  // namespace
}  // namespace spendwall::api
