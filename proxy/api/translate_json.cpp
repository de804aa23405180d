#include "proxy/api/translate_json.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace spendwall::api::translation {
namespace {

// A count as a provider reports it; anything else reads as 0, the same as a missing count.
std::uint64_t count_member(object container, std::string_view key) {
  std::uint64_t count = 0;
  if (container[key].get(count) != simdjson::SUCCESS) return 0;
  return std::min(count, metering::kMaxTokenCount);
}

std::optional<std::uint64_t> optional_count_member(object container, std::string_view key) {
  if (!member(container, key)) return std::nullopt;
  return count_member(container, key);
}

std::uint64_t nested_count(object container, std::string_view parent, std::string_view key) {
  object details;
  if (container[parent].get(details) != simdjson::SUCCESS) return 0;
  return count_member(details, key);
}

std::uint64_t clamped_difference(std::uint64_t total, std::uint64_t part) {
  return total > part ? total - part : 0;
}

using ReasonPair = std::pair<std::string_view, std::string_view>;

// Anthropic stop_reason, OpenAI finish_reason.
constexpr std::array<ReasonPair, 7> kStopReasons{{
    {"end_turn", "stop"},
    {"stop_sequence", "stop"},
    {"pause_turn", "stop"},
    {"max_tokens", "length"},
    {"model_context_window_exceeded", "length"},
    {"tool_use", "tool_calls"},
    {"refusal", "content_filter"},
}};

// OpenAI finish_reason, Anthropic stop_reason. "stop" cannot tell a stop sequence from the
// natural end of the turn, so it reads as the latter.
constexpr std::array<ReasonPair, 5> kFinishReasons{{
    {"stop", "end_turn"},
    {"length", "max_tokens"},
    {"tool_calls", "tool_use"},
    {"function_call", "tool_use"},
    {"content_filter", "refusal"},
}};

template <std::size_t N>
std::string_view lookup(const std::array<ReasonPair, N>& table, std::string_view key,
                        std::string_view fallback) {
  for (const auto& [from, to] : table) {
    if (from == key) return to;
  }
  return fallback;
}

// OpenAI error type, Anthropic error type, for errors inside a stream.
constexpr std::array<ReasonPair, 8> kErrorTypes{{
    {"invalid_request_error", "invalid_request_error"},
    {"authentication_error", "authentication_error"},
    {"permission_error", "permission_error"},
    {"not_found_error", "not_found_error"},
    {"rate_limit_error", "rate_limit_error"},
    {"insufficient_quota", "rate_limit_error"},
    {"tokens", "rate_limit_error"},
    {"requests", "rate_limit_error"},
}};

constexpr std::array<std::string_view, 4> kAnthropicImageTypes{"image/jpeg", "image/png",
                                                               "image/gif", "image/webp"};

}  // namespace

std::optional<element> member(object container, std::string_view key) {
  element value;
  if (container[key].get(value) != simdjson::SUCCESS || value.is_null()) return std::nullopt;
  return value;
}

std::optional<std::string_view> string_member(object container, std::string_view key) {
  std::string_view text;
  if (container[key].get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

bool has_only_members(object container, std::initializer_list<std::string_view> allowed) {
  for (const auto& field : container) {
    if (std::find(allowed.begin(), allowed.end(), field.key) == allowed.end()) return false;
  }
  return true;
}

bool render_json(element value, std::string& out) {
  out.clear();
  JsonWriter writer(out);
  return copy_json(writer, value);
}

simdjson::simdjson_result<element> parse_text(simdjson::dom::parser& parser,
                                              std::string_view text) {
  return parser.parse(text.data(), text.size(), true);
}

std::string_view trim_whitespace(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
}

std::optional<Base64DataUrl> parse_base64_data_url(std::string_view url) {
  constexpr std::string_view kScheme = "data:";
  constexpr std::string_view kBase64 = ";base64,";
  if (!url.starts_with(kScheme)) return std::nullopt;
  const std::size_t marker = url.find(kBase64);
  if (marker == std::string_view::npos) return std::nullopt;
  const std::string_view media_type = url.substr(kScheme.size(), marker - kScheme.size());
  // Parameters (`;charset=…`) would sit between the type and the marker.
  if (media_type.empty() || media_type.find(';') != std::string_view::npos) return std::nullopt;
  return Base64DataUrl{media_type, url.substr(marker + kBase64.size())};
}

bool is_anthropic_image_type(std::string_view media_type) {
  return std::find(kAnthropicImageTypes.begin(), kAnthropicImageTypes.end(), media_type) !=
         kAnthropicImageTypes.end();
}

bool is_http_url(std::string_view url) {
  return url.starts_with("https://") || url.starts_with("http://");
}

void read_anthropic_usage(object usage, metering::TokenUsage& into) {
  if (auto count = optional_count_member(usage, "input_tokens")) into.input = *count;
  if (auto count = optional_count_member(usage, "cache_read_input_tokens")) {
    into.cached_input = *count;
  }
  if (auto count = optional_count_member(usage, "cache_creation_input_tokens")) {
    into.cache_write = *count;
  }
  if (auto count = optional_count_member(usage, "output_tokens")) into.output = *count;
}

metering::TokenUsage read_openai_usage(object usage) {
  metering::TokenUsage tokens;
  tokens.cached_input = nested_count(usage, "prompt_tokens_details", "cached_tokens");
  tokens.input = clamped_difference(count_member(usage, "prompt_tokens"), tokens.cached_input);
  tokens.reasoning = nested_count(usage, "completion_tokens_details", "reasoning_tokens");
  tokens.output = clamped_difference(count_member(usage, "completion_tokens"), tokens.reasoning);
  return tokens;
}

void write_openai_usage(JsonWriter& writer, const metering::TokenUsage& usage) {
  const std::uint64_t prompt = usage.input + usage.cached_input + usage.cache_write;
  const std::uint64_t completion = usage.output + usage.reasoning;
  writer.begin_object()
      .key("prompt_tokens")
      .integer(prompt)
      .key("completion_tokens")
      .integer(completion)
      .key("total_tokens")
      .integer(prompt + completion);
  writer.key("prompt_tokens_details").begin_object().key("cached_tokens");
  writer.integer(usage.cached_input).end_object();
  if (usage.reasoning > 0) {
    writer.key("completion_tokens_details").begin_object().key("reasoning_tokens");
    writer.integer(usage.reasoning).end_object();
  }
  writer.end_object();
}

void write_anthropic_usage(JsonWriter& writer, const metering::TokenUsage& usage) {
  writer.begin_object()
      .key("input_tokens")
      .integer(usage.input)
      .key("cache_creation_input_tokens")
      .integer(usage.cache_write)
      .key("cache_read_input_tokens")
      .integer(usage.cached_input)
      .key("output_tokens")
      .integer(usage.output + usage.reasoning)
      .end_object();
}

std::string_view openai_finish_reason(std::string_view anthropic_stop_reason) {
  return lookup(kStopReasons, anthropic_stop_reason, "stop");
}

std::string_view anthropic_stop_reason(std::string_view openai_finish_reason) {
  return lookup(kFinishReasons, openai_finish_reason, "end_turn");
}

std::string_view anthropic_error_type(unsigned status, std::string_view openai_type) {
  switch (status) {
    case 0:
      return lookup(kErrorTypes, openai_type, "api_error");
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

void write_openai_error(JsonWriter& writer, std::string_view type, std::string_view message) {
  writer.begin_object().key("error").begin_object();
  writer.key("message").string(message).key("type").string(type);
  writer.key("code").null().key("param").null();
  writer.end_object().end_object();
}

void write_anthropic_error(JsonWriter& writer, std::string_view type, std::string_view message) {
  writer.begin_object().key("type").string("error").key("error").begin_object();
  writer.key("type").string(type).key("message").string(message);
  writer.end_object().end_object();
}

}  // namespace spendwall::api::translation
