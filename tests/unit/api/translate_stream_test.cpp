#include "proxy/api/translate_stream.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../metering/allocation_counter.hpp"
#include "metering/sse.hpp"
#include "translate_test_support.hpp"

namespace spendwall::api {
namespace {

using metering::ApiFormat;
using testing::frame_events;
using testing::read_translate_data;
using testing::SseEventCopy;

constexpr std::string_view kClientModel = "my-route";
constexpr std::int64_t kCreated = 1700000000;

struct StreamCase {
  std::string_view input;
  ApiFormat upstream;
  std::string_view expected;  ///< the client's bytes, exactly
  StreamProgress progress;    ///< after the last event and finish()
};

void PrintTo(const StreamCase& c, std::ostream* os) { *os << c.input; }

struct Translation {
  std::string out;
  StreamProgress progress = StreamProgress::streaming;
  bool failed = false;
};

// Feeds `input` through an SseFramer in pieces cut at `cuts`, each event into a translator.
Translation translate_split(TranslationWorkspace& workspace, const StreamCase& c,
                            std::string_view input, const std::vector<std::size_t>& cuts,
                            bool include_usage = true) {
  StreamTranslator translator(workspace);
  translator.start(c.upstream, kClientModel, kCreated, include_usage);
  metering::SseFramer framer(1 << 20);
  Translation result;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (std::size_t to : ends) {
    framer.feed(input.substr(from, to - from),
                [&](std::string_view, std::string_view data, std::string_view) {
                  const Result<StreamProgress> progress = translator.on_event(data, result.out);
                  if (!progress) result.failed = true;
                });
    from = to;
  }
  result.progress = translator.finish(result.out);
  return result;
}

class TranslateStreamGoldenTest : public ::testing::TestWithParam<StreamCase> {};

TEST_P(TranslateStreamGoldenTest, EventByEvent) {
  const StreamCase& c = GetParam();
  const std::string input = read_translate_data(c.input);
  TranslationWorkspace workspace;
  StreamTranslator translator(workspace);
  translator.start(c.upstream, kClientModel, kCreated, true);
  std::string out;

  for (const SseEventCopy& event : frame_events(input)) {
    const Result<StreamProgress> progress = translator.on_event(event.data, out);
    ASSERT_TRUE(progress) << progress.error().message;
  }
  EXPECT_EQ(translator.finish(out), c.progress);

  EXPECT_EQ(out, read_translate_data(c.expected));
}

// The upstream bytes split in two at every offset, then fed a byte at a time: the framing
// must never change what the client receives.
TEST_P(TranslateStreamGoldenTest, SplitAtEveryByteBoundary) {
  const StreamCase& c = GetParam();
  const std::string input = read_translate_data(c.input);
  const std::string expected = read_translate_data(c.expected);
  TranslationWorkspace workspace;

  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const Translation result = translate_split(workspace, c, input, {cut});
    ASSERT_FALSE(result.failed) << "cut at " << cut;
    ASSERT_EQ(result.out, expected) << "cut at " << cut;
    ASSERT_EQ(result.progress, c.progress) << "cut at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t cut = 1; cut < input.size(); ++cut) every_byte.push_back(cut);
  EXPECT_EQ(translate_split(workspace, c, input, every_byte).out, expected);
}

// Every client event is whole, valid JSON (or the OpenAI `[DONE]` sentinel), and Anthropic
// event names match their data's `type`.
TEST_P(TranslateStreamGoldenTest, ClientEventsParse) {
  const StreamCase& c = GetParam();
  simdjson::dom::parser parser;
  for (const SseEventCopy& event : frame_events(read_translate_data(c.expected))) {
    if (event.data.empty() || event.data == "[DONE]") continue;
    simdjson::dom::object data;
    ASSERT_EQ(parser.parse(event.data).get(data), simdjson::SUCCESS) << event.data;
    if (c.upstream == ApiFormat::openai) {
      std::string_view type;
      ASSERT_EQ(data["type"].get(type), simdjson::SUCCESS);
      EXPECT_EQ(type, event.name);
    } else {
      EXPECT_TRUE(event.name.empty());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, TranslateStreamGoldenTest,
    ::testing::Values(
        // CRLF framing, a ping, escapes, cache usage.
        StreamCase{"streams/anthropic_text.sse", ApiFormat::anthropic,
                   "streams/anthropic_text.to_openai.sse", StreamProgress::completed},
        StreamCase{"streams/anthropic_tool_use.sse", ApiFormat::anthropic,
                   "streams/anthropic_tool_use.to_openai.sse", StreamProgress::completed},
        // Thinking blocks skipped; block indexes still line up; max_tokens → length.
        StreamCase{"streams/anthropic_thinking.sse", ApiFormat::anthropic,
                   "streams/anthropic_thinking.to_openai.sse", StreamProgress::completed},
        StreamCase{"streams/anthropic_error.sse", ApiFormat::anthropic,
                   "streams/anthropic_error.to_openai.sse", StreamProgress::upstream_error},
        StreamCase{"streams/openai_text.sse", ApiFormat::openai,
                   "streams/openai_text.to_anthropic.sse", StreamProgress::completed},
        StreamCase{"streams/openai_tool_calls.sse", ApiFormat::openai,
                   "streams/openai_tool_calls.to_anthropic.sse", StreamProgress::completed},
        StreamCase{"streams/openai_refusal.sse", ApiFormat::openai,
                   "streams/openai_refusal.to_anthropic.sse", StreamProgress::completed},
        // No `[DONE]`: finish() closes the message; a keep-alive comment is ignored.
        StreamCase{"streams/openai_no_done.sse", ApiFormat::openai,
                   "streams/openai_no_done.to_anthropic.sse", StreamProgress::completed},
        StreamCase{"streams/openai_error.sse", ApiFormat::openai,
                   "streams/openai_error.to_anthropic.sse", StreamProgress::upstream_error}));

// ---- What the client reassembles -----------------------------------------------------------

std::vector<SseEventCopy> translate_events(std::string_view input, ApiFormat upstream,
                                           bool include_usage) {
  TranslationWorkspace workspace;
  const StreamCase c{input, upstream, {}, StreamProgress::completed};
  const Translation result =
      translate_split(workspace, c, read_translate_data(input), {}, include_usage);
  EXPECT_FALSE(result.failed);
  return frame_events(result.out);
}

TEST(TranslateStream, OpenAiClientReassemblesToolCalls) {
  simdjson::dom::parser parser;
  std::map<std::uint64_t, std::string> arguments;
  std::map<std::uint64_t, std::string> names;
  std::string content;
  std::vector<std::string> finish_reasons;
  std::string usage;
  bool done = false;

  for (const SseEventCopy& event :
       translate_events("streams/anthropic_tool_use.sse", ApiFormat::anthropic, true)) {
    if (event.data == "[DONE]") {
      done = true;
      continue;
    }
    ASSERT_FALSE(done) << "chunk after [DONE]";
    simdjson::dom::object chunk;
    ASSERT_EQ(parser.parse(event.data).get(chunk), simdjson::SUCCESS);
    simdjson::dom::array choices;
    ASSERT_EQ(chunk["choices"].get(choices), simdjson::SUCCESS);
    if (choices.size() == 0) {
      simdjson::dom::element usage_value;
      ASSERT_EQ(chunk["usage"].get(usage_value), simdjson::SUCCESS);
      usage = simdjson::to_string(usage_value);
      continue;
    }
    simdjson::dom::object delta = choices.at(0)["delta"].get_object().value_unsafe();
    std::string_view text;
    if (delta["content"].get(text) == simdjson::SUCCESS) content += text;
    std::string_view reason;
    if (choices.at(0)["finish_reason"].get(reason) == simdjson::SUCCESS) {
      finish_reasons.emplace_back(reason);
    }
    simdjson::dom::array calls;
    if (delta["tool_calls"].get(calls) != simdjson::SUCCESS) continue;
    for (simdjson::dom::element call : calls) {
      const std::uint64_t index = call["index"].get_uint64().value_unsafe();
      std::string_view name;
      if (call["function"]["name"].get(name) == simdjson::SUCCESS) names[index] = name;
      arguments[index] += call["function"]["arguments"].get_string().value_unsafe();
    }
  }

  EXPECT_TRUE(done);
  EXPECT_EQ(content, "Checking.");
  EXPECT_EQ(names, (std::map<std::uint64_t, std::string>{{0, "get_weather"}, {1, "get_time"}}));
  EXPECT_EQ(arguments,
            (std::map<std::uint64_t, std::string>{{0, R"({"city": "Paris"})"}, {1, "{}"}}));
  EXPECT_EQ(finish_reasons, std::vector<std::string>{"tool_calls"});
  EXPECT_TRUE(testing::json_equal(usage, R"({"prompt_tokens":400,"completion_tokens":89,
      "total_tokens":489,"prompt_tokens_details":{"cached_tokens":0}})"));
}

TEST(TranslateStream, AnthropicClientGetsTheEventSequence) {
  simdjson::dom::parser parser;
  std::vector<std::string> sequence;
  std::map<std::uint64_t, std::string> partial_json;
  std::string message_delta;

  for (const SseEventCopy& event :
       translate_events("streams/openai_tool_calls.sse", ApiFormat::openai, false)) {
    sequence.push_back(event.name);
    simdjson::dom::object data;
    ASSERT_EQ(parser.parse(event.data).get(data), simdjson::SUCCESS);
    std::string_view json;
    if (data["delta"]["partial_json"].get(json) == simdjson::SUCCESS) {
      partial_json[data["index"].get_uint64().value_unsafe()] += json;
    }
    if (event.name == "message_delta") message_delta = event.data;
  }

  EXPECT_EQ(sequence,
            (std::vector<std::string>{
                "message_start", "content_block_start", "content_block_delta", "content_block_stop",
                "content_block_start", "content_block_delta", "content_block_delta",
                "content_block_stop", "content_block_start", "content_block_delta",
                "content_block_stop", "message_delta", "message_stop"}));
  EXPECT_EQ(partial_json,
            (std::map<std::uint64_t, std::string>{{1, R"({"city": "Paris"})"}, {2, "{}"}}));
  EXPECT_TRUE(testing::json_equal(message_delta, R"({"type":"message_delta",
      "delta":{"stop_reason":"tool_use","stop_sequence":null},
      "usage":{"input_tokens":400,"cache_creation_input_tokens":0,
               "cache_read_input_tokens":0,"output_tokens":89}})"));
}

// The usage chunk goes only to clients that asked for it; nothing else changes.
TEST(TranslateStream, UsageChunkOnlyWhenAsked) {
  for (std::string_view input : {"streams/anthropic_text.sse", "streams/anthropic_tool_use.sse"}) {
    std::vector<SseEventCopy> with_usage = translate_events(input, ApiFormat::anthropic, true);
    const std::vector<SseEventCopy> without = translate_events(input, ApiFormat::anthropic, false);
    ASSERT_EQ(with_usage.size(), without.size() + 1) << input;
    const auto usage_chunk = with_usage.end() - 2;
    EXPECT_NE(usage_chunk->data.find(R"("choices":[],"usage":{)"), std::string::npos);
    with_usage.erase(usage_chunk);
    for (std::size_t i = 0; i < without.size(); ++i) {
      EXPECT_EQ(with_usage[i].data, without[i].data) << input << " event " << i;
    }
  }
}

// ---- Cut and broken streams ----------------------------------------------------------------

// A stream cut before its end is left as is: no closing events are invented.
TEST(TranslateStream, CutStreamsAreNotClosed) {
  struct Case {
    std::string_view input;
    ApiFormat upstream;
    std::string_view last_kept;  ///< upstream events are fed up to and including this one
  };
  for (const Case& c : {Case{"streams/anthropic_text.sse", ApiFormat::anthropic, "message_delta"},
                        Case{"streams/openai_text.sse", ApiFormat::openai, "Hello"}}) {
    TranslationWorkspace workspace;
    StreamTranslator translator(workspace);
    translator.start(c.upstream, kClientModel, kCreated, true);
    std::string out;
    for (const SseEventCopy& event : frame_events(read_translate_data(c.input))) {
      ASSERT_TRUE(translator.on_event(event.data, out));
      if (event.data.find(c.last_kept) != std::string::npos) break;
    }
    const std::size_t before_finish = out.size();

    EXPECT_EQ(translator.finish(out), StreamProgress::streaming) << c.input;
    EXPECT_EQ(out.size(), before_finish) << c.input;
    EXPECT_EQ(out.find("[DONE]"), std::string::npos);
    EXPECT_EQ(out.find("message_stop"), std::string::npos);
  }
}

TEST(TranslateStream, BrokenUpstreamEventsAreServerErrors) {
  struct Case {
    ApiFormat upstream;
    std::vector<std::string_view> events;
  };
  const std::string_view start =
      R"({"type":"message_start","message":{"id":"m","usage":{"input_tokens":1}}})";
  const std::string_view chunk = R"({"id":"c","choices":[{"index":0,"delta":{"content":"x"}}]})";
  for (const Case& c : {
           Case{ApiFormat::anthropic, {"{not json"}},
           Case{ApiFormat::anthropic, {start, R"({"type":"content_block_delta","index":0,
                                          "delta":{"type":"text_delta","text":"x"}})"}},
           Case{ApiFormat::anthropic, {start, R"({"type":"content_block_start","index":3,
                                          "content_block":{"type":"text","text":""}})"}},
           Case{ApiFormat::anthropic, {start, R"({"type":"content_block_start","index":0,
                                          "content_block":{"type":"tool_use"}})"}},
           Case{ApiFormat::openai, {"[1,2]"}},
           Case{ApiFormat::openai, {chunk, R"({"choices":[{"delta":{"tool_calls":[
                                       {"index":1,"id":"t","function":{"name":"f"}}]}}]})"}},
           Case{ApiFormat::openai, {chunk, R"({"choices":[{"delta":{"tool_calls":[
                                       {"index":0,"function":{"arguments":"{}"}}]}}]})"}},
           Case{ApiFormat::openai,
                {R"({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"a",
                     "function":{"name":"f"}}]}}]})",
                 R"({"choices":[{"delta":{"tool_calls":[{"index":1,"id":"b",
                     "function":{"name":"g"}}]}}]})",
                 R"({"choices":[{"delta":{"tool_calls":[{"index":0,
                     "function":{"arguments":"{}"}}]}}]})"}},
       }) {
    TranslationWorkspace workspace;
    StreamTranslator translator(workspace);
    translator.start(c.upstream, kClientModel, kCreated, true);
    std::string out;
    std::optional<ApiError> error;
    for (std::string_view data : c.events) {
      const Result<StreamProgress> progress = translator.on_event(data, out);
      if (!progress) error = progress.error();
    }
    ASSERT_TRUE(error.has_value()) << c.events.back();
    EXPECT_EQ(error->kind, ErrorKind::upstream_server_error);
  }
}

TEST(TranslateStream, EventsAfterTheEndWriteNothing) {
  TranslationWorkspace workspace;
  StreamTranslator translator(workspace);
  translator.start(ApiFormat::openai, kClientModel, kCreated, false);
  std::string out;
  ASSERT_TRUE(translator.on_event("[DONE]", out));
  const std::size_t size = out.size();

  const Result<StreamProgress> late =
      translator.on_event(R"({"choices":[{"delta":{"content":"late"}}]})", out);

  ASSERT_TRUE(late);
  EXPECT_EQ(*late, StreamProgress::completed);
  EXPECT_EQ(out.size(), size);
  EXPECT_EQ(translator.finish(out), StreamProgress::completed);
}

TEST(TranslateStream, ReportsUsageInMeteredKinds) {
  TranslationWorkspace workspace;
  StreamTranslator translator(workspace);
  std::string out;
  translator.start(ApiFormat::anthropic, kClientModel, kCreated, false);
  for (const SseEventCopy& event :
       frame_events(read_translate_data("streams/anthropic_text.sse"))) {
    ASSERT_TRUE(translator.on_event(event.data, out));
  }
  EXPECT_EQ(
      translator.usage(),
      (metering::TokenUsage{.input = 25, .cached_input = 10, .cache_write = 5, .output = 15}));

  translator.start(ApiFormat::openai, kClientModel, kCreated, false);
  for (const SseEventCopy& event : frame_events(read_translate_data("streams/openai_text.sse"))) {
    ASSERT_TRUE(translator.on_event(event.data, out));
  }
  EXPECT_EQ(translator.usage(),
            (metering::TokenUsage{.input = 8, .cached_input = 32, .output = 8, .reasoning = 4}));
}

// ---- Steady state ----------------------------------------------------------------------------

// Once a translator, its workspace and the output string have seen a stream, translating
// another like it allocates nothing.
TEST(TranslateStream, SteadyStateAllocatesNothing) {
  for (const auto& [input, upstream] :
       {std::pair{"streams/anthropic_tool_use.sse", ApiFormat::anthropic},
        std::pair{"streams/openai_tool_calls.sse", ApiFormat::openai}}) {
    const std::vector<SseEventCopy> events = frame_events(read_translate_data(input));
    TranslationWorkspace workspace;
    StreamTranslator translator(workspace);
    std::string out;
    const auto run = [&] {
      out.clear();
      translator.start(upstream, kClientModel, kCreated, true);
      for (const SseEventCopy& event : events) (void)translator.on_event(event.data, out);
      (void)translator.finish(out);
    };
    const std::size_t at_start = metering::testing::allocations_on_this_thread();
    run();
    const std::size_t warm_up = metering::testing::allocations_on_this_thread() - at_start;
    const std::string first = out;

    const std::size_t before = metering::testing::allocations_on_this_thread();
    run();
    const std::size_t allocations = metering::testing::allocations_on_this_thread() - before;

    EXPECT_GT(warm_up, 0U) << "the allocation counter is not counting";
    EXPECT_EQ(allocations, 0U) << input;
    EXPECT_EQ(out, first) << input;
  }
}

}  // namespace
}  // namespace spendwall::api
