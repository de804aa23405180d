#include "metering/usage.hpp"

#include <array>
#include <cstring>
#include <span>
#include <utility>

#include "metering/json_scan.hpp"
#include "metering/json_text.hpp"

namespace spendwall::metering {
namespace {

namespace ondemand = simdjson::ondemand;

/// The provider's own counts, before they are made disjoint.
enum class Count : std::uint8_t { gross_input, cached_input, cache_write, gross_output, reasoning };
inline constexpr std::size_t kCountKinds = 5;

/// Where a count sits in a `usage` object: a top-level member, or a member of a
/// `*_details` object when `parent` is set.
struct CountField {
  std::string_view parent;
  std::string_view name;
  Count count;
};

/// How one wire format reports usage.
struct Dialect {
  std::span<const CountField> fields;
  bool input_includes_cached;      ///< OpenAI counts cached tokens inside the input total
  bool output_includes_reasoning;  ///< OpenAI counts reasoning tokens inside the output total
};

constexpr std::array kChatFields{
    CountField{"", "prompt_tokens", Count::gross_input},
    CountField{"prompt_tokens_details", "cached_tokens", Count::cached_input},
    CountField{"", "completion_tokens", Count::gross_output},
    CountField{"completion_tokens_details", "reasoning_tokens", Count::reasoning},
};
constexpr std::array kResponsesFields{
    CountField{"", "input_tokens", Count::gross_input},
    CountField{"input_tokens_details", "cached_tokens", Count::cached_input},
    CountField{"", "output_tokens", Count::gross_output},
    CountField{"output_tokens_details", "reasoning_tokens", Count::reasoning},
};
constexpr std::array kEmbeddingsFields{
    CountField{"", "prompt_tokens", Count::gross_input},
};
constexpr std::array kAnthropicFields{
    CountField{"", "input_tokens", Count::gross_input},
    CountField{"", "cache_read_input_tokens", Count::cached_input},
    CountField{"", "cache_creation_input_tokens", Count::cache_write},
    CountField{"", "output_tokens", Count::gross_output},
};

std::optional<Dialect> dialect_of(Endpoint wire) noexcept {
  switch (wire) {
    case Endpoint::chat_completions:
    case Endpoint::completions:
      return Dialect{kChatFields, true, true};
    case Endpoint::responses:
      return Dialect{kResponsesFields, true, true};
    case Endpoint::embeddings:
      return Dialect{kEmbeddingsFields, false, false};
    case Endpoint::messages:
      return Dialect{kAnthropicFields, false, false};
    default:
      return std::nullopt;
  }
}

using Counts = std::array<std::optional<std::uint64_t>, kCountKinds>;

/// A count is an integer in range, or null (as if absent). Anything else is malformed.
bool read_count(ondemand::value& value, std::optional<std::uint64_t>& out) {
  ondemand::json_type type;
  if (value.type().get(type)) return false;
  if (type == ondemand::json_type::null) return true;
  std::uint64_t count = 0;
  if (type != ondemand::json_type::number || value.get_uint64().get(count) ||
      count > kMaxTokenCount) {
    return false;
  }
  out = count;
  return true;
}

bool is_details_object(const Dialect& dialect, std::string_view key) noexcept {
  for (const CountField& field : dialect.fields) {
    if (!field.parent.empty() && field.parent == key) return true;
  }
  return false;
}

/// Reads the counts named in `dialect` under `parent` ("" for the usage object itself).
bool read_counts(ondemand::object& object, const Dialect& dialect, std::string_view parent,
                 Counts& counts) {
  for (auto member : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
    bool matched = false;
    for (const CountField& wanted : dialect.fields) {
      if (wanted.parent != parent || wanted.name != key) continue;
      if (!read_count(field.value(), counts[static_cast<std::size_t>(wanted.count)])) {
        return false;
      }
      matched = true;
      break;
    }
    if (matched || !parent.empty() || !is_details_object(dialect, key)) continue;
    ondemand::json_type type;
    if (field.value().type().get(type)) return false;
    if (type == ondemand::json_type::null) continue;
    ondemand::object details;
    if (field.value().get_object().get(details)) return false;
    if (!read_counts(details, dialect, key, counts)) return false;
  }
  return true;
}

std::uint64_t minus_clamped(std::uint64_t total, std::uint64_t part) noexcept {
  return total > part ? total - part : 0;
}

}  // namespace

bool read_usage_object(Endpoint wire, ondemand::object& usage, TokenUsage& into) {
  const std::optional<Dialect> dialect = dialect_of(wire);
  Counts counts;
  if (!dialect || !read_counts(usage, *dialect, "", counts)) return false;
  auto present = [&](Count c) { return counts[static_cast<std::size_t>(c)].has_value(); };
  auto value = [&](Count c) { return counts[static_cast<std::size_t>(c)].value_or(0); };
  bool any = false;
  for (const auto& count : counts) any = any || count.has_value();
  if (!any) return false;

  // A kind is overwritten only when one of its sources is present (see the header).
  if (present(Count::gross_input) ||
      (dialect->input_includes_cached && present(Count::cached_input))) {
    into.input = dialect->input_includes_cached
                     ? minus_clamped(value(Count::gross_input), value(Count::cached_input))
                     : value(Count::gross_input);
  }
  if (present(Count::cached_input)) into.cached_input = value(Count::cached_input);
  if (present(Count::cache_write)) into.cache_write = value(Count::cache_write);
  if (present(Count::gross_output) ||
      (dialect->output_includes_reasoning && present(Count::reasoning))) {
    into.output = dialect->output_includes_reasoning
                      ? minus_clamped(value(Count::gross_output), value(Count::reasoning))
                      : value(Count::gross_output);
  }
  if (present(Count::reasoning)) into.reasoning = value(Count::reasoning);
  return true;
}

std::optional<TokenUsage> UsageExtractor::from_body(Endpoint wire,
                                                    simdjson::padded_string_view body) {
  const std::optional<std::string_view> usage =
      find_member(body, "usage", MemberScan::whole_object);
  if (!usage) return std::nullopt;
  return read_document(wire, iterate_member(body, *usage));
}

std::uint64_t UsageExtractor::content_bytes_of_body(Endpoint wire,
                                                    simdjson::padded_string_view body) {
  static constexpr std::array<std::string_view, 2> kOutputTextKeys{"text", "arguments"};
  static constexpr std::array<std::string_view, 2> kContentTextKeys{"text", "thinking"};
  std::string_view member_name;
  TextKeys keys;
  switch (wire) {
    case Endpoint::chat_completions:
    case Endpoint::completions:
      member_name = "choices";
      keys = kChoiceTextKeys;
      break;
    case Endpoint::responses:
      member_name = "output";
      keys = kOutputTextKeys;
      break;
    case Endpoint::messages:
      member_name = "content";
      keys = kContentTextKeys;
      break;
    default:
      return 0;
  }
  const std::optional<std::string_view> member = find_member(body, member_name);
  ondemand::document document;
  ondemand::value value;
  std::uint64_t bytes = 0;
  if (!member || iterate_member(body, *member).get(document) || document.get_value().get(value) ||
      !add_text_bytes(value, keys, bytes)) {
    return 0;
  }
  return bytes;
}

std::optional<TokenUsage> UsageExtractor::from_usage_json(Endpoint wire,
                                                          std::string_view usage_json) {
  return read_document(wire, iterate_copy(usage_json));
}

simdjson::simdjson_result<ondemand::document> UsageExtractor::iterate_copy(std::string_view json) {
  const std::size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
  if (scratch_.size() < needed) scratch_.resize(needed);
  if (!json.empty()) std::memcpy(scratch_.data(), json.data(), json.size());
  return parser_.iterate(
      simdjson::padded_string_view(scratch_.data(), json.size(), scratch_.size()));
}

simdjson::simdjson_result<ondemand::document> UsageExtractor::iterate_member(
    simdjson::padded_string_view body, std::string_view member) {
  // The member lies inside the body, so the body's padding pads it too, unless the caller's
  // buffer has less than promised: then the (small) member is copied instead.
  const auto offset = static_cast<std::size_t>(member.data() - body.data());
  const std::size_t capacity = body.capacity() > offset ? body.capacity() - offset : 0;
  if (capacity < member.size() + simdjson::SIMDJSON_PADDING) return iterate_copy(member);
  return parser_.iterate(simdjson::padded_string_view(member.data(), member.size(), capacity));
}

std::optional<TokenUsage> UsageExtractor::read_document(
    Endpoint wire, simdjson::simdjson_result<ondemand::document>&& parsed) {
  ondemand::document document;
  ondemand::object object;
  TokenUsage usage;
  if (std::move(parsed).get(document) || document.get_object().get(object) ||
      !read_usage_object(wire, object, usage)) {
    return std::nullopt;
  }
  // On-Demand stops after the object; a token after it means the text was not one object.
  const char* trailing = nullptr;
  if (!document.current_location().get(trailing)) return std::nullopt;
  return usage;
}

}  // namespace spendwall::metering
