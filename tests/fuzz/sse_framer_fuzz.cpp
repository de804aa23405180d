// SSE framing of an upstream stream. The framer's contract is checked on every input: the
// events and the failure do not depend on how the bytes were split into reads, and the raw
// bytes of the events followed by pending() reproduce the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "metering/sse.hpp"

namespace {

struct Framed {
  std::vector<std::string> names;
  std::vector<std::string> data;
  std::string raw;  ///< every event's raw bytes, then what is still pending
  bool failed = false;
};

void check_event(std::string_view name, std::string_view raw) {
  using spendwall::fuzz::require;
  require(!raw.empty() && (raw.back() == '\n' || raw.back() == '\r'),
          "an event ends with its blank line");
  require(name.find_first_of("\r\n") == std::string_view::npos, "a name is one line");
}

Framed frame(std::string_view input, std::size_t max_event_bytes, std::uint8_t split_seed) {
  spendwall::metering::SseFramer framer(max_event_bytes);
  Framed framed;
  const auto on_event = [&](std::string_view name, std::string_view data, std::string_view raw) {
    check_event(name, raw);
    framed.names.emplace_back(name);
    framed.data.emplace_back(data);
    framed.raw.append(raw);
  };
  // Reads of 1 to 32 bytes in a pattern set by the seed; seed 0 reads everything at once.
  std::size_t step = split_seed;
  for (std::size_t at = 0; at < input.size();) {
    std::size_t length = input.size() - at;
    if (split_seed != 0) {
      step = (step * 37 + 11) % 32;
      length = std::min(length, step + 1);
    }
    framer.feed(input.substr(at, length), on_event);
    at += length;
  }
  spendwall::metering::SseEvent last;
  if (framer.finish(last)) on_event(last.name, last.data, last.raw);
  framed.raw.append(framer.pending());
  framed.failed = framer.failed();
  return framed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  if (size < 2) return 0;
  // First byte: the event size limit (16 bytes to 2 KiB); second: how reads are split.
  const std::size_t max_event_bytes = std::size_t{16} << (data[0] % 8);
  const std::uint8_t split_seed = data[1];
  const std::string_view input = spendwall::fuzz::as_text(data + 2, size - 2);

  const Framed whole = frame(input, max_event_bytes, 0);
  const Framed split = frame(input, max_event_bytes, split_seed == 0 ? 1 : split_seed);
  require(whole.failed == split.failed, "failure does not depend on read sizes");
  require(whole.names == split.names && whole.data == split.data,
          "events do not depend on read sizes");
  if (!whole.failed) {
    require(whole.raw == input && split.raw == input, "raw events and pending reproduce the input");
  }
  return 0;
}
