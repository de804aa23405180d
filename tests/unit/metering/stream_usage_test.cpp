#include "metering/stream_usage.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "allocation_counter.hpp"
#include "metering/estimate.hpp"
#include "metering/sse.hpp"
#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using testing::read_test_data;

struct StreamCase {
  std::string_view file;
  Endpoint wire;
  bool has_usage;
  TokenUsage usage;
  std::uint64_t content_bytes;  // decoded bytes of the relayed text, counted independently
  std::size_t usage_only_chunks;
  bool ends_done;
  std::uint32_t malformed_events;
};

const StreamCase kStreamCases[] = {
    {"chat_stream.sse",
     Endpoint::chat_completions,
     true,
     {.input = 30, .output = 51},
     232,
     1,
     true,
     0},
    {"completion_legacy_stream.sse",
     Endpoint::completions,
     true,
     {.input = 12, .output = 17},
     80,
     1,
     true,
     0},
    // output 162 of which 128 reasoning
    {"responses_stream.sse",
     Endpoint::responses,
     true,
     {.input = 28, .output = 34, .reasoning = 128},
     192,
     0,
     true,
     0},
    // message_start: input 472, cache read 1024; message_delta: output 88 (latest wins)
    {"anthropic_stream.sse",
     Endpoint::messages,
     true,
     {.input = 472, .cached_input = 1024, .output = 88},
     280,
     0,
     true,
     0},
    // cut after 20 content chunks, inside the 21st
    {"chat_stream_truncated.sse", Endpoint::chat_completions, false, {}, 87, 0, false, 0},
    // the chunk carrying " workflow" (9 bytes) is broken; the rest still counts
    {"chat_stream_malformed.sse",
     Endpoint::chat_completions,
     true,
     {.input = 30, .output = 51},
     232 - 9,
     1,
     true,
     1},
};

struct Observed {
  std::vector<EventDisposition> dispositions;
  bool has_usage = false;
  TokenUsage usage;
  std::uint64_t content_bytes = 0;
  std::uint32_t malformed_events = 0;
  friend bool operator==(const Observed&, const Observed&) = default;
};

Observed observe(UsageExtractor& json, const StreamCase& c, std::string_view input,
                 std::size_t piece_size) {
  SseFramer framer(1 << 20);
  StreamUsageTracker tracker(json, c.wire);
  Observed out;
  for (std::size_t at = 0; at < input.size(); at += piece_size) {
    framer.feed(input.substr(at, piece_size),
                [&](std::string_view name, std::string_view data, std::string_view) {
                  out.dispositions.push_back(tracker.observe(name, data));
                });
  }
  out.has_usage = tracker.has_usage();
  out.usage = tracker.usage();
  out.content_bytes = tracker.content_bytes();
  out.malformed_events = tracker.malformed_events();
  return out;
}

class RecordedStreamUsage : public ::testing::TestWithParam<StreamCase> {};

TEST_P(RecordedStreamUsage, MetersTheStream) {
  const StreamCase& c = GetParam();
  UsageExtractor json;
  const Observed whole = observe(json, c, read_test_data(c.file), std::string_view::npos);
  EXPECT_EQ(whole.has_usage, c.has_usage);
  EXPECT_EQ(whole.usage, c.usage);
  EXPECT_EQ(whole.content_bytes, c.content_bytes);
  EXPECT_EQ(whole.malformed_events, c.malformed_events);
  std::size_t usage_only = 0;
  for (EventDisposition d : whole.dispositions) {
    usage_only += d == EventDisposition::usage_only_chunk ? 1 : 0;
  }
  EXPECT_EQ(usage_only, c.usage_only_chunks);
  ASSERT_FALSE(whole.dispositions.empty());
  EXPECT_EQ(whole.dispositions.back() == EventDisposition::done, c.ends_done);
  for (std::size_t i = 0; i + 1 < whole.dispositions.size(); ++i) {
    EXPECT_NE(whole.dispositions[i], EventDisposition::done) << "event " << i;
  }
}

/// Everything a tracker exposes, after one event.
struct TrackerState {
  EventDisposition disposition;
  bool has_usage;
  TokenUsage usage;
  std::uint64_t content_bytes;
  std::uint32_t malformed_events;
  MeteredUsage settled;
  friend bool operator==(const TrackerState&, const TrackerState&) = default;
};

TrackerState state_of(const StreamUsageTracker& tracker, EventDisposition disposition) {
  return {disposition,
          tracker.has_usage(),
          tracker.usage(),
          tracker.content_bytes(),
          tracker.malformed_events(),
          tracker.settle(1000)};
}

// Framing a stream split anywhere yields the same events (sse_test.cpp checks every split
// of these streams). Here, for every byte boundary inside every event: framing that event
// in two pieces and observing it leaves the tracker in the same state as observing it
// whole. By induction over the events, every split meters the stream identically, at a
// cost linear in the stream rather than quadratic.
TEST_P(RecordedStreamUsage, EverySplitGivesTheSameResult) {
  const StreamCase& c = GetParam();
  const std::string input = read_test_data(c.file);
  UsageExtractor json;

  std::vector<std::string_view> events;
  std::vector<StreamUsageTracker> before_event;  // tracker state before each event
  std::vector<TrackerState> after_event;
  {
    SseFramer framer(1 << 20);
    StreamUsageTracker tracker(json, c.wire);
    framer.feed(input, [&](std::string_view name, std::string_view data, std::string_view raw) {
      events.push_back(std::string_view(input).substr(
          static_cast<std::size_t>(raw.data() - input.data()), raw.size()));
      before_event.push_back(tracker);
      after_event.push_back(state_of(tracker, tracker.observe(name, data)));
    });
  }
  ASSERT_FALSE(after_event.empty());

  for (std::size_t k = 0; k < after_event.size(); ++k) {
    const std::string_view event = events[k];
    for (std::size_t cut = 1; cut < event.size(); ++cut) {
      SseFramer framer(1 << 20);
      StreamUsageTracker tracker = before_event[k];
      std::size_t delivered = 0;
      EventDisposition disposition = EventDisposition::forward;
      auto on_event = [&](std::string_view name, std::string_view data, std::string_view) {
        disposition = tracker.observe(name, data);
        ++delivered;
      };
      framer.feed(event.substr(0, cut), on_event);
      framer.feed(event.substr(cut), on_event);
      ASSERT_EQ(delivered, 1u) << "event " << k << " split at byte " << cut;
      ASSERT_EQ(state_of(tracker, disposition), after_event[k])
          << "event " << k << " split at byte " << cut;
    }
  }
  EXPECT_EQ(observe(json, c, input, 1), observe(json, c, input, std::string_view::npos));
}

INSTANTIATE_TEST_SUITE_P(Streams, RecordedStreamUsage, ::testing::ValuesIn(kStreamCases),
                         [](const auto& case_info) {
                           return testing::case_name(case_info.param.file);
                         });

TEST(StreamUsageTracker, UsageChunkWithChoicesIsForwarded) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::chat_completions);
  EXPECT_EQ(tracker.observe("", R"({"choices":[{"index":0,"delta":{"content":"hi"}}],)"
                                R"("usage":{"prompt_tokens":3,"completion_tokens":1}})"),
            EventDisposition::forward);
  EXPECT_TRUE(tracker.has_usage());
  EXPECT_EQ(tracker.usage(), (TokenUsage{.input = 3, .output = 1}));
  EXPECT_EQ(tracker.content_bytes(), 2u);
}

TEST(StreamUsageTracker, CountsToolCallArgumentsAndDecodesEscapes) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::chat_completions);
  tracker.observe("", R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,)"
                      R"("function":{"name":"get_budget","arguments":"{\"w\":\"\u00e9\"}"}}]}}]})");
  EXPECT_EQ(tracker.content_bytes(), std::string_view("{\"w\":\"\xc3\xa9\"}").size());
}

TEST(StreamUsageTracker, ResponsesWithoutEventNamesUseTheTypeMember) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::responses);
  EXPECT_EQ(tracker.observe("", R"({"type":"response.output_text.delta","delta":"abc"})"),
            EventDisposition::forward);
  EXPECT_EQ(tracker.observe("", R"({"type":"response.incomplete","response":{"output":[],)"
                                R"("usage":{"input_tokens":9,"output_tokens":4}}})"),
            EventDisposition::done);
  EXPECT_EQ(tracker.content_bytes(), 3u);
  EXPECT_EQ(tracker.usage(), (TokenUsage{.input = 9, .output = 4}));
}

TEST(StreamUsageTracker, FailedResponseWithoutUsageIsDoneWithoutUsage) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::responses);
  EXPECT_EQ(tracker.observe("response.failed", R"({"response":{"status":"failed","usage":null}})"),
            EventDisposition::done);
  EXPECT_FALSE(tracker.has_usage());
  EXPECT_EQ(tracker.malformed_events(), 0u);
}

TEST(StreamUsageTracker, AnthropicMessageDeltaUpdatesWhatItCarries) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::messages);
  tracker.observe("message_start",
                  R"({"type":"message_start","message":{"usage":)"
                  R"({"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}})");
  EXPECT_FALSE(tracker.has_usage());
  tracker.observe("message_delta", R"({"type":"message_delta","usage":{"output_tokens":7}})");
  EXPECT_TRUE(tracker.has_usage());
  EXPECT_EQ(tracker.usage(), (TokenUsage{.input = 10, .cached_input = 5, .output = 7}));
  // A later cumulative delta that also restates input wins.
  tracker.observe("message_delta",
                  R"({"type":"message_delta","usage":{"input_tokens":12,"output_tokens":9}})");
  EXPECT_EQ(tracker.usage(), (TokenUsage{.input = 12, .cached_input = 5, .output = 9}));
  EXPECT_EQ(tracker.observe("message_stop", R"({"type":"message_stop"})"), EventDisposition::done);
}

TEST(StreamUsageTracker, SettleReportsCompleteUsage) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::chat_completions);
  tracker.observe("", R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}})");
  EXPECT_EQ(tracker.settle(1000), (MeteredUsage{{.input = 3, .output = 1}, UsageSource::reported}));
}

TEST(StreamUsageTracker, SettleEstimatesACutStream) {
  const StreamCase& c = kStreamCases[4];
  ASSERT_EQ(c.file, "chat_stream_truncated.sse");
  UsageExtractor json;
  SseFramer framer(1 << 20);
  StreamUsageTracker tracker(json, c.wire);
  framer.feed(read_test_data(c.file), [&](std::string_view name, std::string_view data,
                                          std::string_view) { tracker.observe(name, data); });
  const MeteredUsage settled = tracker.settle(92);
  EXPECT_EQ(settled.source, UsageSource::estimated);
  EXPECT_EQ(settled.tokens, estimate_usage(92, 87));
}

TEST(StreamUsageTracker, SettleKeepsReportedAnthropicInputWhenOutputIsMissing) {
  const std::string stream = read_test_data("anthropic_stream.sse");
  const std::string cut = stream.substr(0, stream.find("event: content_block_stop"));
  UsageExtractor json;
  SseFramer framer(1 << 20);
  StreamUsageTracker tracker(json, Endpoint::messages);
  framer.feed(cut, [&](std::string_view name, std::string_view data, std::string_view) {
    tracker.observe(name, data);
  });
  EXPECT_FALSE(tracker.has_usage());
  const MeteredUsage settled = tracker.settle(4000);
  EXPECT_EQ(settled.source, UsageSource::estimated);
  EXPECT_EQ(settled.tokens, (TokenUsage{.input = 472,
                                        .cached_input = 1024,
                                        .output = estimate_tokens(tracker.content_bytes())}));
}

TEST(StreamUsageTracker, ResetStartsOver) {
  UsageExtractor json;
  StreamUsageTracker tracker(json, Endpoint::chat_completions);
  tracker.observe("", R"({"choices":[{"delta":{"content":"abc"}}],"usage":{"prompt_tokens":1}})");
  tracker.observe("", "{broken");
  tracker.reset(Endpoint::messages);
  EXPECT_FALSE(tracker.has_usage());
  EXPECT_EQ(tracker.usage(), TokenUsage{});
  EXPECT_EQ(tracker.content_bytes(), 0u);
  EXPECT_EQ(tracker.malformed_events(), 0u);
  EXPECT_EQ(tracker.observe("message_stop", "{}"), EventDisposition::done);
}

TEST(StreamUsageTracker, AllocatesNothingOnceWarm) {
  UsageExtractor json;
  for (const StreamCase& c : kStreamCases) {
    const std::string input = read_test_data(c.file);
    SseFramer framer(1 << 20);
    StreamUsageTracker tracker(json, c.wire);
    auto run = [&] {
      framer.reset();
      tracker.reset(c.wire);
      for (std::size_t at = 0; at < input.size(); at += 13) {
        framer.feed(std::string_view(input).substr(at, 13),
                    [&](std::string_view name, std::string_view data, std::string_view) {
                      tracker.observe(name, data);
                    });
      }
    };
    run();
    const std::size_t before = testing::allocations_on_this_thread();
    run();
    EXPECT_EQ(testing::allocations_on_this_thread(), before) << c.file;
  }
}

}  // namespace
}  // namespace spendwall::metering
