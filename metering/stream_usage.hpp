#pragma once

#include <cstdint>
#include <string_view>

#include "metering/endpoint.hpp"
#include "metering/usage.hpp"

/// Metering of one streamed (SSE) response, event by event.
///
/// Thread-safety: not thread-safe; one tracker per stream, on the worker thread that owns
/// the UsageExtractor it borrows.
namespace spendwall::metering {

/// What the proxy does with an upstream event after observing it.
enum class EventDisposition : std::uint8_t {
  forward,           ///< relay the event's bytes
  usage_only_chunk,  ///< OpenAI chat/completions chunk with usage and no choices: relay it
                     ///< only to a client that asked for `stream_options.include_usage`
  done,              ///< the provider's last event (`data: [DONE]`, `response.completed`/
                     ///< `incomplete`/`failed`, `message_stop`): relay it; usage is final
};

/// Follows the SSE events of one upstream stream on wire format `wire` and collects:
/// - the provider's usage: the OpenAI chat/completions chunk carrying `usage`; the
///   Responses `response.completed` (or `incomplete`/`failed`) `response.usage`; Anthropic
///   `message_start` `message.usage` (input and cache kinds), updated by each
///   `message_delta` `usage` (cumulative; the latest wins);
/// - the bytes of content relayed, decoded, for the estimate when usage never comes:
///   OpenAI `choices[]` `content`/`text`/`refusal`/tool-call `arguments`; Responses
///   `response.output_text.delta`, `response.refusal.delta` and
///   `response.function_call_arguments.delta` `delta`; Anthropic `content_block_delta`
///   `delta.text`/`partial_json`/`thinking`.
///
/// The event type is the `event:` name when present, else the data's `type` member.
/// Events it cannot read are forwarded and counted in malformed_events(). Only the small
/// parts it needs are parsed: a Responses terminal event, which repeats the whole output,
/// is scanned for `response.usage` and only that object is parsed.
///
/// The tracker is a small value that allocates nothing; JSON work goes through the
/// borrowed per-worker UsageExtractor, whose buffers are reused.
class StreamUsageTracker {
 public:
  /// `json` must outlive the tracker.
  StreamUsageTracker(UsageExtractor& json, Endpoint wire) noexcept : json_(&json), wire_(wire) {}

  /// Starts a new stream on wire format `wire`.
  void reset(Endpoint wire) noexcept { *this = StreamUsageTracker(*json_, wire); }

  /// Observes one event (as SseFramer delivers it) and says what to do with it.
  EventDisposition observe(std::string_view event_name, std::string_view data);

  /// True once the provider's usage is complete (for Anthropic: `message_start` and a
  /// `message_delta` both reported).
  bool has_usage() const noexcept { return input_reported_ && output_reported_; }
  /// The usage reported so far (kinds not reported yet are 0).
  TokenUsage usage() const noexcept { return usage_; }
  /// Decoded bytes of content relayed so far.
  std::uint64_t content_bytes() const noexcept { return content_bytes_; }
  /// Events that were not the JSON their type promises.
  std::uint32_t malformed_events() const noexcept { return malformed_events_; }

  /// The usage to record when the stream ends: the reported one when complete; else an
  /// estimate (estimate_usage() of `request_text_bytes` and content_bytes()) in which
  /// whatever the provider did report (Anthropic's input kinds from `message_start`)
  /// replaces the estimated kinds.
  MeteredUsage settle(std::uint64_t request_text_bytes) const noexcept;

 private:
  EventDisposition observe_chunk(std::string_view data);
  EventDisposition observe_responses(std::string_view type, std::string_view data);
  EventDisposition observe_messages(std::string_view type, std::string_view data);

  UsageExtractor* json_;
  Endpoint wire_;
  TokenUsage usage_;
  std::uint64_t content_bytes_ = 0;
  std::uint32_t malformed_events_ = 0;
  bool input_reported_ = false;
  bool output_reported_ = false;
};

}  // namespace spendwall::metering
