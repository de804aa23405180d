#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metering/endpoint.hpp"
#include "metering/usage.hpp"
#include "proxy/api/result.hpp"
#include "proxy/api/translate.hpp"

/// Streamed responses translated event by event between the Anthropic Messages and OpenAI
/// chat completion SSE formats (PRODUCT.md §2 step 7), so that a client always receives its
/// own API's stream. docs/translation.md shows both event sequences.
/// Thread-safety: a `StreamTranslator` belongs to one response on one worker thread.
namespace spendwall::api {

/// How far a translated stream has got.
enum class StreamProgress : std::uint8_t {
  streaming,       ///< more upstream events are expected
  completed,       ///< the client's closing events (`[DONE]`, `message_stop`) were written
  upstream_error,  ///< the provider sent an error event, written out in the client's format
};

/// Turns one upstream SSE stream into the client's, one event at a time.
///
/// Each upstream event's `data` (as `SseFramer` yields it; the event name adds nothing, since
/// Anthropic repeats it as the data's `type` and OpenAI sends none) is translated at once and
/// appended to the caller's output: nothing waits for the rest of the stream, except what the
/// target format orders differently:
/// - Anthropic upstream, OpenAI client: the role chunk goes out at `message_start`, content
///   and tool-call chunks as their deltas come; the chunk with `finish_reason`, then the usage
///   chunk (`choices: []`, only when the client asked for `stream_options.include_usage`),
///   then `data: [DONE]` go out at `message_stop`, by when usage is final. Pings become SSE
///   comments, which keep the connection alive and which clients ignore.
/// - OpenAI upstream, Anthropic client: `message_start` goes out with the first chunk. OpenAI
///   reports usage only in its last chunk, so `message_start` carries zero usage and the
///   final `message_delta` carries all of it (input, cache reads and output), which Anthropic
///   clients read as cumulative totals. The `finish_reason` chunk closes the open content
///   block; `message_delta` and `message_stop` wait for `[DONE]`, after the usage chunk.
///
/// Steady state allocates nothing: the workspace's parser and this translator's buffers keep
/// their capacity from one stream to the next (`start()` begins a new one).
class StreamTranslator {
 public:
  /// `workspace` must outlive the translator; it is used only during each call.
  explicit StreamTranslator(TranslationWorkspace& workspace) noexcept : workspace_(workspace) {}
  StreamTranslator(const StreamTranslator&) = delete;
  StreamTranslator& operator=(const StreamTranslator&) = delete;

  /// Begins a response from a provider speaking `upstream` to a client speaking the other
  /// format. `client_model` is the `model` the client is shown; `created_unix_seconds` is the
  /// OpenAI chunks' `created`; `include_usage` is whether an OpenAI client asked for the
  /// usage chunk (Anthropic clients always get usage).
  void start(metering::ApiFormat upstream, std::string_view client_model,
             std::int64_t created_unix_seconds, bool include_usage);

  /// Translates one upstream event's data, appending the client's events to `out`. An event
  /// with no data (an SSE comment) and events after the stream completed or failed write
  /// nothing. Upstream data that cannot be read is an `upstream_server_error`.
  Result<StreamProgress> on_event(std::string_view data, std::string& out);

  /// At the end of the upstream bytes: an OpenAI stream that sent its `finish_reason` but no
  /// `[DONE]` is closed as if it had, with whatever usage it reported. Any other stream that has
  /// not completed was cut, and is left as it is: the client's stream simply ends (PRODUCT.md §2
  /// step 6).
  StreamProgress finish(std::string& out);

  StreamProgress progress() const noexcept { return progress_; }

  /// Usage reported so far, in metered kinds.
  const metering::TokenUsage& usage() const noexcept { return usage_; }

 private:
  enum class BlockKind : std::uint8_t { none, text, tool, ignored };
  /// An Anthropic content block of the stream, by its index.
  struct Block {
    BlockKind kind = BlockKind::none;
    std::uint32_t tool_index = 0;  ///< for tools: the OpenAI tool_calls index
  };

  Result<StreamProgress> from_anthropic(std::string_view data, std::string& out);
  Result<StreamProgress> from_openai(std::string_view data, std::string& out);

  void begin_openai_stream(std::string& out);
  void begin_anthropic_stream(std::string_view id, std::string& out);
  void open_anthropic_block(BlockKind kind, std::string_view tool_id, std::string_view tool_name,
                            std::string& out);
  void close_anthropic_block(std::string& out);
  void end_anthropic_stream(std::string& out);

  TranslationWorkspace& workspace_;
  metering::ApiFormat upstream_ = metering::ApiFormat::anthropic;
  std::string model_;
  std::string id_;
  std::int64_t created_ = 0;
  bool include_usage_ = false;
  bool started_ = false;
  StreamProgress progress_ = StreamProgress::streaming;
  metering::TokenUsage usage_;
  /// The client's finish or stop reason once known (static text), else empty.
  std::string_view stop_reason_;

  // Anthropic upstream: its content blocks, and how many were tool uses.
  std::vector<Block> blocks_;
  std::uint32_t tool_count_ = 0;

  // OpenAI upstream: the Anthropic block each OpenAI tool-call index became, and the block
  // open now.
  std::vector<std::uint32_t> tool_blocks_;
  BlockKind open_block_ = BlockKind::none;
  std::uint32_t open_index_ = 0;
  std::uint32_t next_index_ = 0;
  bool refusal_seen_ = false;  ///< the text streamed so far is a refusal
};

}  // namespace spendwall::api
