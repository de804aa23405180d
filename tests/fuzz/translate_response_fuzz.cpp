// Non-streaming provider answers translated into the client's API: an Anthropic message to an
// OpenAI chat.completion and back, and error bodies of either provider. Whatever the provider
// sent, a successful translation and every translated error body are valid JSON.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "proxy/api/translate_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  using spendwall::metering::ApiFormat;
  static spendwall::api::TranslationWorkspace workspace;
  static simdjson::dom::parser checker;
  static std::string out;

  // Mode byte: '0' Anthropic message to OpenAI, '1' OpenAI completion to Anthropic,
  // '2' an OpenAI error body, '3' an Anthropic error body.
  const auto input = spendwall::fuzz::split_mode(data, size, 4);
  const simdjson::padded_string body(input.payload);
  switch (input.mode) {
    case 0:
    case 1: {
      const auto translated = input.mode == 0
                                  ? spendwall::api::anthropic_to_openai_chat_response(
                                        workspace, body, "client-model", 1700000000, out)
                                  : spendwall::api::openai_chat_to_anthropic_response(
                                        workspace, body, "client-model", out);
      if (translated) {
        require(spendwall::fuzz::is_valid_json(checker, out), "a translated answer is JSON");
      }
      break;
    }
    default: {
      const ApiFormat upstream = input.mode == 2 ? ApiFormat::openai : ApiFormat::anthropic;
      // The status comes from the body's length, so every class is reached.
      const unsigned status = 400 + static_cast<unsigned>(input.payload.size() % 200);
      spendwall::api::translate_error_body(workspace, upstream, status, input.payload, out);
      require(spendwall::fuzz::is_valid_json(checker, out), "a translated error body is JSON");
      break;
    }
  }
  workspace.release_oversized();
  return 0;
}
