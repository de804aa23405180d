// The x-spendwall-session header, checked against its definition: 1-128 characters of
// [A-Za-z0-9._:-].
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "proxy/api/headers.hpp"

namespace {

bool meets_definition(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view id = spendwall::fuzz::as_text(data, size);
  spendwall::fuzz::require(spendwall::api::is_valid_session_id(id) == meets_definition(id),
                           "session ids are exactly 1-128 characters of [A-Za-z0-9._:-]");
  return 0;
}
