// Streamed answers translated event by event between the Anthropic and OpenAI SSE formats.
// Whatever the provider streams, the client receives well-framed SSE whose every data field
// is JSON (or OpenAI's closing [DONE]).
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "metering/sse.hpp"
#include "proxy/api/translate_stream.hpp"

namespace {

void check_client_stream(std::string_view stream) {
  using spendwall::fuzz::require;
  static simdjson::dom::parser checker;
  spendwall::metering::SseFramer framer(std::size_t{1} << 30);
  framer.feed(stream, [&](std::string_view, std::string_view data, std::string_view) {
    if (data.empty() || data == "[DONE]") return;
    require(spendwall::fuzz::is_valid_json(checker, data), "every client event's data is JSON");
  });
  require(framer.pending().empty(), "the client stream consists of whole events");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  using spendwall::metering::ApiFormat;
  static spendwall::api::TranslationWorkspace workspace;
  static std::string out;

  // Mode byte: '0' OpenAI upstream, '1' Anthropic upstream (each to the other's client), and
  // '2' / '3' the same with the OpenAI client not asking for the usage chunk.
  const auto input = spendwall::fuzz::split_mode(data, size, 4);
  const ApiFormat upstream = input.mode % 2 == 0 ? ApiFormat::openai : ApiFormat::anthropic;
  const bool include_usage = input.mode < 2;

  spendwall::api::StreamTranslator translator(workspace);
  translator.start(upstream, "client-model", 1700000000, include_usage);
  spendwall::metering::SseFramer framer(1 << 20);
  out.clear();
  bool failed = false;
  framer.feed(input.payload, [&](std::string_view, std::string_view event_data, std::string_view) {
    if (failed) return;
    const auto progress = translator.on_event(event_data, out);
    if (!progress) failed = true;
  });
  if (!failed) (void)translator.finish(out);
  check_client_stream(out);
  return 0;
}
