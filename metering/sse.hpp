#pragma once

#include <cstddef>
#include <string>
#include <string_view>

/// Incremental framing of a server-sent-events stream (the WHATWG event-stream format)
/// into whole events, so that the proxy can meter each event and then forward its exact
/// bytes, or drop it.
///
/// Thread-safety: not thread-safe; one framer per stream, used by one thread at a time.
namespace spendwall::metering {

/// One event block. The views are valid until the next call on the framer that made it.
struct SseEvent {
  std::string_view name;  ///< value of the last `event:` line; empty when none (SSE: "message")
  std::string_view data;  ///< the `data:` lines joined by '\n'; empty when none
  std::string_view raw;   ///< the block's exact bytes, its closing blank line included
};

/// Splits a byte stream into event blocks.
///
/// Lines end in "\n", "\r\n" or a bare "\r", freely mixed; a blank line closes a block.
/// Every block is delivered, including those with no data (comments such as `: ping`,
/// stray blank lines): their bytes must reach the client too. So the `raw` views of all
/// delivered events, followed by pending(), always reproduce the input byte for byte,
/// however it was split into feeds.
///
/// Memory is bounded: a block longer than the limit given at construction puts the framer
/// in the failed state, where it ignores further input. Its buffers grow to the largest
/// block that spanned two feeds (or had several `data:` lines) and are then reused, so
/// steady-state framing allocates nothing; a block contained in one feed is not copied.
class SseFramer {
 public:
  /// `max_event_bytes`: the largest block accepted, closing blank line included.
  explicit SseFramer(std::size_t max_event_bytes) noexcept : max_event_bytes_(max_event_bytes) {}

  /// Consumes `bytes`, calling `on_event(name, data, raw)` once per complete block, in
  /// order. The views passed are valid during that call only.
  template <class Handler>
  void feed(std::string_view bytes, Handler&& on_event) {
    SseEvent event;
    while (next(bytes, event)) on_event(event.name, event.data, event.raw);
  }

  /// Pull form of feed(): consumes `input` up to the end of the next complete block and
  /// returns true with it in `event`, or consumes all of `input` (keeping an incomplete
  /// block) and returns false. `event` stays valid while `input`'s bytes do and until the
  /// next call on this framer, so a caller may await a write of `event.raw` in between.
  bool next(std::string_view& input, SseEvent& event);

  /// At the end of the stream: delivers the last block when its closing blank line ended
  /// in a bare "\r" (only the next byte could tell whether a "\n" belonged to it).
  /// Returns false when there is no such block; an incomplete block stays in pending().
  bool finish(SseEvent& event);

  /// True once a block exceeded the size limit. The stream cannot be framed any further.
  bool failed() const noexcept { return failed_; }

  /// The bytes received that do not yet form a complete block (after feed() returned, or
  /// next() returned false).
  std::string_view pending() const noexcept {
    return partial_delivered_ ? std::string_view{} : std::string_view(partial_);
  }

  /// Starts a new stream, keeping the buffers' capacity.
  void reset() noexcept;

 private:
  /// Finds where the current block ends in `input`: one past its closing line end, or
  /// npos when `input` ends first. Carries the line state across calls.
  std::size_t find_block_end(std::string_view input) noexcept;
  /// Fills the fields of `event` from a complete block.
  void parse_block(std::string_view raw, SseEvent& event);

  std::size_t max_event_bytes_;
  std::string partial_;             ///< the start of a block that began in an earlier feed
  std::string joined_data_;         ///< `data:` lines of a multi-line block, joined
  bool partial_delivered_ = false;  ///< partial_ holds a delivered block: clear it next call
  bool line_empty_ = true;          ///< nothing seen yet on the current line
  bool after_cr_ = false;           ///< a line just ended in "\r": a "\n" next belongs to it
  bool blank_line_cr_ = false;      ///< a blank line ended in "\r" as the input ran out
  bool failed_ = false;
};

}  // namespace spendwall::metering
