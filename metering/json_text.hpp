#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

/// Measuring the text a response carries: the decoded bytes of the string members with
/// given names, wherever they sit in a JSON value (e.g. `content` and `arguments` under an
/// OpenAI `choices` array). Used for the usage estimate.
///
/// Thread-safety: pure functions over caller-owned simdjson values.
namespace spendwall::metering {

using TextKeys = std::span<const std::string_view>;

/// The content members of an OpenAI chat or legacy completion choice, in a whole message or
/// a stream delta: text (`content`, legacy `text`), `refusal`, and tool-call `arguments`.
inline constexpr std::array<std::string_view, 4> kChoiceTextKeys{"content", "refusal", "text",
                                                                 "arguments"};

/// Adds to `bytes` the decoded length of every string member of `value`, at any depth,
/// whose key is one of `keys`. Members with other keys are searched too when they hold an
/// object or array. Returns false when the JSON turns out malformed.
bool add_text_bytes(simdjson::ondemand::value& value, TextKeys keys, std::uint64_t& bytes);

/// The same for an object already obtained from a document.
bool add_text_bytes(simdjson::ondemand::object& object, TextKeys keys, std::uint64_t& bytes);

}  // namespace spendwall::metering
