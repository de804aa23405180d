#include "proxy/api/rewrite.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace spendwall::api {
namespace {

using metering::Endpoint;

struct RewriteCase {
  std::string_view name;
  std::string_view body;
  std::string_view new_model;
  bool inject_include_usage = false;
  std::string_view expected;  ///< byte for byte
};

void PrintTo(const RewriteCase& c, std::ostream* os) { *os << c.name; }

// What a re-parse of the rewritten body finds.
struct Reparsed {
  std::string model;
  std::optional<bool> include_usage;
  std::size_t member_count = 0;
  std::size_t stream_options_member_count = 0;
};

std::optional<Reparsed> reparse(std::string_view json) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::object body;
  if (parser.parse(padded).get(body) != simdjson::SUCCESS) return std::nullopt;
  Reparsed result;
  std::string_view model;
  if (body["model"].get(model) != simdjson::SUCCESS) return std::nullopt;
  result.model = std::string(model);
  for ([[maybe_unused]] const auto& member : body) ++result.member_count;
  simdjson::dom::object options;
  if (body["stream_options"].get(options) == simdjson::SUCCESS) {
    for ([[maybe_unused]] const auto& member : options) ++result.stream_options_member_count;
    bool include_usage = false;
    if (options["include_usage"].get(include_usage) == simdjson::SUCCESS) {
      result.include_usage = include_usage;
    }
  }
  return result;
}

class RewriteTest : public testing::TestWithParam<RewriteCase> {};

TEST_P(RewriteTest, OutputIsValidJsonWithTheEdits) {
  const RewriteCase& c = GetParam();
  const simdjson::padded_string body(c.body);
  RequestParser parser;
  const ParseOutcome parsed = parser.parse(Endpoint::chat_completions, body);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const std::optional<Reparsed> before = reparse(c.body);
  ASSERT_TRUE(before.has_value());
  std::string out = "stale contents";

  rewrite_body(c.body, *parsed, c.new_model, c.inject_include_usage, out);

  EXPECT_EQ(out, c.expected);
  const std::optional<Reparsed> after = reparse(out);
  ASSERT_TRUE(after.has_value()) << out;
  EXPECT_EQ(after->model, c.new_model);
  if (c.inject_include_usage) {
    EXPECT_EQ(after->include_usage, std::optional<bool>(true)) << out;
    const bool added_stream_options = !parsed->stream_options_span.has_value();
    EXPECT_EQ(after->member_count, before->member_count + (added_stream_options ? 1 : 0));
    const bool added_member = !added_stream_options && !parsed->include_usage_span.has_value();
    if (!added_stream_options) {
      EXPECT_EQ(after->stream_options_member_count,
                before->stream_options_member_count + (added_member ? 1 : 0));
    }
  } else {
    EXPECT_EQ(after->include_usage, before->include_usage);
    EXPECT_EQ(after->member_count, before->member_count);
  }
}

const RewriteCase kRewriteCases[] = {
    {.name = "model_only",
     .body = R"({"model":"fast","messages":[{"role":"user","content":"hi"}]})",
     .new_model = "gpt-4o-mini",
     .expected = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]})"},
    {.name = "model_needs_escaping",
     .body = R"({"model":"fast","n":1})",
     .new_model = "we\"ird\\model\n\x01/\xc3\xa9",
     .expected = "{\"model\":\"we\\\"ird\\\\model\\n\\u0001/\xc3\xa9\",\"n\":1}"},
    {.name = "model_not_first",
     .body = R"({"stream":true,"messages":[{"model":"nested"}],"model":"fast"})",
     .new_model = "target",
     .expected = R"({"stream":true,"messages":[{"model":"nested"}],"model":"target"})"},
    {.name = "escaped_model_replaced_whole",
     .body = R"({"model":"openai\/gpt-4o"})",
     .new_model = "gpt-4o",
     .expected = R"({"model":"gpt-4o"})"},
    {.name = "inject_without_stream_options",
     .body = R"({"model":"fast","stream":true})",
     .new_model = "target",
     .inject_include_usage = true,
     .expected = R"({"stream_options":{"include_usage":true},"model":"target","stream":true})"},
    {.name = "inject_with_whitespace_around_body",
     .body = "\r\n  {\n  \"model\" : \"fast\" ,\n  \"stream\" : true\n}\n",
     .new_model = "target",
     .inject_include_usage = true,
     .expected = "\r\n  {\"stream_options\":{\"include_usage\":true},\n  \"model\" : \"target\" ,\n"
                 "  \"stream\" : true\n}\n"},
    {.name = "inject_into_empty_stream_options",
     .body = R"({"model":"fast","stream_options":{}})",
     .new_model = "target",
     .inject_include_usage = true,
     .expected = R"({"model":"target","stream_options":{"include_usage":true}})"},
    {.name = "inject_into_blank_stream_options",
     .body = "{\"model\":\"fast\",\"stream_options\":{ \t\n }}",
     .new_model = "target",
     .inject_include_usage = true,
     .expected = "{\"model\":\"target\",\"stream_options\":{\"include_usage\":true \t\n }}"},
    {.name = "inject_beside_other_option",
     .body = R"({"stream_options":{ "chunk_hint" : 3 },"model":"fast"})",
     .new_model = "target",
     .inject_include_usage = true,
     .expected =
         R"({"stream_options":{"include_usage":true, "chunk_hint" : 3 },"model":"target"})"},
    {.name = "include_usage_false_before_model",
     .body = R"({"stream_options":{"include_usage" : false},"model":"fast"})",
     .new_model = "a-much-longer-target-model-name",
     .inject_include_usage = true,
     .expected =
         R"({"stream_options":{"include_usage" : true},"model":"a-much-longer-target-model-name"})"},
    {.name = "include_usage_null",
     .body = R"({"model":"fast","stream_options":{"include_usage":null}})",
     .new_model = "t",
     .inject_include_usage = true,
     .expected = R"({"model":"t","stream_options":{"include_usage":true}})"},
    {.name = "stream_options_null",
     .body = R"({"model":"fast","stream_options":null})",
     .new_model = "t",
     .inject_include_usage = true,
     .expected = R"({"model":"t","stream_options":{"include_usage":true}})"},
    {.name = "include_usage_already_true",
     .body = R"({"model":"fast","stream_options":{"include_usage":true}})",
     .new_model = "t",
     .inject_include_usage = true,
     .expected = R"({"model":"t","stream_options":{"include_usage":true}})"},
    {.name = "no_injection_keeps_false",
     .body = R"({"model":"fast","stream_options":{"include_usage":false}})",
     .new_model = "t",
     .expected = R"({"model":"t","stream_options":{"include_usage":false}})"},
    {.name = "nested_lookalikes_untouched",
     .body = R"({"metadata":{"model":"x","stream_options":{}},"model":"fast"})",
     .new_model = "t",
     .inject_include_usage = true,
     .expected =
         R"({"stream_options":{"include_usage":true},"metadata":{"model":"x","stream_options":{}},"model":"t"})"},
};

INSTANTIATE_TEST_SUITE_P(Cases, RewriteTest, testing::ValuesIn(kRewriteCases),
                         [](const testing::TestParamInfo<RewriteCase>& instance) {
                           return std::string(instance.param.name);
                         });

struct RecordedBody {
  std::string_view file;
  Endpoint endpoint;
};

class RecordedRewriteTest : public testing::TestWithParam<RecordedBody> {};

// Rewriting changes what it should and nothing a later parse can see.
TEST_P(RecordedRewriteTest, ReparsesToTheSameRequestWithTheEdits) {
  simdjson::padded_string original;
  const std::string path =
      std::string(SPENDWALL_TEST_DATA_DIR) + "/api/requests/" + std::string(GetParam().file);
  ASSERT_EQ(simdjson::padded_string::load(path).get(original), simdjson::SUCCESS);
  RequestParser parser;
  const ParseOutcome before = parser.parse(GetParam().endpoint, original);
  ASSERT_TRUE(before);
  std::string out;

  rewrite_body({original.data(), original.size()}, *before, "provider-model-\"x\"", true, out);

  const simdjson::padded_string rewritten(out);
  const ParseOutcome after = parser.parse(GetParam().endpoint, rewritten);
  ASSERT_TRUE(after) << after.error().message << "\n" << out;
  EXPECT_EQ(after->model.view(), "provider-model-\"x\"");
  EXPECT_TRUE(after->include_usage_requested);
  EXPECT_EQ(after->stream, before->stream);
  EXPECT_EQ(after->max_output_tokens, before->max_output_tokens);
  EXPECT_EQ(after->input.text_bytes, before->input.text_bytes);
  EXPECT_EQ(after->input.message_count, before->input.message_count);
  EXPECT_EQ(after->input.media_parts, before->input.media_parts);
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, RecordedRewriteTest,
    testing::Values(RecordedBody{"chat_basic.json", Endpoint::chat_completions},
                    RecordedBody{"chat_stream_parts.json", Endpoint::chat_completions},
                    RecordedBody{"completions_prompt.json", Endpoint::completions},
                    RecordedBody{"messages_blocks.json", Endpoint::messages}));

TEST(RewriteBufferTest, SteadyStateReusesTheBuffer) {
  const std::string original = R"({"model":"fast","stream":true})";
  const simdjson::padded_string padded(original);
  RequestParser parser;
  const ParseOutcome parsed = parser.parse(Endpoint::chat_completions, padded);
  ASSERT_TRUE(parsed);
  std::string out;
  rewrite_body(original, *parsed, "target", true, out);
  const std::string first = out;
  const char* storage = out.data();
  const std::size_t capacity = out.capacity();

  rewrite_body(original, *parsed, "target", true, out);

  EXPECT_EQ(out, first);
  EXPECT_EQ(out.data(), storage);
  EXPECT_EQ(out.capacity(), capacity);
}

}  // namespace
}  // namespace spendwall::api
