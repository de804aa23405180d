#include "proxy/api/translate_request.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"
#include "translate_test_support.hpp"

namespace spendwall::api {
namespace {

using metering::Endpoint;
using testing::json_equal;
using testing::read_translate_data;

constexpr std::string_view kAnthropicModel = "claude-sonnet-4-5";
constexpr std::string_view kOpenAiModel = "gpt-4o";
constexpr std::uint64_t kDefaultMaxTokens = 4096;

enum class Direction { chat_to_anthropic, anthropic_to_chat };

Endpoint client_endpoint(Direction direction) {
  return direction == Direction::chat_to_anthropic ? Endpoint::chat_completions
                                                   : Endpoint::messages;
}

TranslateResult translate(TranslationWorkspace& workspace, Direction direction,
                          std::string_view body, std::string& out) {
  const simdjson::padded_string padded(body);
  if (direction == Direction::chat_to_anthropic) {
    return openai_chat_to_anthropic_request(workspace, padded, kAnthropicModel, kDefaultMaxTokens,
                                            out);
  }
  return anthropic_to_openai_chat_request(workspace, padded, kOpenAiModel, out);
}

// Translates `body`, failing the test on a refusal.
std::string translated(Direction direction, std::string_view body) {
  TranslationWorkspace workspace;
  std::string out;
  const TranslateResult result = translate(workspace, direction, body, out);
  EXPECT_TRUE(result) << result.error().message;
  return out;
}

std::optional<ApiError> feature_check(Direction direction, std::string_view body) {
  TranslationWorkspace workspace;
  const simdjson::padded_string padded(body);
  return untranslatable_feature(workspace, client_endpoint(direction), padded);
}

// ---- Recorded requests against their expected translations -------------------------------

struct GoldenCase {
  std::string_view input;
  Direction direction;
  std::string_view expected;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.input; }

class TranslateRequestGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(TranslateRequestGoldenTest, MatchesTheExpectedTranslation) {
  const GoldenCase& c = GetParam();
  const std::string body = read_translate_data(c.input);

  EXPECT_TRUE(json_equal(translated(c.direction, body), read_translate_data(c.expected)));
  EXPECT_EQ(feature_check(c.direction, body), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, TranslateRequestGoldenTest,
    ::testing::Values(
        // System prompt, sampling, stop string, stream (stream_options dropped), user.
        GoldenCase{"requests/chat_basic.json", Direction::chat_to_anthropic,
                   "requests/chat_basic.to_anthropic.json"},
        // system + developer → system blocks; same-role merging; empty text skipped; refusal
        // parts as text; the larger of max_tokens and max_completion_tokens.
        GoldenCase{"requests/chat_conversation.json", Direction::chat_to_anthropic,
                   "requests/chat_conversation.to_anthropic.json"},
        // Tool definitions, a named tool_choice with parallel calls off, tool calls and
        // results, results merged with the next user text, default max_tokens.
        GoldenCase{"requests/chat_tools.json", Direction::chat_to_anthropic,
                   "requests/chat_tools.to_anthropic.json"},
        // A base64 data URL and a remote URL; `detail` dropped.
        GoldenCase{"requests/chat_images.json", Direction::chat_to_anthropic,
                   "requests/chat_images.to_anthropic.json"},
        // Refusable fields at harmless values, hint fields dropped, a tool_choice without
        // tools left out.
        GoldenCase{"requests/chat_defaults.json", Direction::chat_to_anthropic,
                   "requests/chat_defaults.to_anthropic.json"},
        // String system and content, stop_sequences, stream → include_usage, metadata.user_id.
        GoldenCase{"requests/messages_basic.json", Direction::anthropic_to_chat,
                   "requests/messages_basic.to_openai.json"},
        // System blocks with cache_control, images of both sources, several text blocks.
        GoldenCase{"requests/messages_blocks.json", Direction::anthropic_to_chat,
                   "requests/messages_blocks.to_openai.json"},
        // Tools, tool_choice any + disable_parallel_tool_use, tool_use → tool_calls,
        // tool_result → tool messages (is_error dropped), thinking history dropped.
        GoldenCase{"requests/messages_tools.json", Direction::anthropic_to_chat,
                   "requests/messages_tools.to_openai.json"}));

// ---- Round trips --------------------------------------------------------------------------

// Canonical bodies (block arrays, compact tool arguments) survive there and back unchanged,
// apart from the model, which each hop replaces.
std::string with_model(std::string_view body, std::string_view model) {
  simdjson::dom::parser parser;
  simdjson::dom::object top_level;
  EXPECT_EQ(parser.parse(body.data(), body.size()).get(top_level), simdjson::SUCCESS);
  std::string out;
  JsonWriter writer(out);
  writer.begin_object();
  for (const auto& [key, value] : top_level) {
    writer.key(key);
    if (key == "model") {
      writer.string(model);
    } else {
      EXPECT_TRUE(translation::copy_json(writer, value));
    }
  }
  writer.end_object();
  return out;
}

TEST(TranslateRequestRoundTrip, AnthropicThroughOpenAiAndBack) {
  const std::string original = read_translate_data("requests/roundtrip_messages.json");
  const std::string chat = translated(Direction::anthropic_to_chat, original);
  const std::string back = translated(Direction::chat_to_anthropic, chat);

  EXPECT_TRUE(json_equal(back, with_model(original, kAnthropicModel)));
}

TEST(TranslateRequestRoundTrip, OpenAiThroughAnthropicAndBack) {
  const std::string original = read_translate_data("requests/roundtrip_chat.json");
  const std::string messages = translated(Direction::chat_to_anthropic, original);
  const std::string back = translated(Direction::anthropic_to_chat, messages);

  EXPECT_TRUE(json_equal(back, with_model(original, kOpenAiModel)));
}

// ---- Individual mappings, both ways --------------------------------------------------------

struct MappingCase {
  std::string_view name;
  Direction direction;
  std::string_view body;
  std::string_view expected;
};

void PrintTo(const MappingCase& c, std::ostream* os) { *os << c.name; }

class TranslateRequestMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(TranslateRequestMappingTest, TranslatesTheField) {
  const MappingCase& c = GetParam();
  EXPECT_TRUE(json_equal(translated(c.direction, c.body), c.expected));
}

INSTANTIATE_TEST_SUITE_P(
    ChatToAnthropic, TranslateRequestMappingTest,
    ::testing::Values(
        MappingCase{"default_max_tokens", Direction::chat_to_anthropic,
                    R"({"model":"a","messages":[{"role":"user","content":"x"}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":4096,
                        "messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]})"},
        MappingCase{"max_completion_tokens", Direction::chat_to_anthropic,
                    R"({"model":"a","max_completion_tokens":7,"messages":[]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":7,"messages":[]})"},
        MappingCase{"stop_array", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"stop":["a","b"]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "stop_sequences":["a","b"]})"},
        MappingCase{"temperature_one", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"temperature":1,"top_p":0.5})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "temperature":1,"top_p":0.5})"},
        MappingCase{"tool_choice_auto", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":"auto",
                        "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"auto"}})"},
        MappingCase{"tool_choice_none", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":"none",
                        "parallel_tool_calls":false,
                        "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"none"}})"},
        MappingCase{"tool_choice_required", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":"required",
                        "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"any"}})"},
        MappingCase{"parallel_calls_off_alone", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[],"parallel_tool_calls":false,
                        "tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[],
                        "tools":[{"name":"f","input_schema":{}}],
                        "tool_choice":{"type":"auto","disable_parallel_tool_use":true}})"},
        MappingCase{"image_types", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AA=="}},
                        {"type":"image_url","image_url":{"url":"data:image/gif;base64,AQ=="}},
                        {"type":"image_url","image_url":{"url":"http://example.com/x.webp"}}]}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user",
                        "content":[
                        {"type":"image","source":{"type":"base64","media_type":"image/jpeg",
                                                  "data":"AA=="}},
                        {"type":"image","source":{"type":"base64","media_type":"image/gif",
                                                  "data":"AQ=="}},
                        {"type":"image","source":{"type":"url",
                                                  "url":"http://example.com/x.webp"}}]}]})"},
        MappingCase{"empty_tool_arguments", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"assistant",
                        "tool_calls":[{"id":"c","type":"function",
                                       "function":{"name":"f","arguments":"  "}}]}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[
                        {"role":"assistant","content":[
                         {"type":"tool_use","id":"c","name":"f","input":{}}]}]})"},
        MappingCase{"escapes_survive", Direction::chat_to_anthropic,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user",
                        "content":"tab\t quote\" nul\u0000 \u00e9 \ud83d\ude00"}]})",
                    R"({"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user",
                        "content":[{"type":"text",
                                    "text":"tab\t quote\" nul\u0000 \u00e9 \ud83d\ude00"}]}]})"}),
    testing::param_name<MappingCase>);

INSTANTIATE_TEST_SUITE_P(
    AnthropicToChat, TranslateRequestMappingTest,
    ::testing::Values(
        MappingCase{"stream_false", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":9,"messages":[],"stream":false})",
                    R"({"model":"gpt-4o","max_completion_tokens":9,"messages":[],
                        "stream":false})"},
        MappingCase{"tool_choice_auto", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":{"type":"auto"},
                        "tools":[{"name":"f","input_schema":{"type":"object"}}]})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[],
                        "tools":[{"type":"function","function":{"name":"f",
                                  "parameters":{"type":"object"}}}],"tool_choice":"auto"})"},
        MappingCase{"tool_choice_none", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":{"type":"none"},
                        "tools":[{"name":"f","input_schema":{"type":"object"}}]})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[],
                        "tools":[{"type":"function","function":{"name":"f",
                                  "parameters":{"type":"object"}}}],"tool_choice":"none"})"},
        MappingCase{"tool_choice_tool", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[],
                        "tool_choice":{"type":"tool","name":"f"},
                        "tools":[{"name":"f","input_schema":{"type":"object"}}]})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[],
                        "tools":[{"type":"function","function":{"name":"f",
                                  "parameters":{"type":"object"}}}],
                        "tool_choice":{"type":"function","function":{"name":"f"}}})"},
        MappingCase{"tool_choice_without_tools", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[],
                        "tool_choice":{"type":"any","disable_parallel_tool_use":true}})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[]})"},
        MappingCase{"user_image_and_text_runs", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"text","text":"before"},
                        {"type":"tool_result","tool_use_id":"t","content":[]},
                        {"type":"image","source":{"type":"base64","media_type":"image/png",
                                                  "data":"AA=="}}]}]})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[
                        {"role":"user","content":[{"type":"text","text":"before"}]},
                        {"role":"tool","tool_call_id":"t","content":[]},
                        {"role":"user","content":[{"type":"image_url",
                                      "image_url":{"url":"data:image/png;base64,AA=="}}]}]})"},
        MappingCase{"assistant_only_tool_use", Direction::anthropic_to_chat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"assistant","content":[
                        {"type":"tool_use","id":"t","name":"f",
                         "input":{"n":1.5,"big":18446744073709551615,"list":[null,true]}}]}]})",
                    R"({"model":"gpt-4o","max_completion_tokens":1,"messages":[
                        {"role":"assistant","content":null,"tool_calls":[{"id":"t",
                         "type":"function","function":{"name":"f",
                         "arguments":"{\"n\":1.5,\"big\":18446744073709551615,\"list\":[null,true]}"
                        }}]}]})"}),
    testing::param_name<MappingCase>);

// ---- Refused features ----------------------------------------------------------------------

struct RefusalCase {
  std::string_view name;
  Direction direction;
  std::string_view body;
  std::string_view feature;  ///< the message must mention it
  std::string_view param;
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

class TranslateRequestRefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(TranslateRequestRefusalTest, TranslationAndCheckRefuseNamingTheFeature) {
  const RefusalCase& c = GetParam();
  TranslationWorkspace workspace;
  std::string out;

  const TranslateResult result = translate(workspace, c.direction, c.body, out);
  const std::optional<ApiError> check = feature_check(c.direction, c.body);

  ASSERT_FALSE(result) << out;
  EXPECT_EQ(result.error().kind, ErrorKind::invalid_request);
  EXPECT_NE(result.error().message.find(c.feature), std::string_view::npos)
      << result.error().message;
  EXPECT_EQ(result.error().param, c.param);
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->message, result.error().message);
  EXPECT_EQ(check->param, result.error().param);
}

constexpr auto kToChat = Direction::anthropic_to_chat;
constexpr auto kToAnthropic = Direction::chat_to_anthropic;

INSTANTIATE_TEST_SUITE_P(
    ChatToAnthropic, TranslateRequestRefusalTest,
    ::testing::Values(
        RefusalCase{"n", kToAnthropic, R"({"model":"a","messages":[],"n":2})", "`n`", "n"},
        RefusalCase{"logprobs", kToAnthropic, R"({"model":"a","messages":[],"logprobs":true})",
                    "`logprobs`", "logprobs"},
        RefusalCase{"top_logprobs", kToAnthropic, R"({"model":"a","messages":[],"top_logprobs":3})",
                    "`top_logprobs`", "top_logprobs"},
        RefusalCase{"json_object", kToAnthropic,
                    R"({"model":"a","messages":[],"response_format":{"type":"json_object"}})",
                    "`response_format`", "response_format"},
        RefusalCase{"json_schema", kToAnthropic,
                    R"({"model":"a","messages":[],"response_format":{"type":"json_schema",
                        "json_schema":{"name":"x","schema":{}}}})",
                    "structured outputs", "response_format"},
        RefusalCase{"frequency_penalty", kToAnthropic,
                    R"({"model":"a","messages":[],"frequency_penalty":0.5})", "`frequency_penalty`",
                    "frequency_penalty"},
        RefusalCase{"presence_penalty", kToAnthropic,
                    R"({"model":"a","messages":[],"presence_penalty":-1})", "`presence_penalty`",
                    "presence_penalty"},
        RefusalCase{"logit_bias", kToAnthropic,
                    R"({"model":"a","messages":[],"logit_bias":{"50256":-100}})", "`logit_bias`",
                    "logit_bias"},
        RefusalCase{"audio_modality", kToAnthropic,
                    R"({"model":"a","messages":[],"modalities":["text","audio"]})", "audio output",
                    "modalities"},
        RefusalCase{"audio", kToAnthropic,
                    R"({"model":"a","messages":[],"audio":{"voice":"alloy","format":"wav"}})",
                    "audio output", "audio"},
        RefusalCase{"reasoning_effort", kToAnthropic,
                    R"({"model":"a","messages":[],"reasoning_effort":"high"})",
                    "`reasoning_effort`", "reasoning_effort"},
        RefusalCase{"verbosity", kToAnthropic, R"({"model":"a","messages":[],"verbosity":"low"})",
                    "`verbosity`", "verbosity"},
        RefusalCase{"web_search_options", kToAnthropic,
                    R"({"model":"a","messages":[],"web_search_options":{}})",
                    "`web_search_options`", "web_search_options"},
        RefusalCase{"functions", kToAnthropic,
                    R"({"model":"a","messages":[],"functions":[{"name":"f"}]})", "`functions`",
                    "functions"},
        RefusalCase{"function_call", kToAnthropic,
                    R"({"model":"a","messages":[],"function_call":"auto"})", "`functions`",
                    "function_call"},
        RefusalCase{"unknown_field", kToAnthropic, R"({"model":"a","messages":[],"novel":1})",
                    "a field that cannot be translated", ""},
        RefusalCase{"temperature_above_one", kToAnthropic,
                    R"({"model":"a","messages":[],"temperature":1.5})", "`temperature` above 1",
                    "temperature"},
        RefusalCase{"message_name", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","name":"bob","content":"x"}]})",
                    "message `name`", "messages"},
        RefusalCase{"late_system", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","content":"x"},
                        {"role":"system","content":"y"}]})",
                    "after the first user or assistant message", "messages"},
        RefusalCase{"function_role", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"function","name":"f","content":"x"}]})",
                    "`functions`", "messages"},
        RefusalCase{"audio_part", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","content":[{"type":"input_audio",
                        "input_audio":{"data":"AA==","format":"wav"}}]}]})",
                    "audio content", "messages"},
        RefusalCase{"file_part", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","content":[{"type":"file",
                        "file":{"file_id":"file-1"}}]}]})",
                    "file content parts", "messages"},
        RefusalCase{"assistant_audio", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"assistant","audio":{"id":"a1"}}]})",
                    "audio content", "messages"},
        RefusalCase{"image_type", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","content":[{"type":"image_url",
                        "image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]})",
                    "JPEG, PNG, GIF or WebP", "messages"},
        RefusalCase{"image_scheme", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"user","content":[{"type":"image_url",
                        "image_url":{"url":"ftp://example.com/a.png"}}]}]})",
                    "http(s) URL", "messages"},
        RefusalCase{"system_image", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"system","content":[{"type":"image_url",
                        "image_url":{"url":"https://example.com/a.png"}}]}]})",
                    "can only hold text", "messages"},
        RefusalCase{"custom_tool", kToAnthropic,
                    R"({"model":"a","messages":[],"tools":[{"type":"custom",
                        "custom":{"name":"x"}}]})",
                    "tools other than `function`", "tools"},
        RefusalCase{"strict_tool", kToAnthropic,
                    R"({"model":"a","messages":[],"tools":[{"type":"function",
                        "function":{"name":"f","strict":true,"parameters":{}}}]})",
                    "`strict`", "tools"},
        RefusalCase{"allowed_tools_choice", kToAnthropic,
                    R"({"model":"a","messages":[],"tool_choice":{"type":"allowed_tools",
                        "allowed_tools":{"mode":"auto","tools":[]}}})",
                    "`tool_choice`", "tool_choice"},
        RefusalCase{"custom_tool_call", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"assistant","tool_calls":[{"id":"c",
                        "type":"custom","custom":{"name":"x","input":"y"}}]}]})",
                    "tool calls other than `function`", "messages"},
        RefusalCase{"arguments_not_object", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"assistant","tool_calls":[{"id":"c",
                        "type":"function","function":{"name":"f","arguments":"[1]"}}]}]})",
                    "`function.arguments` must be a JSON object", "messages"},
        RefusalCase{"arguments_not_json", kToAnthropic,
                    R"({"model":"a","messages":[{"role":"assistant","tool_calls":[{"id":"c",
                        "type":"function","function":{"name":"f","arguments":"{oops"}}]}]})",
                    "`function.arguments` must be a JSON object", "messages"}),
    testing::param_name<RefusalCase>);

INSTANTIATE_TEST_SUITE_P(
    AnthropicToChat, TranslateRequestRefusalTest,
    ::testing::Values(
        RefusalCase{"top_k", kToChat, R"({"model":"a","max_tokens":1,"messages":[],"top_k":5})",
                    "`top_k`", "top_k"},
        RefusalCase{"thinking", kToChat,
                    R"({"model":"a","max_tokens":2048,"messages":[],
                        "thinking":{"type":"enabled","budget_tokens":1024}})",
                    "`thinking`", "thinking"},
        RefusalCase{"container", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"container":"c1"})", "`container`",
                    "container"},
        RefusalCase{"mcp_servers", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"mcp_servers":[]})",
                    "`mcp_servers`", "mcp_servers"},
        RefusalCase{"context_management", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"context_management":{}})",
                    "`context_management`", "context_management"},
        RefusalCase{"unknown_field", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"novel":true})",
                    "a field that cannot be translated", ""},
        RefusalCase{"document", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"document","source":{"type":"text","media_type":"text/plain",
                         "data":"x"}}]}]})",
                    "`document`", "messages"},
        RefusalCase{"search_result", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"search_result","source":"s","title":"t","content":[]}]}]})",
                    "content block of this type", "messages"},
        RefusalCase{"server_tool_use_history", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"assistant","content":[
                        {"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}]})",
                    "content block of this type", "messages"},
        RefusalCase{"tool_result_image", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"tool_result","tool_use_id":"t","content":[{"type":"image",
                         "source":{"type":"url","url":"https://example.com/a.png"}}]}]}]})",
                    "images inside a `tool_result`", "messages"},
        RefusalCase{"file_image", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"image","source":{"type":"file","file_id":"f"}}]}]})",
                    "image source", "messages"},
        RefusalCase{"server_tool", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"tools":[
                        {"type":"web_search_20250305","name":"web_search","max_uses":3}]})",
                    "server tools", "tools"},
        RefusalCase{"too_many_stops", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],
                        "stop_sequences":["1","2","3","4","5"]})",
                    "more than 4 `stop_sequences`", "stop_sequences"},
        RefusalCase{"metadata_key", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"metadata":{"team":"x"}})",
                    "`metadata`", "metadata"},
        RefusalCase{"tool_choice_type", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[],"tool_choice":{"type":"x"}})",
                    "`tool_choice`", "tool_choice"},
        RefusalCase{"block_field", kToChat,
                    R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[
                        {"type":"text","text":"x","novel":1}]}]})",
                    "content block has a field", "messages"}),
    testing::param_name<RefusalCase>);

// Structural faults the request parser leaves unchecked are refused with a 400 too.
TEST(TranslateRequest, RefusesMalformedMessages) {
  for (const std::string_view body : {
           R"({"model":"a","messages":{}})",
           R"({"model":"a","messages":[1]})",
           R"({"model":"a","messages":[{"content":"x"}]})",
           R"({"model":"a","messages":[{"role":"user"}]})",
           R"({"model":"a","messages":[{"role":"user","content":7}]})",
           R"({"model":"a","messages":[{"role":"user","content":[{"type":"text"}]}]})",
           R"({"model":"a","messages":[{"role":"tool","content":"x"}]})",
           R"({"model":"a","messages":[{"role":"narrator","content":"x"}]})",
           R"({"model":"a","messages":[],"stop":3})",
           R"({"model":"a","messages":[],"tools":[{"type":"function"}]})",
       }) {
    TranslationWorkspace workspace;
    std::string out;
    const TranslateResult result = translate(workspace, Direction::chat_to_anthropic, body, out);
    ASSERT_FALSE(result) << body;
    EXPECT_EQ(result.error().kind, ErrorKind::invalid_request) << body;
    const std::optional<ApiError> check = feature_check(Direction::chat_to_anthropic, body);
    ASSERT_TRUE(check.has_value()) << body;
    EXPECT_EQ(check->message, result.error().message);
  }
  for (const std::string_view body : {
           R"({"model":"a","messages":[]})",  // no max_tokens
           R"({"model":"a","max_tokens":1,"messages":[{"role":"system","content":"x"}]})",
           R"({"model":"a","max_tokens":1,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
           R"({"model":"a","max_tokens":1,"messages":[{"role":"assistant","content":[
               {"type":"tool_use","id":"t","name":"f","input":[1]}]}]})",
           R"({"model":"a","max_tokens":1,"messages":[],"system":[{"type":"image"}]})",
           R"({"model":"a","max_tokens":1,"messages":[],"tools":[{"name":"f"}]})",
       }) {
    TranslationWorkspace workspace;
    std::string out;
    const TranslateResult result = translate(workspace, Direction::anthropic_to_chat, body, out);
    ASSERT_FALSE(result) << body;
    EXPECT_EQ(result.error().kind, ErrorKind::invalid_request) << body;
  }
}

// A schema nested deeper than the writer allows is refused, never written half-way.
TEST(TranslateRequest, RefusesValuesNestedTooDeeply) {
  std::string schema;
  for (int i = 0; i < 80; ++i) schema += R"({"items":)";
  schema += "{}";
  for (int i = 0; i < 80; ++i) schema += '}';
  const std::string chat = R"({"model":"a","max_tokens":1,"messages":[],"tools":[{"type":"function",
      "function":{"name":"f","parameters":)" +
                           schema + "}}]}";
  const std::string messages =
      R"({"model":"a","max_tokens":1,"messages":[],"tools":[{"name":"f","input_schema":)" + schema +
      "}]}";
  TranslationWorkspace workspace;
  std::string out;

  const TranslateResult to_anthropic =
      translate(workspace, Direction::chat_to_anthropic, chat, out);
  const TranslateResult to_chat = translate(workspace, Direction::anthropic_to_chat, messages, out);

  ASSERT_FALSE(to_anthropic);
  EXPECT_EQ(to_anthropic.error().param, "tools");
  ASSERT_FALSE(to_chat);
  EXPECT_EQ(to_chat.error().param, "tools");
}

TEST(TranslateRequest, OnlyChatEndpointsAreTranslated) {
  TranslationWorkspace workspace;
  const simdjson::padded_string body(std::string_view(R"({"model":"a","input":"x"})"));

  for (Endpoint endpoint : {Endpoint::embeddings, Endpoint::responses, Endpoint::completions}) {
    const std::optional<ApiError> error = untranslatable_feature(workspace, endpoint, body);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->kind, ErrorKind::invalid_request);
  }
}

TEST(TranslateRequest, RefusesABodyThatIsNotAnObject) {
  TranslationWorkspace workspace;
  std::string out;
  EXPECT_FALSE(translate(workspace, Direction::chat_to_anthropic, "[1]", out));
  EXPECT_FALSE(translate(workspace, Direction::anthropic_to_chat, "{", out));
}

// Parsed back field by field: what a reader of the Anthropic body relies on.
TEST(TranslateRequest, AnthropicBodyReadsBackField) {
  const std::string out =
      translated(Direction::chat_to_anthropic, read_translate_data("requests/chat_tools.json"));
  simdjson::dom::parser parser;
  simdjson::dom::object body;
  ASSERT_EQ(parser.parse(out).get(body), simdjson::SUCCESS);

  std::uint64_t max_tokens = 0;
  EXPECT_EQ(body["max_tokens"].get(max_tokens), simdjson::SUCCESS);
  EXPECT_EQ(max_tokens, kDefaultMaxTokens);
  simdjson::dom::array messages;
  ASSERT_EQ(body["messages"].get(messages), simdjson::SUCCESS);
  EXPECT_EQ(messages.size(), 5U);  // the seven chat messages merged into alternating turns
  std::string_view previous_role;
  for (simdjson::dom::element message : messages) {
    std::string_view role;
    ASSERT_EQ(message["role"].get(role), simdjson::SUCCESS);
    EXPECT_NE(role, previous_role);
    previous_role = role;
  }
  std::string_view city;
  EXPECT_EQ(messages.at(1)["content"].at(1)["input"]["units"].get(city), simdjson::SUCCESS);
  EXPECT_EQ(city, "metric");
  bool disable_parallel = false;
  EXPECT_EQ(body["tool_choice"]["disable_parallel_tool_use"].get(disable_parallel),
            simdjson::SUCCESS);
  EXPECT_TRUE(disable_parallel);
}

}  // namespace
}  // namespace spendwall::api
