#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <simdjson.h>

#include "metering/endpoint.hpp"
#include "proxy/api/result.hpp"

/// Parsing and validation of the JSON body of a metered request (PRODUCT.md §2, step 1).
/// Thread-safety: a `RequestParser` belongs to one worker and is used by one thread; a
/// `ParsedRequest` is a plain value.
namespace spendwall::api {

/// A byte range of the request body.
struct ByteSpan {
  std::size_t offset = 0;
  std::size_t length = 0;
};

/// The client's `model`, unescaped. Stored inline so that a `ParsedRequest` stays valid on
/// its own while the worker's parser moves on to other requests.
class ModelName {
 public:
  static constexpr std::size_t kMaxBytes = 256;

  /// False (and unchanged) when `name` is longer than `kMaxBytes`.
  bool assign(std::string_view name) noexcept;
  std::string_view view() const noexcept { return {bytes_.data(), size_}; }
  // Implicit: a model name is used wherever a string is.
  operator std::string_view() const noexcept { return view(); }

 private:
  std::array<char, kMaxBytes> bytes_{};
  std::size_t size_ = 0;
};

/// What budget admission needs to bound the input tokens of a request (PRODUCT.md §5).
///
/// `text_bytes` counts the UTF-8 bytes of every string and member name inside the
/// input-bearing fields (`messages`, `system`, `prompt`, `suffix`, `input`,
/// `instructions`, tool definitions), plus one per number or literal (a pre-tokenised
/// prompt is an array of token ids). Roles, part types and member names are framing the
/// provider may not bill; counting them errs high, the safe side for a bound.
/// `media_parts` counts images and audio, whose bytes are skipped, and files and
/// documents, whose bytes are counted too because one may be a bare id and another plain
/// text.
struct InputStats {
  std::uint64_t text_bytes = 0;
  /// Chat and Anthropic `messages`, Responses `input` items (a string `input` is one).
  std::uint64_t message_count = 0;
  std::uint64_t media_parts = 0;
};

/// The fields of a metered request body that routing, budgeting and rewriting need.
/// It refers to the body only through byte spans, valid for the body it was parsed from.
struct ParsedRequest {
  metering::Endpoint endpoint = metering::Endpoint::chat_completions;
  ModelName model;
  bool stream = false;
  /// The client sent `stream_options.include_usage: true`.
  bool include_usage_requested = false;
  /// The largest output limit among the fields the endpoint honours: `max_tokens` and
  /// `max_completion_tokens` (chat), `max_output_tokens` (Responses), `max_tokens`
  /// (legacy completions, Anthropic messages). Absent for embeddings.
  std::optional<std::uint64_t> max_output_tokens;
  InputStats input;

  /// Offset of the `{` that opens the body.
  std::size_t object_offset = 0;
  /// The `model` value, quotes included.
  ByteSpan model_span;
  /// The top-level `stream_options` value (an object or `null`) when present.
  std::optional<ByteSpan> stream_options_span;
  /// The `include_usage` value inside `stream_options` when present.
  std::optional<ByteSpan> include_usage_span;
};

using ParseOutcome = Result<ParsedRequest>;

/// Validates and reads the body of a metered request with one reused simdjson DOM parser.
///
/// The whole body is validated: malformed JSON, invalid UTF-8 and nesting deeper than
/// `kMaxDepth` are 400 `invalid_request`, as are a body that is not an object, a top-level
/// field this layer reads that appears twice (the provider would read a different one
/// than Spendwall routed and metered), a `model`, `stream_options` or `include_usage`
/// name written with escapes (the rewrite finds them byte for byte), and these rules:
/// - `model`: required, a string of 1–256 bytes without control characters;
/// - `stream`: boolean or null;
/// - `stream_options`: object or null; its `include_usage`: boolean or null;
/// - `max_tokens`, `max_completion_tokens`, `max_output_tokens`: when present and not null,
///   an integer in 1..10^7, on every endpoint;
/// - `/v1/messages` requires `max_tokens`, as the Anthropic API does.
class RequestParser {
 public:
  static constexpr std::size_t kMaxDepth = 128;
  static constexpr std::uint64_t kMaxOutputTokens = 10'000'000;

  /// Grows as larger bodies come, up to what the server's body limit lets in.
  explicit RequestParser(std::size_t initial_capacity = 64 * 1024) noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  /// `endpoint` must be metered; `body` must have `SIMDJSON_PADDING` readable bytes past
  /// its end. An unmetered endpoint is answered with `ErrorKind::internal`.
  ParseOutcome parse(metering::Endpoint endpoint, simdjson::padded_string_view body) noexcept;

 private:
  bool ensure_depth_limit(std::size_t capacity) noexcept;

  simdjson::dom::parser parser_;
};

}  // namespace spendwall::api
