#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "metering/endpoint.hpp"

/// Token usage as metered, and its extraction from provider `usage` objects.
///
/// Thread-safety: `TokenUsage` is a plain value. A `UsageExtractor` is single-threaded
/// state (one per worker thread): never share one between threads.
namespace spendwall::metering {

/// Largest token count accepted from a provider for one kind (about 10^12). Anything
/// larger is a broken upstream, read as "usage missing", and it keeps every sum and
/// every cost product far from overflow.
inline constexpr std::uint64_t kMaxTokenCount = std::uint64_t{1} << 40;

/// Tokens of one request, by disjoint kind (PRODUCT.md §2 step 9): the kinds sum to the
/// total and each is priced at its own rate.
struct TokenUsage {
  std::uint64_t input = 0;         ///< uncached input
  std::uint64_t cached_input = 0;  ///< input read from the provider's prompt cache
  std::uint64_t cache_write = 0;   ///< input written to the prompt cache (Anthropic)
  std::uint64_t output = 0;        ///< visible output
  std::uint64_t reasoning = 0;     ///< hidden reasoning output (OpenAI)

  constexpr std::uint64_t total() const noexcept {
    return input + cached_input + cache_write + output + reasoning;
  }
  friend constexpr bool operator==(const TokenUsage&, const TokenUsage&) = default;
};

/// Where a record's tokens come from. `estimated` is an honest blind spot, counted apart.
enum class UsageSource : std::uint8_t { reported, estimated };

/// The tokens a ledger record carries, with their provenance.
struct MeteredUsage {
  TokenUsage tokens;
  UsageSource source = UsageSource::reported;
  friend constexpr bool operator==(const MeteredUsage&, const MeteredUsage&) = default;
};

/// Reads the `usage` object a provider sends on the wire format of `wire` into `into`.
///
/// Field mapping (absent or null fields count as 0, subtractions clamp at 0):
/// - chat_completions, completions: input = `prompt_tokens` − `prompt_tokens_details.
///   cached_tokens`; output = `completion_tokens` − `completion_tokens_details.
///   reasoning_tokens`.
/// - responses: the same from `input_tokens`, `input_tokens_details.cached_tokens`,
///   `output_tokens`, `output_tokens_details.reasoning_tokens`.
/// - embeddings: input = `prompt_tokens`.
/// - messages (Anthropic): `input_tokens`, `cache_read_input_tokens`,
///   `cache_creation_input_tokens`, `output_tokens` as they are.
///
/// A kind is overwritten only when the object mentions one of its source fields, so that
/// Anthropic's `message_delta` (which may carry only `output_tokens`) can update what
/// `message_start` reported. Returns false, leaving `into` untouched, when `usage` names
/// no count at all, or a count is not an integer in [0, kMaxTokenCount].
bool read_usage_object(Endpoint wire, simdjson::ondemand::object& usage, TokenUsage& into);

/// Per-worker JSON reader for metering: one reused simdjson On-Demand parser plus one
/// reused padded scratch buffer, so that reading usage allocates nothing per request once
/// both have grown to the largest input seen.
///
/// Thread-safety: not thread-safe; one instance per worker thread. The documents it
/// returns borrow its parser and buffer and die at the next call.
class UsageExtractor {
 public:
  UsageExtractor() = default;
  UsageExtractor(const UsageExtractor&) = delete;
  UsageExtractor& operator=(const UsageExtractor&) = delete;

  /// Usage of a complete non-streaming response body on wire format `wire`.
  ///
  /// Only the top-level `usage` member is handed to simdjson: the body itself (up to
  /// `max_response_bytes`, 64 MiB by default) is walked by a structural scanner that
  /// keeps no index, because On-Demand's stage 1 would size the worker's parser at about
  /// six times the largest body and keep that memory forever. The scan still checks that
  /// the body is one complete JSON object (strings closed, brackets matched).
  ///
  /// The `usage` member is parsed in place, within the body's padding; when the buffer has
  /// less padding than SIMDJSON_PADDING after it, the member alone is copied instead.
  ///
  /// nullopt when the body is not a JSON object, has no `usage` (or `usage` is null), or
  /// `usage` is unreadable per read_usage_object().
  std::optional<TokenUsage> from_body(Endpoint wire, simdjson::padded_string_view body);

  /// Decoded bytes of the content a complete non-streaming body carries, for the
  /// estimate when its usage is missing: OpenAI `choices[]` `content`/`text`/`refusal`/
  /// tool-call `arguments`; Responses `output[]` `text`/`arguments`; Anthropic `content[]`
  /// `text`/`thinking` (a tool call's `input` object is not counted). 0 for embeddings
  /// (no output) and for a body it cannot read. Only that member is parsed.
  std::uint64_t content_bytes_of_body(Endpoint wire, simdjson::padded_string_view body);

  /// Usage from the JSON text of a `usage` object itself (no padding needed: the text is
  /// copied into the scratch buffer). nullopt as for from_body().
  std::optional<TokenUsage> from_usage_json(Endpoint wire, std::string_view usage_json);

  /// Starts an On-Demand parse of `json`, copied into the padded scratch buffer. The
  /// document is valid until the next call on this extractor.
  simdjson::simdjson_result<simdjson::ondemand::document> iterate_copy(std::string_view json);

 private:
  /// Parses `member`, a part of the padded `body`, in place.
  simdjson::simdjson_result<simdjson::ondemand::document> iterate_member(
      simdjson::padded_string_view body, std::string_view member);
  std::optional<TokenUsage> read_document(
      Endpoint wire, simdjson::simdjson_result<simdjson::ondemand::document>&& parsed);

  simdjson::ondemand::parser parser_;
  std::vector<char> scratch_;  ///< grown to the largest copied text plus padding, never shrunk
};

}  // namespace spendwall::metering
