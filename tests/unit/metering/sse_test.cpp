#include "metering/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "allocation_counter.hpp"
#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using testing::read_test_data;

struct Event {
  std::string name;
  std::string data;
  std::string raw;
  friend bool operator==(const Event&, const Event&) = default;
};

constexpr std::size_t kLimit = 1 << 20;

struct Framed {
  std::vector<Event> events;
  std::string pending;
  bool failed = false;
};

/// Feeds `input` in pieces cut at `cuts` (ascending offsets).
Framed frame(std::string_view input, const std::vector<std::size_t>& cuts,
             std::size_t limit = kLimit) {
  SseFramer framer(limit);
  Framed out;
  auto collect = [&](std::string_view name, std::string_view data, std::string_view raw) {
    out.events.push_back({std::string(name), std::string(data), std::string(raw)});
  };
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    framer.feed(input.substr(from, cut - from), collect);
    from = cut;
  }
  framer.feed(input.substr(from), collect);
  SseEvent last;
  if (framer.finish(last)) collect(last.name, last.data, last.raw);
  out.pending = framer.pending();
  out.failed = framer.failed();
  return out;
}

Framed frame_whole(std::string_view input, std::size_t limit = kLimit) {
  return frame(input, {}, limit);
}

std::string concatenated_raw(const Framed& framed) {
  std::string all;
  for (const Event& e : framed.events) all += e.raw;
  return all + framed.pending;
}

std::string with_line_ending(std::string_view lf_text, std::string_view ending) {
  std::string out;
  for (char c : lf_text) {
    if (c == '\n') {
      out += ending;
    } else {
      out += c;
    }
  }
  return out;
}

/// Alternates "\r\n", "\n" and "\r" line by line.
std::string with_mixed_line_endings(std::string_view lf_text) {
  static constexpr std::string_view kEndings[] = {"\r\n", "\n", "\r"};
  std::string out;
  std::size_t line = 0;
  for (char c : lf_text) {
    if (c == '\n') {
      out += kEndings[line++ % 3];
    } else {
      out += c;
    }
  }
  return out;
}

const std::string_view kStreams[] = {
    "chat_stream.sse",      "chat_stream_truncated.sse", "chat_stream_malformed.sse",
    "responses_stream.sse", "anthropic_stream.sse",      "completion_legacy_stream.sse",
};

/// Whether feeding `input` in two pieces cut at `cut` delivers exactly `expected`. Compares
/// views as they are delivered, so that checking every cut of a stream stays fast.
::testing::AssertionResult frames_like(std::string_view input, std::size_t cut,
                                       const Framed& expected) {
  SseFramer framer(kLimit);
  std::size_t delivered = 0;
  bool same = true;
  auto compare = [&](std::string_view name, std::string_view data, std::string_view raw) {
    same = same && delivered < expected.events.size() && expected.events[delivered].name == name &&
           expected.events[delivered].data == data && expected.events[delivered].raw == raw;
    ++delivered;
  };
  framer.feed(input.substr(0, cut), compare);
  framer.feed(input.substr(cut), compare);
  if (same && delivered == expected.events.size() && framer.pending() == expected.pending) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "different events when split at byte " << cut;
}

class RecordedStreamFraming : public ::testing::TestWithParam<std::string_view> {};

TEST_P(RecordedStreamFraming, EverySplitGivesTheSameEvents) {
  const std::string input = read_test_data(GetParam());
  const Framed whole = frame_whole(input);
  ASSERT_FALSE(whole.failed);
  ASSERT_FALSE(whole.events.empty());
  EXPECT_EQ(concatenated_raw(whole), input);
  for (std::size_t cut = 1; cut < input.size(); ++cut) ASSERT_TRUE(frames_like(input, cut, whole));
  std::vector<std::size_t> every_byte;
  for (std::size_t cut = 1; cut < input.size(); ++cut) every_byte.push_back(cut);
  const Framed bytewise = frame(input, every_byte);
  EXPECT_EQ(bytewise.events, whole.events);
  EXPECT_EQ(bytewise.pending, whole.pending);
}

TEST_P(RecordedStreamFraming, OtherLineEndingsGiveTheSameNamesAndData) {
  const std::string lf = read_test_data(GetParam());
  const Framed reference = frame_whole(lf);
  for (const std::string& variant :
       {with_line_ending(lf, "\r\n"), with_line_ending(lf, "\r"), with_mixed_line_endings(lf)}) {
    std::vector<std::size_t> every_byte;
    for (std::size_t cut = 1; cut < variant.size(); ++cut) every_byte.push_back(cut);
    for (const Framed& framed : {frame_whole(variant), frame(variant, every_byte)}) {
      ASSERT_EQ(framed.events.size(), reference.events.size());
      for (std::size_t i = 0; i < framed.events.size(); ++i) {
        EXPECT_EQ(framed.events[i].name, reference.events[i].name);
        EXPECT_EQ(framed.events[i].data, reference.events[i].data);
      }
      EXPECT_EQ(concatenated_raw(framed), variant);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Streams, RecordedStreamFraming, ::testing::ValuesIn(kStreams),
                         [](const auto& case_info) { return testing::case_name(case_info.param); });

TEST(SseFramer, CrlfStreamSplitAtEveryByte) {
  const std::string crlf = with_line_ending(read_test_data("chat_stream.sse"), "\r\n");
  const Framed whole = frame_whole(crlf);
  EXPECT_TRUE(whole.pending.empty());
  for (std::size_t cut = 1; cut < crlf.size(); ++cut) ASSERT_TRUE(frames_like(crlf, cut, whole));
}

TEST(SseFramer, ParsesFields) {
  const Framed framed = frame_whole(
      ": comment\n"
      "event: usage\n"
      "id: 7\n"
      "retry: 100\n"
      "data: first\n"
      "data:second\n"
      "data\n"
      "data:  two spaces\n"
      "ignored field\n"
      "\n");
  ASSERT_EQ(framed.events.size(), 1u);
  EXPECT_EQ(framed.events[0].name, "usage");
  EXPECT_EQ(framed.events[0].data, "first\nsecond\n\n two spaces");
}

TEST(SseFramer, DeliversBlocksWithoutDataSoTheirBytesCanBeForwarded) {
  const std::string input = ": keep-alive\n\n\ndata: x\n\n";
  const Framed framed = frame_whole(input);
  ASSERT_EQ(framed.events.size(), 3u);
  EXPECT_EQ(framed.events[0], (Event{"", "", ": keep-alive\n\n"}));
  EXPECT_EQ(framed.events[1], (Event{"", "", "\n"}));
  EXPECT_EQ(framed.events[2], (Event{"", "x", "data: x\n\n"}));
}

TEST(SseFramer, LastEventNameWins) {
  const Framed framed = frame_whole("event: a\nevent: b\ndata: 1\n\n");
  ASSERT_EQ(framed.events.size(), 1u);
  EXPECT_EQ(framed.events[0].name, "b");
}

TEST(SseFramer, KeepsAnIncompleteEventPending) {
  const std::string input = "data: 1\n\ndata: 2\n";
  const Framed framed = frame(input, {3, 12});
  ASSERT_EQ(framed.events.size(), 1u);
  EXPECT_EQ(framed.pending, "data: 2\n");
}

TEST(SseFramer, BareCrAtTheEndNeedsFinish) {
  SseFramer framer(kLimit);
  std::size_t events = 0;
  framer.feed("data: 1\r\r", [&](auto, auto, auto) { ++events; });
  EXPECT_EQ(events, 0u);  // a "\n" could still follow
  EXPECT_EQ(framer.pending(), "data: 1\r\r");
  SseEvent last;
  ASSERT_TRUE(framer.finish(last));
  EXPECT_EQ(last.data, "1");
  EXPECT_EQ(last.raw, "data: 1\r\r");
  EXPECT_FALSE(framer.finish(last));
}

TEST(SseFramer, OversizedEventFails) {
  const std::string input = "data: " + std::string(100, 'x') + "\n\n";
  const Framed exact = frame_whole(input, input.size());
  EXPECT_FALSE(exact.failed);
  EXPECT_EQ(exact.events.size(), 1u);

  for (std::size_t cut = 0; cut < input.size(); ++cut) {
    const Framed framed = frame(input, {cut}, input.size() - 1);
    ASSERT_TRUE(framed.failed) << "split at byte " << cut;
    ASSERT_TRUE(framed.events.empty());
    ASSERT_LT(framed.pending.size(), input.size());
  }
}

TEST(SseFramer, FailureIsStickyUntilReset) {
  SseFramer framer(16);
  std::size_t events = 0;
  auto count = [&](auto, auto, auto) { ++events; };
  framer.feed("data: 0123456789abcdef\n\n", count);
  EXPECT_TRUE(framer.failed());
  framer.feed("data: 1\n\n", count);
  EXPECT_EQ(events, 0u);
  framer.reset();
  framer.feed("data: 1\n\n", count);
  EXPECT_FALSE(framer.failed());
  EXPECT_EQ(events, 1u);
}

TEST(SseFramer, EventsInOneFeedAreViewsIntoTheInput) {
  const std::string input = "data: 1\n\ndata: 2\n\n";
  SseFramer framer(kLimit);
  std::vector<const char*> starts;
  framer.feed(input, [&](auto, auto, std::string_view raw) { starts.push_back(raw.data()); });
  EXPECT_EQ(starts, (std::vector<const char*>{input.data(), input.data() + 9}));
}

TEST(SseFramer, PullFormStopsAfterEachEvent) {
  std::string_view input = "data: 1\n\ndata: 2\n\ndata: 3";
  SseFramer framer(kLimit);
  SseEvent event;
  ASSERT_TRUE(framer.next(input, event));
  EXPECT_EQ(event.data, "1");
  EXPECT_EQ(input, "data: 2\n\ndata: 3");
  ASSERT_TRUE(framer.next(input, event));
  EXPECT_EQ(event.data, "2");
  EXPECT_FALSE(framer.next(input, event));
  EXPECT_TRUE(input.empty());
  EXPECT_EQ(framer.pending(), "data: 3");
}

TEST(SseFramer, AllocatesNothingOnceWarm) {
  const std::string input = read_test_data("anthropic_stream.sse");
  SseFramer framer(kLimit);
  std::size_t events = 0;
  auto feed_in_pieces = [&] {
    for (std::size_t at = 0; at < input.size(); at += 7) {
      framer.feed(std::string_view(input).substr(at, 7), [&](auto, auto, auto) { ++events; });
    }
    framer.feed("data: a\ndata: b\n\n", [&](auto, auto, auto) { ++events; });
  };
  feed_in_pieces();
  const std::size_t before = testing::allocations_on_this_thread();
  feed_in_pieces();
  EXPECT_EQ(testing::allocations_on_this_thread(), before);
  EXPECT_GT(events, 0u);
}

}  // namespace
}  // namespace spendwall::metering
