#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

/// What the fuzz targets share: the mode byte that picks which variant of a parser an input
/// drives, the padded copy simdjson needs, and invariant checks that stop the run.
namespace spendwall::fuzz {

/// Stops the run with a report when the code under test broke one of its documented
/// guarantees; libFuzzer records the input as a crash.
inline void require(bool holds, const char* guarantee) {
  if (holds) return;
  std::fprintf(stderr, "fuzz: guarantee broken: %s\n", guarantee);
  std::abort();
}

/// The input's first byte picks one of `mode_count` modes: '0', '1', … name them in the seed
/// files, any other byte counts modulo `mode_count`. The rest of the input is the payload.
struct ModedInput {
  std::size_t mode = 0;
  std::string_view payload;
};

inline ModedInput split_mode(const std::uint8_t* data, std::size_t size, std::size_t mode_count) {
  if (size == 0) return {};
  const std::uint8_t first = data[0];
  const std::size_t mode = first >= '0' && static_cast<std::size_t>(first - '0') < mode_count
                               ? static_cast<std::size_t>(first - '0')
                               : first % mode_count;
  return {mode, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1)};
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// True when `part` lies within `whole` (an empty view anywhere counts).
inline bool views_into(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

/// True when `text` is one valid JSON document.
inline bool is_valid_json(simdjson::dom::parser& parser, std::string_view text) {
  simdjson::dom::element root;
  return parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS;
}

}  // namespace spendwall::fuzz
