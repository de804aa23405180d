#include "proxy/api/request.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace spendwall::api {
namespace {

using metering::Endpoint;

std::string data_path(std::string_view file) {
  return std::string(SPENDWALL_TEST_DATA_DIR) + "/api/requests/" + std::string(file);
}

std::string_view span_text(std::string_view body, ByteSpan span) {
  return body.substr(span.offset, span.length);
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// ---- Valid bodies: one recorded body per metered endpoint shape -------------------------

struct ValidCase {
  std::string_view file;
  Endpoint endpoint;
  std::string_view model;
  bool stream;
  bool include_usage_requested;
  std::optional<std::uint64_t> max_output_tokens;
  InputStats input;
};

void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.file; }

class ValidBodyTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidBodyTest, ReadsFieldsStatsAndSpans) {
  const ValidCase& expected = GetParam();
  simdjson::padded_string body;
  ASSERT_EQ(simdjson::padded_string::load(data_path(expected.file)).get(body), simdjson::SUCCESS);
  RequestParser parser;

  const ParseOutcome outcome = parser.parse(expected.endpoint, body);

  ASSERT_TRUE(outcome) << outcome.error().message;
  const ParsedRequest& request = *outcome;
  EXPECT_EQ(request.endpoint, expected.endpoint);
  EXPECT_EQ(request.model.view(), expected.model);
  EXPECT_EQ(request.stream, expected.stream);
  EXPECT_EQ(request.include_usage_requested, expected.include_usage_requested);
  EXPECT_EQ(request.max_output_tokens, expected.max_output_tokens);
  EXPECT_EQ(request.input.text_bytes, expected.input.text_bytes);
  EXPECT_EQ(request.input.message_count, expected.input.message_count);
  EXPECT_EQ(request.input.media_parts, expected.input.media_parts);

  const std::string_view text(body.data(), body.size());
  EXPECT_EQ(text[request.object_offset], '{');
  EXPECT_EQ(span_text(text, request.model_span), "\"" + std::string(expected.model) + "\"");
  if (expected.include_usage_requested) {
    ASSERT_TRUE(request.stream_options_span.has_value());
    EXPECT_EQ(span_text(text, *request.stream_options_span), R"({"include_usage":true})");
    ASSERT_TRUE(request.include_usage_span.has_value());
    EXPECT_EQ(span_text(text, *request.include_usage_span), "true");
  } else {
    EXPECT_FALSE(request.stream_options_span.has_value());
    EXPECT_FALSE(request.include_usage_span.has_value());
  }
}

// Expected stats follow InputStats' rule: string bytes and member names inside the
// input-bearing fields, one per number or literal, media parts counted apart.
// clang-format off
const ValidCase kValidCases[] = {
    // file                           endpoint                    model                     stream usage  limit {bytes, msgs, media}
    {"chat_basic.json",               Endpoint::chat_completions, "gpt-4o-mini",            false, false, 256,  {75, 2, 0}},
    // Both chat limits are honoured; the larger one bounds the reservation.
    {"chat_stream_parts.json",        Endpoint::chat_completions, "fast",                   true,  true,  1000, {256, 3, 1}},
    {"responses_string.json",         Endpoint::responses,        "openai/gpt-4.1",         true,  false, 2048, {46, 1, 0}},
    // An input_file part is a media part, and its bytes (here only an id) count too.
    {"responses_array.json",          Endpoint::responses,        "reasoner",               false, false, 64,   {117, 2, 2}},
    {"embeddings_strings.json",       Endpoint::embeddings,       "text-embedding-3-small", false, false, {},   {24, 0, 0}},
    // Pre-tokenised input: one per token id.
    {"embeddings_tokens.json",        Endpoint::embeddings,       "embed",                  false, false, {},   {6, 0, 0}},
    {"completions_prompt.json",       Endpoint::completions,      "gpt-3.5-turbo-instruct", true,  false, 16,   {19, 0, 0}},
    {"messages_system_string.json",   Endpoint::messages,         "claude-sonnet-4",        false, false, 1024, {56, 1, 0}},
    // Images, including one nested in a tool_result, are media parts.
    {"messages_blocks.json",          Endpoint::messages,         "anthropic/claude-haiku", true,  false, 4096, {316, 3, 2}},
    // A text document is a media part whose text counts as well.
    {"messages_document.json",        Endpoint::messages,         "claude-sonnet-4",        false, false, 300,  {138, 1, 1}},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(RecordedBodies, ValidBodyTest, testing::ValuesIn(kValidCases),
                         [](const testing::TestParamInfo<ValidCase>& instance) {
                           const std::string_view file = instance.param.file;
                           return std::string(file.substr(0, file.find('.')));
                         });

// ---- Field rules on small inline bodies --------------------------------------------------

class RequestParserTest : public testing::Test {
 protected:
  ParseOutcome parse(std::string_view text, Endpoint endpoint = Endpoint::chat_completions) {
    body_ = simdjson::padded_string(text);
    return parser_.parse(endpoint, body_);
  }
  std::string_view text() const { return {body_.data(), body_.size()}; }

  RequestParser parser_;
  simdjson::padded_string body_;
};

TEST_F(RequestParserTest, CountsTextAsUtf8Bytes) {
  const ParseOutcome outcome =
      parse(R"({"model":"m","messages":[{"role":"user","content":"h\u00e9llo"}]})");
  ASSERT_TRUE(outcome);
  // "role" + "content" + "user" + "héllo" (é is two bytes once unescaped).
  EXPECT_EQ(outcome->input.text_bytes, 4u + 7u + 4u + 6u);
  EXPECT_EQ(outcome->input.message_count, 1u);
}

TEST_F(RequestParserTest, IgnoresFieldsTheEndpointDoesNotBill) {
  // `prompt` and `input` are not chat fields, `messages` is not an embeddings field.
  const ParseOutcome chat = parse(R"({"model":"m","prompt":"abcdef","input":"xyz"})");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->input.text_bytes, 0u);
  const ParseOutcome embeddings =
      parse(R"({"model":"m","messages":[{"content":"x"}],"input":"abc"})", Endpoint::embeddings);
  ASSERT_TRUE(embeddings);
  EXPECT_EQ(embeddings->input.text_bytes, 3u);
  EXPECT_EQ(embeddings->input.message_count, 0u);
}

TEST_F(RequestParserTest, MaxTokensBoundsAreInclusive) {
  EXPECT_EQ(parse(R"({"model":"m","max_tokens":1})")->max_output_tokens, 1u);
  EXPECT_EQ(parse(R"({"model":"m","max_tokens":10000000})")->max_output_tokens, 10'000'000u);
}

TEST_F(RequestParserTest, OnlyHonouredLimitsBoundTheOutput) {
  // Chat ignores `max_output_tokens`, so it must not shrink the reservation.
  const ParseOutcome chat = parse(R"({"model":"m","max_output_tokens":5})");
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->max_output_tokens, std::nullopt);
  const ParseOutcome responses =
      parse(R"({"model":"m","max_tokens":7,"max_output_tokens":9})", Endpoint::responses);
  ASSERT_TRUE(responses);
  EXPECT_EQ(responses->max_output_tokens, 9u);
}

TEST_F(RequestParserTest, NullOptionalFieldsCountAsAbsent) {
  const ParseOutcome outcome =
      parse(R"({"model":"m","stream":null,"max_tokens":null,"stream_options":null})");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_FALSE(outcome->stream);
  EXPECT_EQ(outcome->max_output_tokens, std::nullopt);
  EXPECT_FALSE(outcome->include_usage_requested);
  // The span of a null stream_options is kept so that a rewrite can replace it.
  ASSERT_TRUE(outcome->stream_options_span.has_value());
  EXPECT_EQ(span_text(text(), *outcome->stream_options_span), "null");
}

TEST_F(RequestParserTest, ReadsIncludeUsageFalseAndItsSpan) {
  const ParseOutcome outcome = parse(
      R"({"model":"m","stream":true,"stream_options": { "other" : 1, "include_usage" : false } })");
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->stream);
  EXPECT_FALSE(outcome->include_usage_requested);
  ASSERT_TRUE(outcome->include_usage_span.has_value());
  EXPECT_EQ(span_text(text(), *outcome->include_usage_span), "false");
  EXPECT_EQ(span_text(text(), *outcome->stream_options_span),
            R"({ "other" : 1, "include_usage" : false })");
}

TEST_F(RequestParserTest, FindsTopLevelModelAfterNestedLookalikes) {
  const ParseOutcome outcome = parse(
      "\n\t {\"messages\":[{\"role\":\"user\",\"content\":\"a \\\"}{[ "
      "\\\\\",\"model\":\"nested\"}],"
      "\"metadata\":{\"model\":\"deep\",\"stream_options\":{}},\"note\":\"\\\"model\\\":"
      "\\\"x\\\"\","
      " \"model\" :  \"real\"  }");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->model.view(), "real");
  EXPECT_EQ(span_text(text(), outcome->model_span), "\"real\"");
  EXPECT_EQ(outcome->object_offset, 3u);
  EXPECT_FALSE(outcome->stream_options_span.has_value());
}

TEST_F(RequestParserTest, UnescapesModel) {
  // PHP's json_encode escapes slashes.
  const ParseOutcome outcome = parse(R"({"model":"openai\/gpt-4o"})");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->model.view(), "openai/gpt-4o");
  EXPECT_EQ(span_text(text(), outcome->model_span), R"("openai\/gpt-4o")");
}

TEST_F(RequestParserTest, ModelOfMaximumLengthIsAccepted) {
  const std::string model(ModelName::kMaxBytes, 'm');
  const ParseOutcome outcome = parse(R"({"model":")" + model + R"("})");
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->model.view(), model);
}

TEST_F(RequestParserTest, ParsedRequestOutlivesTheNextParse) {
  const ParseOutcome first = parse(R"({"model":"first"})");
  const ParseOutcome second = parse(R"({"model":"second"})");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->model.view(), "first");
  EXPECT_EQ(second->model.view(), "second");
}

TEST_F(RequestParserTest, AcceptsNestingOf128AndGrowsForLargeBodies) {
  // The body object is one level; 127 arrays inside make 128.
  EXPECT_TRUE(parse(R"({"model":"m","x":)" + nested_arrays(127) + "}"));
  const std::string large_text(1 << 20, 'a');
  const ParseOutcome large =
      parse(R"({"model":"m","prompt":")" + large_text + R"("})", Endpoint::completions);
  ASSERT_TRUE(large);
  EXPECT_EQ(large->input.text_bytes, large_text.size());
  // Growing for a large body keeps the depth limit.
  EXPECT_FALSE(parse(R"({"model":"m","x":)" + nested_arrays(128) + "}"));
}

TEST_F(RequestParserTest, UnmeteredEndpointIsAnInternalError) {
  const ParseOutcome outcome = parse(R"({"model":"m"})", Endpoint::feedback);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, ErrorKind::internal);
}

// ---- Every 400 -----------------------------------------------------------------------------

struct InvalidCase {
  std::string_view name;
  std::string body;
  std::string_view param;  ///< empty: no single field to blame
  Endpoint endpoint = Endpoint::chat_completions;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidBodyTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidBodyTest, IsInvalidRequestNamingTheField) {
  const InvalidCase& c = GetParam();
  const simdjson::padded_string body(c.body);
  RequestParser parser;

  const ParseOutcome outcome = parser.parse(c.endpoint, body);

  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(outcome.error().param, c.param);
  EXPECT_FALSE(outcome.error().message.empty());
  if (!c.param.empty()) {
    EXPECT_NE(outcome.error().message.find(c.param), std::string_view::npos);
  }
}

std::string with_max_tokens(std::string_view value, std::string_view field = "max_tokens") {
  return R"({"model":"m",")" + std::string(field) + "\":" + std::string(value) + "}";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidBodyTest,
    testing::Values(
        InvalidCase{"trailing_comma", R"({"model":"m",})", {}},
        InvalidCase{"unterminated_object", R"({"model":"m")", {}},
        InvalidCase{"unterminated_string", R"({"model":"m)", {}},
        InvalidCase{"not_json", "model=m", {}}, InvalidCase{"empty", "", {}},
        InvalidCase{"whitespace_only", " \n ", {}},
        InvalidCase{"trailing_content", R"({"model":"m"} {})", {}},
        InvalidCase{"raw_control_char_in_string", "{\"model\":\"m\x01\"}", {}},
        InvalidCase{"array_body", R"([{"model":"m"}])", {}},
        InvalidCase{"string_body", R"("model")", {}},
        InvalidCase{"invalid_utf8_byte", "{\"model\":\"m\",\"messages\":[\"\xff\"]}", {}},
        InvalidCase{"overlong_utf8", "{\"model\":\"m\",\"x\":\"\xc0\xaf\"}", {}},
        InvalidCase{"utf8_surrogate", "{\"model\":\"m\",\"x\":\"\xed\xa0\x80\"}", {}},
        InvalidCase{"depth_129", R"({"model":"m","x":)" + nested_arrays(128) + "}", {}},
        InvalidCase{"number_overflow", with_max_tokens("100000000000000000000000000000"), {}},
        InvalidCase{"model_missing", R"({"messages":[]})", "model"},
        InvalidCase{"model_number", R"({"model":4})", "model"},
        InvalidCase{"model_null", R"({"model":null})", "model"},
        InvalidCase{"model_bool", R"({"model":true})", "model"},
        InvalidCase{"model_object", R"({"model":{"name":"m"}})", "model"},
        InvalidCase{"model_empty", R"({"model":""})", "model"},
        InvalidCase{"model_control_char", R"({"model":"m\u0000"})", "model"},
        InvalidCase{"model_too_long",
                    R"({"model":")" + std::string(ModelName::kMaxBytes + 1, 'm') + R"("})",
                    "model"},
        // Names the rewrite edits must be found byte for byte.
        InvalidCase{"escaped_model_name", R"({"mod\u0065l":"m"})", "model"},
        InvalidCase{"escaped_stream_options_name", R"({"model":"m","stream_optio\u006es":{}})",
                    "stream_options"},
        InvalidCase{"escaped_include_usage_name",
                    R"({"model":"m","stream_options":{"include\u005fusage":true}})",
                    "stream_options.include_usage"},
        InvalidCase{"model_twice", R"({"model":"cheap","messages":[],"model":"pricey"})", "model"},
        InvalidCase{"max_tokens_zero", with_max_tokens("0"), "max_tokens"},
        InvalidCase{"max_tokens_above_limit", with_max_tokens("10000001"), "max_tokens"},
        InvalidCase{"max_tokens_fraction", with_max_tokens("1.5"), "max_tokens"},
        InvalidCase{"max_tokens_integral_double", with_max_tokens("100.0"), "max_tokens"},
        InvalidCase{"max_tokens_exponent", with_max_tokens("1e3"), "max_tokens"},
        InvalidCase{"max_tokens_string", with_max_tokens(R"("100")"), "max_tokens"},
        InvalidCase{"max_tokens_negative", with_max_tokens("-5"), "max_tokens"},
        InvalidCase{"max_tokens_bool", with_max_tokens("true"), "max_tokens"},
        InvalidCase{"max_tokens_uint64", with_max_tokens("18446744073709551615"), "max_tokens"},
        InvalidCase{"max_completion_tokens_zero", with_max_tokens("0", "max_completion_tokens"),
                    "max_completion_tokens"},
        InvalidCase{"max_output_tokens_above_limit",
                    with_max_tokens("10000001", "max_output_tokens"), "max_output_tokens",
                    Endpoint::responses},
        // Checked on every endpoint, including one whose provider ignores the field.
        InvalidCase{"max_output_tokens_on_chat", with_max_tokens("-1", "max_output_tokens"),
                    "max_output_tokens"},
        InvalidCase{"max_tokens_twice", R"({"model":"m","max_tokens":5,"max_tokens":9})",
                    "max_tokens"},
        InvalidCase{"anthropic_max_tokens_missing", R"({"model":"m","messages":[]})", "max_tokens",
                    Endpoint::messages},
        InvalidCase{"anthropic_max_tokens_null", R"({"model":"m","max_tokens":null})", "max_tokens",
                    Endpoint::messages},
        InvalidCase{"stream_string", R"({"model":"m","stream":"true"})", "stream"},
        InvalidCase{"stream_options_string", R"({"model":"m","stream_options":"usage"})",
                    "stream_options"},
        InvalidCase{"stream_options_array", R"({"model":"m","stream_options":[]})",
                    "stream_options"},
        InvalidCase{"include_usage_string",
                    R"({"model":"m","stream_options":{"include_usage":"yes"}})",
                    "stream_options.include_usage"},
        InvalidCase{
            "include_usage_twice",
            R"({"model":"m","stream_options":{"include_usage":false,"include_usage":true}})",
            "stream_options.include_usage"}),
    [](const testing::TestParamInfo<InvalidCase>& instance) {
      return std::string(instance.param.name);
    });

TEST(RequestParserErrorTest, MessagesNeverEchoClientInput) {
  RequestParser parser;
  const std::string secret = "sk-live-SECRET-model-name";
  for (const std::string& text :
       {R"({"model":")" + secret + R"(","max_tokens":"x"})", R"({"model":")" + secret + "\x01\"}",
        R"({"model":[")" + secret + R"("]})"}) {
    const simdjson::padded_string body(text);
    const ParseOutcome outcome = parser.parse(Endpoint::chat_completions, body);
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().message.find("SECRET"), std::string_view::npos);
  }
}

}  // namespace
}  // namespace spendwall::api
