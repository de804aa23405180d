#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metering/endpoint.hpp"
#include "proxy/api/result.hpp"
#include "proxy/api/translate.hpp"

/// Request bodies translated between the OpenAI Chat Completions API and the Anthropic
/// Messages API, so that a route may mix `openai` and `anthropic` targets (PRODUCT.md §2
/// step 7). docs/translation.md lists every field: translated, dropped (a hint with no effect
/// on the answer's content) or refused.
///
/// A refusal is an `ApiError` of kind `invalid_request` whose static message names the
/// feature and whose `param` names the top-level field that carries it (empty for a field
/// the translator does not know, whose name is client input). Malformed parts of the body the
/// request parser does not check (a message without a role, a tool call whose arguments are
/// not a JSON object) are refused the same way.
///
/// Every function expects `body` to have passed `RequestParser` for its endpoint, with
/// `SIMDJSON_PADDING` readable bytes past its end, and replaces `out`; on error `out` holds
/// unspecified partial output.
/// Thread-safety: the functions use the caller's workspace, one per worker thread.
namespace spendwall::api {

/// The OpenAI chat request `body` as an Anthropic Messages request for `target_model`.
///
/// `max_tokens` is the larger of the client's `max_tokens` and `max_completion_tokens`, or
/// `default_max_tokens` (the route's `default_max_output_tokens`, at least 1) when it set
/// neither: Anthropic requires one. `stream` is kept; `stream_options` is not sent, since
/// Anthropic streams always carry usage.
TranslateResult openai_chat_to_anthropic_request(TranslationWorkspace& workspace,
                                                 simdjson::padded_string_view body,
                                                 std::string_view target_model,
                                                 std::uint64_t default_max_tokens,
                                                 std::string& out);

/// The Anthropic Messages request `body` as an OpenAI chat request for `target_model`.
///
/// `max_tokens` becomes `max_completion_tokens`. A streaming request gets
/// `stream_options.include_usage=true`, so that the translated stream can report usage.
TranslateResult anthropic_to_openai_chat_request(TranslationWorkspace& workspace,
                                                 simdjson::padded_string_view body,
                                                 std::string_view target_model, std::string& out);

/// Why the request `body` on `endpoint` cannot be served by a target of the other API, or
/// nullopt when it can: the error the translation would return, found without writing its
/// output, so that the pipeline can skip the targets that need it before choosing one.
/// Endpoints other than `/v1/chat/completions` and `/v1/messages` are never translated.
std::optional<ApiError> untranslatable_feature(TranslationWorkspace& workspace,
                                               metering::Endpoint endpoint,
                                               simdjson::padded_string_view body);

}  // namespace spendwall::api
