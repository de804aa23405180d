#include "config/units.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace spendwall::config {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// Leading decimal digits of `text` as an unsigned number; consumes them. nullopt when
/// there is no digit or the number does not fit.
std::optional<std::uint64_t> take_number(std::string_view& text) noexcept {
  std::uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end == first) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - first));
  return value;
}

/// Exactly `width` digits at the front of `text`, consumed.
std::optional<int> take_fixed(std::string_view& text, std::size_t width) noexcept {
  if (text.size() < width) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  text.remove_prefix(width);
  return value;
}

bool take_char(std::string_view& text, char expected) noexcept {
  if (text.empty() || text.front() != expected) return false;
  text.remove_prefix(1);
  return true;
}

/// A number followed by one of `units`; the multiplier of the unit that matched exactly.
template <std::size_t N>
std::optional<std::uint64_t> scaled_number(
    std::string_view text, const std::array<std::pair<std::string_view, std::uint64_t>, N>& units) {
  if (text.empty() || !is_digit(text.front())) return std::nullopt;
  const auto number = take_number(text);
  if (!number) return std::nullopt;
  for (const auto& [suffix, multiplier] : units) {
    if (text != suffix) continue;
    if (*number > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
    return *number * multiplier;
  }
  return std::nullopt;
}

std::optional<std::chrono::sys_days> take_date(std::string_view& text) noexcept {
  const auto year = take_fixed(text, 4);
  if (!year || !take_char(text, '-')) return std::nullopt;
  const auto month = take_fixed(text, 2);
  if (!month || !take_char(text, '-')) return std::nullopt;
  const auto day = take_fixed(text, 2);
  if (!day) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days{date};
}

/// `HH:MM` with HH < hour_limit; minutes since midnight.
std::optional<int> take_hour_minute(std::string_view& text, int hour_limit) noexcept {
  const auto hour = take_fixed(text, 2);
  if (!hour || *hour >= hour_limit || !take_char(text, ':')) return std::nullopt;
  const auto minute = take_fixed(text, 2);
  if (!minute || *minute >= 60) return std::nullopt;
  return *hour * 60 + *minute;
}

bool is_host_char(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
         c == '_';
}

bool is_ipv6_char(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

std::optional<std::array<int, 4>> parse_ipv4(std::string_view text) noexcept {
  std::array<int, 4> octets{};
  for (std::size_t i = 0; i < octets.size(); ++i) {
    if (i > 0 && !take_char(text, '.')) return std::nullopt;
    if (text.empty() || !is_digit(text.front())) return std::nullopt;
    const auto octet = take_number(text);
    if (!octet || *octet > 255) return std::nullopt;
    octets[i] = static_cast<int>(*octet);
  }
  if (!text.empty()) return std::nullopt;
  return octets;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 5> kUnits{{
      {"ms", 1},
      {"s", 1000},
      {"m", 60 * 1000},
      {"h", 60 * 60 * 1000},
      {"d", 24 * 60 * 60 * 1000},
  }};
  const auto millis = scaled_number(text, kUnits);
  if (!millis || *millis > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max())) {
    return std::nullopt;
  }
  return Duration{static_cast<Duration::rep>(*millis)};
}

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 6> kUnits{{
      {"", 1},
      {"B", 1},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  }};
  return scaled_number(text, kUnits);
}

std::optional<NanoUsd> parse_usd(std::string_view text) noexcept {
  constexpr std::size_t kMaxFractionDigits = 9;
  constexpr auto kMaxWhole =
      static_cast<std::uint64_t>(std::numeric_limits<NanoUsd>::max() / kNanoPerUsd);

  const auto dot = text.find('.');
  const auto whole_text = text.substr(0, dot);
  const auto fraction_text =
      dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole_text.empty() && fraction_text.empty()) return std::nullopt;
  if (fraction_text.size() > kMaxFractionDigits) return std::nullopt;

  std::uint64_t whole = 0;
  for (char c : whole_text) {
    if (!is_digit(c)) return std::nullopt;
    whole = whole * 10 + static_cast<std::uint64_t>(c - '0');
    if (whole > kMaxWhole) return std::nullopt;
  }
  std::uint64_t fraction = 0;
  for (std::size_t i = 0; i < kMaxFractionDigits; ++i) {
    const char c = i < fraction_text.size() ? fraction_text[i] : '0';
    if (!is_digit(c)) return std::nullopt;
    fraction = fraction * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const std::uint64_t total = whole * static_cast<std::uint64_t>(kNanoPerUsd) + fraction;
  if (total > static_cast<std::uint64_t>(std::numeric_limits<NanoUsd>::max())) return std::nullopt;
  return static_cast<NanoUsd>(total);
}

std::string format_usd(NanoUsd value) {
  // Through the unsigned magnitude, so the most negative value has a magnitude too.
  const bool negative = value < 0;
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
  const auto nano_per_usd = static_cast<std::uint64_t>(kNanoPerUsd);

  std::string text = negative ? "-" : "";
  text += std::to_string(magnitude / nano_per_usd);
  if (const std::uint64_t fraction = magnitude % nano_per_usd; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    text += '.';
    text += digits;
  }
  return text;
}

std::optional<std::chrono::sys_seconds> parse_timestamp(std::string_view text) noexcept {
  const auto date = take_date(text);
  if (!date || text.empty() || (text.front() != 'T' && text.front() != 't')) return std::nullopt;
  text.remove_prefix(1);
  const auto minutes = take_hour_minute(text, 24);
  if (!minutes || !take_char(text, ':')) return std::nullopt;
  const auto seconds = take_fixed(text, 2);
  if (!seconds || *seconds >= 60 || text.empty()) return std::nullopt;

  int offset_minutes = 0;
  if (text == "Z" || text == "z") {
    text.remove_prefix(1);
  } else if (text.front() == '+' || text.front() == '-') {
    const int sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
    const auto offset = take_hour_minute(text, 24);
    if (!offset) return std::nullopt;
    offset_minutes = sign * *offset;
  }
  if (!text.empty()) return std::nullopt;
  return std::chrono::sys_seconds{*date} + std::chrono::minutes{*minutes - offset_minutes} +
         std::chrono::seconds{*seconds};
}

std::optional<std::chrono::sys_days> parse_date(std::string_view text) noexcept {
  auto date = take_date(text);
  if (!text.empty()) return std::nullopt;
  return date;
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  if (take_char(text, '[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(0, close);
    text.remove_prefix(close + 1);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
    for (char c : host) {
      if (!is_ipv6_char(c)) return std::nullopt;
    }
  } else {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    text.remove_prefix(colon);
    for (char c : host) {
      if (!is_host_char(c)) return std::nullopt;
    }
  }
  if (host.empty() || !take_char(text, ':') || text.empty() || !is_digit(text.front())) {
    return std::nullopt;
  }
  const auto port = take_number(text);
  if (!port || *port > std::numeric_limits<std::uint16_t>::max() || !text.empty()) {
    return std::nullopt;
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(*port)};
}

bool is_loopback_host(std::string_view host) noexcept {
  if (equals_ignoring_case(host, "localhost") || host == "::1") return true;
  const auto octets = parse_ipv4(host);
  return octets && (*octets)[0] == 127;
}

}  // namespace spendwall::config
