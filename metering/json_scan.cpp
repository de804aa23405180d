#include "metering/json_scan.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace spendwall::metering {
namespace {

// simdjson's default depth limit: deeper documents are refused by the parser anyway.
constexpr std::size_t kMaxDepth = 1024;

constexpr bool is_whitespace(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Bytes that change the nesting state; everything else inside a composite value (numbers,
// literals, commas, colons, whitespace) is skipped in a tight loop. Large bodies are mostly
// such runs (embedding vectors).
constexpr std::array<bool, 256> kNestingBytes = [] {
  std::array<bool, 256> table{};
  for (unsigned char c : std::string_view("\"{}[]")) table[c] = true;
  return table;
}();

class Cursor {
 public:
  explicit Cursor(std::string_view text) noexcept
      : pos_(text.data()), end_(text.data() + text.size()) {}

  const char* pos() const noexcept { return pos_; }
  bool at_end() const noexcept { return pos_ == end_; }

  void skip_whitespace() noexcept {
    while (pos_ != end_ && is_whitespace(*pos_)) ++pos_;
  }

  /// Skips whitespace, then consumes `c` if it is next.
  bool consume(char c) noexcept {
    skip_whitespace();
    if (pos_ == end_ || *pos_ != c) return false;
    ++pos_;
    return true;
  }

  /// At an opening quote: moves past the closing one.
  bool skip_string() noexcept {
    const char* content = ++pos_;
    while (pos_ != end_) {
      const auto* quote = static_cast<const char*>(std::memchr(pos_, '"', end_ - pos_));
      if (quote == nullptr) break;
      // The quote closes the string unless an odd run of backslashes escapes it.
      const char* run = quote;
      while (run != content && run[-1] == '\\') --run;
      pos_ = quote + 1;
      if ((quote - run) % 2 == 0) return true;
    }
    pos_ = end_;
    return false;
  }

  bool skip_value() noexcept {
    if (pos_ == end_) return false;
    switch (*pos_) {
      case '"':
        return skip_string();
      case '{':
      case '[':
        return skip_composite();
      default:
        return skip_scalar();
    }
  }

 private:
  /// At `{` or `[`: moves past the matching bracket.
  bool skip_composite() noexcept {
    // One bit per open level: set for an object, clear for an array.
    std::array<std::uint64_t, kMaxDepth / 64> is_object{};
    std::size_t depth = 0;
    while (pos_ != end_) {
      const char c = *pos_;
      if (c == '"') {
        if (!skip_string()) return false;
        continue;
      }
      if (c == '{' || c == '[') {
        if (depth == kMaxDepth) return false;
        const std::uint64_t bit = std::uint64_t{1} << (depth % 64);
        auto& word = is_object[depth / 64];
        word = c == '{' ? (word | bit) : (word & ~bit);
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return false;
        --depth;
        const bool opened_object = ((is_object[depth / 64] >> (depth % 64)) & 1) != 0;
        if (opened_object != (c == '}')) return false;
        if (depth == 0) {
          ++pos_;
          return true;
        }
      } else {
        while (pos_ + 1 != end_ && !kNestingBytes[static_cast<unsigned char>(pos_[1])]) ++pos_;
      }
      ++pos_;
    }
    return false;
  }

  /// A number or literal: a non-empty run up to a delimiter.
  bool skip_scalar() noexcept {
    const char* begin = pos_;
    while (pos_ != end_) {
      const char c = *pos_;
      if (c == ',' || c == '}' || c == ']' || is_whitespace(c)) break;
      if (c == ':' || kNestingBytes[static_cast<unsigned char>(c)]) return false;
      ++pos_;
    }
    return pos_ != begin;
  }

  const char* pos_;
  const char* end_;
};

std::string_view between(const char* begin, const char* end) noexcept {
  return {begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace

bool is_complete_json_object(std::string_view text) noexcept {
  Cursor cursor(text);
  cursor.skip_whitespace();
  if (cursor.at_end() || *cursor.pos() != '{' || !cursor.skip_value()) return false;
  cursor.skip_whitespace();
  return cursor.at_end();
}

std::optional<std::string_view> find_member(std::string_view object_json, std::string_view key,
                                            MemberScan scan) noexcept {
  Cursor cursor(object_json);
  if (!cursor.consume('{')) return std::nullopt;
  std::optional<std::string_view> found;
  if (!cursor.consume('}')) {
    do {
      cursor.skip_whitespace();
      if (cursor.at_end() || *cursor.pos() != '"') return std::nullopt;
      const char* key_begin = cursor.pos() + 1;
      if (!cursor.skip_string()) return std::nullopt;
      const std::string_view member_key = between(key_begin, cursor.pos() - 1);
      if (!cursor.consume(':')) return std::nullopt;
      cursor.skip_whitespace();
      const char* value_begin = cursor.pos();
      if (!cursor.skip_value()) return std::nullopt;
      if (!found && member_key == key) {
        found = between(value_begin, cursor.pos());
        if (scan == MemberScan::first_match) return found;
      }
    } while (cursor.consume(','));
    if (!cursor.consume('}')) return std::nullopt;
  }
  if (scan == MemberScan::whole_object) {
    cursor.skip_whitespace();
    if (!cursor.at_end()) return std::nullopt;
  }
  return found;
}

}  // namespace spendwall::metering
