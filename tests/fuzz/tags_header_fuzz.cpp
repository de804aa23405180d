// The x-spendwall-tags header, and the client key taken from Authorization / x-api-key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "proxy/api/headers.hpp"

namespace {

bool is_tag_token(std::string_view token) {
  if (token.empty() || token.size() > 64) return false;
  for (const char c : token) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  using spendwall::fuzz::views_into;
  const std::string_view header = spendwall::fuzz::as_text(data, size);

  const auto tags = spendwall::api::parse_tags(header);
  if (tags) {
    require(tags->size() <= spendwall::api::Tags::kCapacity, "at most 8 tags");
    for (std::size_t i = 0; i < tags->size(); ++i) {
      const auto& tag = (*tags)[i];
      require(is_tag_token(tag.key) && is_tag_token(tag.value),
              "keys and values are 1-64 tag characters");
      require(views_into(tag.key, header) && views_into(tag.value, header),
              "tags view the header text");
      for (std::size_t j = 0; j < i; ++j) require((*tags)[j].key != tag.key, "no repeated key");
    }
  } else {
    require(!tags.error().message.empty(), "a refusal carries a message");
  }

  // The same bytes as the two key headers, split at the first newline (which no header value
  // can carry, so the split loses nothing a client could send).
  const std::size_t newline = header.find('\n');
  const std::string_view authorization = header.substr(0, newline);
  const std::string_view x_api_key =
      newline == std::string_view::npos ? std::string_view{} : header.substr(newline + 1);
  const std::string_view key = spendwall::api::extract_client_key(authorization, x_api_key);
  require(views_into(key, authorization) || views_into(key, x_api_key),
          "the client key views one of the headers");
  return 0;
}
