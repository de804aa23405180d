#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "config/units.hpp"

/// Append-only JSON rendering: error bodies on the data plane, the admin API's documents and
/// the ledger's records.
/// Thread-safety: `json_escape` is a pure function; a `JsonWriter` is used by one thread.
namespace spendwall::metering {

/// Appends `text` to `out` as the contents of a JSON string (no surrounding quotes):
/// `"` and `\` are escaped, control characters become `\n`-style or `\u00XX` escapes, and
/// each maximal invalid UTF-8 subsequence becomes U+FFFD, so the output is always valid JSON
/// whatever bytes come in.
void json_escape(std::string_view text, std::string& out);

/// Writes one JSON value into a caller-owned string, inserting commas and colons itself.
///
/// Calls must form a valid document: `key()` only directly inside an object and always
/// followed by exactly one value; every `begin_*` closed by its `end_*`. Nesting is limited
/// to `kMaxDepth` levels, far beyond any body Spendwall renders.
///
///     JsonWriter w(out);
///     w.begin_object().key("spent_usd").usd(212'418'003'000).key("override").null();
///     w.end_object();
class JsonWriter {
 public:
  static constexpr std::size_t kMaxDepth = 64;

  /// Appends to `out`; existing contents are kept.
  explicit JsonWriter(std::string& out) noexcept : out_(out) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();

  /// An object member's name; the next call writes its value.
  JsonWriter& key(std::string_view name);

  JsonWriter& string(std::string_view text);
  JsonWriter& boolean(bool value);
  JsonWriter& null();

  template <std::integral Integer>
  requires(!std::same_as<Integer, bool>) JsonWriter& integer(Integer value) {
    if constexpr (std::is_signed_v<Integer>) {
      return signed_integer(static_cast<std::int64_t>(value));
    } else {
      return unsigned_integer(static_cast<std::uint64_t>(value));
    }
  }

  /// Shortest text that reads back as the same double; NaN and infinities become `null`
  /// because JSON has no spelling for them.
  JsonWriter& number(double value);

  /// Money as a JSON number in USD, the exact decimal rendering of the nano-USD integer.
  JsonWriter& usd(config::NanoUsd value);

  /// Containers opened and not yet closed.
  std::size_t depth() const noexcept { return depth_; }

 private:
  JsonWriter& signed_integer(std::int64_t value);
  JsonWriter& unsigned_integer(std::uint64_t value);
  void before_value();
  void open(char bracket);
  void close(char bracket);

  std::string& out_;
  std::size_t depth_ = 0;
  // Bit d is set once the container at depth d + 1 holds an element, so the next one
  // needs a comma.
  std::uint64_t has_elements_ = 0;
  bool after_key_ = false;
};

}  // namespace spendwall::metering
