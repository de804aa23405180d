#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/api/result.hpp"

/// Parsing of the request headers Spendwall reads itself (PRODUCT.md §2): quality tags,
/// the session id and the client's key.
/// Thread-safety: pure functions; results view the header text they were parsed from.
namespace spendwall::api {

struct Tag {
  std::string_view key;
  std::string_view value;
};

/// The tags of one request, in header order, viewing the header text (no heap).
class Tags {
 public:
  static constexpr std::size_t kCapacity = 8;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const Tag* begin() const noexcept { return items_.data(); }
  const Tag* end() const noexcept { return items_.data() + size_; }
  const Tag& operator[](std::size_t index) const noexcept { return items_[index]; }

  /// False when full.
  bool push_back(Tag tag) noexcept;

 private:
  std::array<Tag, kCapacity> items_{};
  std::size_t size_ = 0;
};

/// Parses `x-spendwall-tags: key=value,key=value`: at most 8 tags, keys and values of 1–64
/// `[A-Za-z0-9._-]`, spaces or tabs allowed around `,` and `=`, no repeated key. An empty
/// (or blank) header carries no tags. Errors are 400 `invalid_request` naming the header.
Result<Tags> parse_tags(std::string_view header) noexcept;

/// `x-spendwall-session`: 1–128 characters of `[A-Za-z0-9._:-]`.
bool is_valid_session_id(std::string_view session_id) noexcept;

/// The client's key from `Authorization: Bearer <key>` (scheme case-insensitive) or, failing
/// that, from `x-api-key`; empty when neither carries one. Bearer wins when both are sent,
/// as the Anthropic SDK may send both with the same key.
std::string_view extract_client_key(std::string_view authorization,
                                    std::string_view x_api_key) noexcept;

}  // namespace spendwall::api
