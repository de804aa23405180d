#include "proxy/api/headers.hpp"

#include <algorithm>

namespace spendwall::api {
namespace {

constexpr std::string_view kTagsHeader = "x-spendwall-tags";
constexpr std::size_t kMaxTagPartLength = 64;
constexpr std::size_t kMaxSessionIdLength = 128;

bool is_optional_whitespace(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_optional_whitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_optional_whitespace(text.back())) text.remove_suffix(1);
  return text;
}

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_tag_char(char c) noexcept { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

bool is_session_char(char c) noexcept { return is_tag_char(c) || c == ':'; }

template <class CharPredicate>
bool is_token(std::string_view text, std::size_t max_length, CharPredicate allowed) noexcept {
  return !text.empty() && text.size() <= max_length &&
         std::all_of(text.begin(), text.end(), allowed);
}

ApiError tags_error(std::string_view message) noexcept {
  return ApiError{ErrorKind::invalid_request, message, kTagsHeader};
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

}  // namespace

bool Tags::push_back(Tag tag) noexcept {
  if (size_ == kCapacity) return false;
  items_[size_++] = tag;
  return true;
}

Result<Tags> parse_tags(std::string_view header) noexcept {
  Tags tags;
  if (trim(header).empty()) return tags;
  while (true) {
    const std::size_t comma = header.find(',');
    const std::string_view item = trim(header.substr(0, comma));
    if (item.empty()) return tags_error("x-spendwall-tags: empty tag (a stray comma)");
    const std::size_t equals = item.find('=');
    if (equals == std::string_view::npos) {
      return tags_error("x-spendwall-tags: each tag must be key=value");
    }
    const Tag tag{trim(item.substr(0, equals)), trim(item.substr(equals + 1))};
    if (!is_token(tag.key, kMaxTagPartLength, is_tag_char) ||
        !is_token(tag.value, kMaxTagPartLength, is_tag_char)) {
      return tags_error(
          "x-spendwall-tags: keys and values must be 1-64 characters of A-Z a-z 0-9 . _ -");
    }
    if (std::any_of(tags.begin(), tags.end(),
                    [&](const Tag& seen) { return seen.key == tag.key; })) {
      return tags_error("x-spendwall-tags: a key appears more than once");
    }
    if (!tags.push_back(tag)) return tags_error("x-spendwall-tags: at most 8 tags are allowed");
    if (comma == std::string_view::npos) return tags;
    header.remove_prefix(comma + 1);
  }
}

bool is_valid_session_id(std::string_view session_id) noexcept {
  return is_token(session_id, kMaxSessionIdLength, is_session_char);
}

std::string_view extract_client_key(std::string_view authorization,
                                    std::string_view x_api_key) noexcept {
  constexpr std::string_view kScheme = "bearer";
  authorization = trim(authorization);
  if (authorization.size() > kScheme.size() &&
      iequals_ascii(authorization.substr(0, kScheme.size()), kScheme) &&
      is_optional_whitespace(authorization[kScheme.size()])) {
    const std::string_view key = trim(authorization.substr(kScheme.size()));
    if (!key.empty()) return key;
  }
  return trim(x_api_key);
}

}  // namespace spendwall::api
