// Request bodies translated between OpenAI chat and Anthropic Messages. An accepted body that
// translates must come out as a body the other endpoint's parser accepts, naming the target
// model; untranslatable_feature() must predict exactly which bodies translate.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "proxy/api/request.hpp"
#include "proxy/api/translate_request.hpp"

namespace {

using spendwall::metering::Endpoint;
constexpr std::string_view kTargetModel = "target-model";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  static spendwall::api::RequestParser parser;
  static spendwall::api::TranslationWorkspace workspace;
  static std::string out;

  // Mode byte: '0' an OpenAI chat body to Anthropic, '1' an Anthropic body to OpenAI chat.
  const auto input = spendwall::fuzz::split_mode(data, size, 2);
  const bool from_chat = input.mode == 0;
  const Endpoint endpoint = from_chat ? Endpoint::chat_completions : Endpoint::messages;
  const simdjson::padded_string body(input.payload);
  // The translators' precondition: the body passed the request parser.
  const auto parsed = parser.parse(endpoint, body);
  if (!parsed) return 0;
  const std::uint64_t max_output = parsed->max_output_tokens.value_or(0);

  const auto refusal = spendwall::api::untranslatable_feature(workspace, endpoint, body);
  const auto translated = from_chat ? spendwall::api::openai_chat_to_anthropic_request(
                                          workspace, body, kTargetModel, 4096, out)
                                    : spendwall::api::anthropic_to_openai_chat_request(
                                          workspace, body, kTargetModel, out);
  require(translated.has_value() == !refusal.has_value(),
          "untranslatable_feature predicts whether the body translates");
  if (!translated) {
    require(!translated.error().message.empty(), "a refusal carries a message");
    return 0;
  }

  const Endpoint target = from_chat ? Endpoint::messages : Endpoint::chat_completions;
  const simdjson::padded_string result(out);
  const auto again = parser.parse(target, result);
  require(again.has_value(), "a translated body is accepted by the target endpoint");
  require(again->model.view() == kTargetModel, "a translated body names the target model");
  require(again->stream == parsed->stream, "translation keeps stream");
  if (max_output != 0) {
    require(again->max_output_tokens == max_output, "translation keeps the output limit");
  }
  return 0;
}
