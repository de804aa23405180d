#pragma once

#include <optional>
#include <string_view>

/// A structural JSON scanner that finds one member of an object without indexing the
/// document, for texts too large to hand to a simdjson parser whole (a 64 MiB
/// embeddings body, a Responses `response.completed` event repeating the whole output).
/// The member's value is then parsed with simdjson on its own.
///
/// It checks structure only (strings closed, brackets matched, members shaped
/// `"key": value`); scalars are not validated. Keys are compared as raw bytes, so a key
/// spelled with escapes does not match (providers never escape their field names).
///
/// Thread-safety: pure functions.
namespace spendwall::metering {

/// How much of the object find_member() checks.
enum class MemberScan : bool {
  first_match,  ///< stop at the first member named `key`
  whole_object  ///< also check that the object closes and only whitespace follows it
};

/// The raw text of the value of the first member named `key` of the JSON object
/// `object_json` (leading whitespace allowed), e.g. `{"a":1}` → `1` for key `a`.
/// nullopt when the text is not a structurally complete object (up to the member, or to
/// the end with MemberScan::whole_object), has no such member, or nests deeper than 1024.
/// True when `text` is one complete JSON object (strings closed, brackets matched, only
/// whitespace around it): the structural check a provider's answer must pass before it
/// is relayed as JSON. It does not validate scalars or UTF-8.
bool is_complete_json_object(std::string_view text) noexcept;

std::optional<std::string_view> find_member(std::string_view object_json, std::string_view key,
                                            MemberScan scan = MemberScan::first_match) noexcept;

}  // namespace spendwall::metering
