// The JSON body of every metered endpoint (RequestParser), and the rewrite that is spliced
// into an accepted body: the rewritten body must parse again with the new model.
#include <simdjson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "metering/endpoint.hpp"
#include "proxy/api/request.hpp"
#include "proxy/api/rewrite.hpp"

namespace {

using spendwall::api::ParsedRequest;
using spendwall::metering::Endpoint;

// The order of the seed files' mode byte: '0' chat, '1' responses, '2' embeddings,
// '3' legacy completions, '4' messages.
constexpr std::array<Endpoint, 5> kEndpoints{Endpoint::chat_completions, Endpoint::responses,
                                             Endpoint::embeddings, Endpoint::completions,
                                             Endpoint::messages};
// Needs escaping, so the rewrite's JSON escaping is exercised too.
constexpr std::string_view kNewModel = "route \"quoted\" \\ model";

void check_spans(std::string_view body, const ParsedRequest& request) {
  using spendwall::fuzz::require;
  require(request.object_offset < body.size() && body[request.object_offset] == '{',
          "object_offset points at the opening brace");
  const auto& model = request.model_span;
  require(model.offset + model.length <= body.size() && model.length >= 2,
          "model span lies within the body");
  require(body[model.offset] == '"' && body[model.offset + model.length - 1] == '"',
          "model span is a quoted string");
  require(!request.model.view().empty(), "an accepted model is not empty");
  for (const auto& span : {request.stream_options_span, request.include_usage_span}) {
    if (span) require(span->offset + span->length <= body.size(), "span lies within the body");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  // One parser for the whole run, as a worker reuses one across requests.
  static spendwall::api::RequestParser parser;
  static std::string rewritten;

  const auto input = spendwall::fuzz::split_mode(data, size, kEndpoints.size());
  const Endpoint endpoint = kEndpoints[input.mode];
  const simdjson::padded_string body(input.payload);
  const auto parsed = parser.parse(endpoint, body);
  if (!parsed) {
    require(!parsed.error().message.empty(), "a refusal carries a message");
    return 0;
  }
  const ParsedRequest request = parsed.value();
  check_spans(input.payload, request);

  spendwall::api::rewrite_body(input.payload, request, kNewModel, request.stream, rewritten);
  const simdjson::padded_string again_body(rewritten);
  const auto again = parser.parse(endpoint, again_body);
  require(again.has_value(), "a rewritten accepted body is accepted");
  require(again->model.view() == kNewModel, "the rewritten body names the new model");
  require(again->stream == request.stream, "the rewrite keeps stream");
  require(again->max_output_tokens == request.max_output_tokens,
          "the rewrite keeps the output limit");
  if (request.stream) {
    require(again->include_usage_requested, "the rewrite injects include_usage");
  } else {
    require(again->include_usage_requested == request.include_usage_requested,
            "the rewrite keeps include_usage when told not to inject it");
  }
  return 0;
}
