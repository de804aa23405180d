#pragma once

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/api/result.hpp"
#include "proxy/api/translate.hpp"
#include "proxy/api/translate_json.hpp"

/// What the two request translations share (translate_chat_request.cpp,
/// translate_messages_request.cpp): the table-driven handling of top-level fields and the
/// writers both `translate_request.hpp` entry points run, once with a `JsonWriter` to
/// translate and once with a `DiscardingWriter` to find a refusal. Not meant for use outside
/// those files.
/// Thread-safety: pure functions over the caller's workspace.
namespace spendwall::api::translation {

using MaybeError = std::optional<ApiError>;

inline ApiError refused(std::string_view message, std::string_view param) {
  return ApiError{ErrorKind::invalid_request, message, param};
}

// Every top-level field is either translated, dropped (a hint with no effect on the content
// of the answer) or refused; one the tables do not name is refused, since the target API
// would reject it or ignore what it asks for.

enum class Handling : std::uint8_t { translate, drop, refuse };

// The value of a refused field that asks for nothing the target lacks, so it may pass: SDKs
// and frameworks often send such fields at their defaults.
enum class Harmless : std::uint8_t {
  never,
  one,
  false_value,
  zero,
  empty_object,
  text_response_format,
  text_modalities,
  disabled_thinking,
};

/// Whether `value` asks for nothing beyond what `rule` lets pass.
bool is_harmless(Harmless rule, element value);

template <class Slot>
struct FieldRule {
  std::string_view name;
  Handling handling = Handling::drop;
  Slot slot{};
  Harmless harmless = Harmless::never;
  std::string_view refusal{};
};

template <class Slot>
constexpr FieldRule<Slot> translated(std::string_view name, Slot slot) {
  return {name, Handling::translate, slot, Harmless::never, {}};
}

template <class Slot>
constexpr FieldRule<Slot> dropped(std::string_view name) {
  return {name, Handling::drop, Slot{}, Harmless::never, {}};
}

template <class Slot>
constexpr FieldRule<Slot> refused_unless(std::string_view name, Harmless harmless,
                                         std::string_view message) {
  return {name, Handling::refuse, Slot{}, harmless, message};
}

// The translated fields of one body, null ones left out.
template <class Slot>
class FieldValues {
 public:
  void set(Slot slot, element value) {
    values_[index(slot)] = value;
    present_[index(slot)] = true;
  }
  std::optional<element> get(Slot slot) const {
    if (!present_[index(slot)]) return std::nullopt;
    return values_[index(slot)];
  }

 private:
  static constexpr std::size_t index(Slot slot) { return static_cast<std::size_t>(slot); }
  static constexpr std::size_t kCount = index(Slot::count);
  std::array<element, kCount> values_{};
  std::array<bool, kCount> present_{};
};

template <class Slot, std::size_t kRules>
MaybeError classify_fields(object body, const std::array<FieldRule<Slot>, kRules>& rules,
                           std::string_view unknown_field_message, FieldValues<Slot>& values) {
  for (const auto& member : body) {
    // Named copies, not a structured binding: clang 14 (the fuzz build) cannot capture one.
    const std::string_view name = member.key;
    const element value = member.value;
    const auto rule = std::find_if(rules.begin(), rules.end(),
                                   [&](const FieldRule<Slot>& r) { return r.name == name; });
    if (rule == rules.end()) return refused(unknown_field_message, {});
    if (value.is_null()) continue;
    switch (rule->handling) {
      case Handling::translate:
        values.set(rule->slot, value);
        break;
      case Handling::drop:
        break;
      case Handling::refuse:
        if (!is_harmless(rule->harmless, value)) return refused(rule->refusal, rule->name);
        break;
    }
  }
  return std::nullopt;
}

// Refusals of malformed bodies both directions give.
inline constexpr std::string_view kMessagesNotArray = "`messages` must be an array of messages";
inline constexpr std::string_view kMessageNotObject =
    "every message must be an object with a `role`";
inline constexpr std::string_view kBadContent =
    "message `content` must be a string or an array of content parts";
inline constexpr std::string_view kTooDeep = "a JSON value nests too deeply to be translated";

// Both writers are instantiated for `JsonWriter` and `DiscardingWriter` only.

/// Writes the Anthropic Messages request equivalent to the OpenAI chat request `body`.
template <class Writer>
MaybeError write_chat_as_anthropic(TranslationWorkspace& workspace, object body,
                                   std::string_view target_model, std::uint64_t default_max_tokens,
                                   Writer& writer);

/// Writes the OpenAI chat request equivalent to the Anthropic Messages request `body`.
template <class Writer>
MaybeError write_messages_as_chat(TranslationWorkspace& workspace, object body,
                                  std::string_view target_model, Writer& writer);

}  // namespace spendwall::api::translation
