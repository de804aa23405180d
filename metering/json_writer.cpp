#include "metering/json_writer.hpp"

#include <array>
#include <cassert>
#include <charconv>
#include <cmath>

namespace spendwall::metering {
namespace {

// Bytes that can be copied into a JSON string as they are: ASCII from space up, except the
// quote and the backslash. Everything else takes the slow path.
constexpr std::array<bool, 256> kVerbatim = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c <= 0x7f; ++c) table[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
  return table;
}();

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

bool is_continuation(unsigned char byte) noexcept { return (byte & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence starting at text[0] (Unicode Table 3-7), or 0
// when it is ill-formed. `valid_prefix` receives how many bytes form the maximal valid
// prefix of an ill-formed sequence, which is what one U+FFFD replaces.
std::size_t utf8_sequence_length(std::string_view text, std::size_t& valid_prefix) noexcept {
  const auto lead = static_cast<unsigned char>(text[0]);
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // beyond U+10FFFF
  } else {
    valid_prefix = 1;
    return 0;
  }
  for (std::size_t i = 1; i < length; ++i) {
    const bool fits =
        i < text.size() && (i == 1 ? static_cast<unsigned char>(text[1]) >= second_min &&
                                         static_cast<unsigned char>(text[1]) <= second_max
                                   : is_continuation(static_cast<unsigned char>(text[i])));
    if (!fits) {
      valid_prefix = i;
      return 0;
    }
  }
  return length;
}

void append_control_escape(unsigned char byte, std::string& out) {
  switch (byte) {
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      break;
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  out += "\\u00";
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0F];
}

// Integers and the shortest round-trip form of a double all fit in 32 characters.
template <class Number>
void append_number(Number value, std::string& out) {
  std::array<char, 32> digits{};
  out.append(digits.data(), std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr);
}

}  // namespace

void json_escape(std::string_view text, std::string& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t run = pos;
    while (run < text.size() && kVerbatim[static_cast<unsigned char>(text[run])]) ++run;
    out.append(text.data() + pos, run - pos);
    pos = run;
    if (pos == text.size()) break;

    const auto byte = static_cast<unsigned char>(text[pos]);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
      ++pos;
    } else if (byte < 0x20) {
      append_control_escape(byte, out);
      ++pos;
    } else {
      std::size_t valid_prefix = 0;
      const std::size_t length = utf8_sequence_length(text.substr(pos), valid_prefix);
      if (length == 0) {
        out += kReplacementCharacter;
        pos += valid_prefix;
      } else {
        out.append(text.data() + pos, length);
        pos += length;
      }
    }
  }
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (depth_ == 0) return;
  const std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
  if (has_elements_ & bit) out_ += ',';
  has_elements_ |= bit;
}

void JsonWriter::open(char bracket) {
  before_value();
  assert(depth_ < kMaxDepth && "JsonWriter nesting too deep");
  out_ += bracket;
  ++depth_;
  has_elements_ &= ~(std::uint64_t{1} << (depth_ - 1));
}

void JsonWriter::close(char bracket) {
  assert(depth_ > 0 && !after_key_ && "unbalanced JsonWriter calls");
  out_ += bracket;
  --depth_;
}

JsonWriter& JsonWriter::begin_object() {
  open('{');
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  close('}');
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  open('[');
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  close(']');
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  assert(!after_key_ && "JsonWriter key without a value");
  before_value();
  out_ += '"';
  json_escape(name, out_);
  out_ += "\":";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::string(std::string_view text) {
  before_value();
  out_ += '"';
  json_escape(text, out_);
  out_ += '"';
  return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::signed_integer(std::int64_t value) {
  before_value();
  append_number(value, out_);
  return *this;
}

JsonWriter& JsonWriter::unsigned_integer(std::uint64_t value) {
  before_value();
  append_number(value, out_);
  return *this;
}

JsonWriter& JsonWriter::number(double value) {
  if (!std::isfinite(value)) return null();
  before_value();
  append_number(value, out_);
  return *this;
}

JsonWriter& JsonWriter::usd(config::NanoUsd value) {
  before_value();
  out_ += config::format_usd(value);
  return *this;
}

}  // namespace spendwall::metering
