// Usage and content size of a complete (non-streaming) provider response body, on each wire
// format, and the structural scanner they rest on.
#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "metering/json_scan.hpp"
#include "metering/usage.hpp"

namespace {

using spendwall::metering::Endpoint;

// Mode byte: '0' chat, '1' responses, '2' embeddings, '3' legacy completions, '4' messages.
constexpr std::array<Endpoint, 5> kWires{Endpoint::chat_completions, Endpoint::responses,
                                         Endpoint::embeddings, Endpoint::completions,
                                         Endpoint::messages};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  static spendwall::metering::UsageExtractor extractor;
  const auto input = spendwall::fuzz::split_mode(data, size, kWires.size());
  const Endpoint wire = kWires[input.mode];
  const std::string_view text = input.payload;

  const auto usage_member = spendwall::metering::find_member(text, "usage");
  if (usage_member) require(spendwall::fuzz::views_into(*usage_member, text), "member views text");
  const bool complete = spendwall::metering::is_complete_json_object(text);

  // A body with full padding, as the server's body buffer has.
  const simdjson::padded_string padded(text);
  const auto usage = extractor.from_body(wire, padded);
  if (usage) require(complete, "usage is read only from a complete object");
  (void)extractor.content_bytes_of_body(wire, padded);

  // The same bytes with no padding at all: the member must then be copied, not read past
  // the end of the buffer.
  const auto unpadded_usage = extractor.from_body(
      wire, simdjson::padded_string_view(text.data(), text.size(), text.size()));
  require(unpadded_usage == usage, "padding does not change the usage read");
  (void)extractor.content_bytes_of_body(
      wire, simdjson::padded_string_view(text.data(), text.size(), text.size()));

  if (usage_member) (void)extractor.from_usage_json(wire, *usage_member);
  return 0;
}
