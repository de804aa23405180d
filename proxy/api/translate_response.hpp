#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "metering/endpoint.hpp"
#include "proxy/api/result.hpp"
#include "proxy/api/translate.hpp"

/// Non-streaming response bodies translated back into the client's API (PRODUCT.md §2
/// step 7): an Anthropic `message` as an OpenAI `chat.completion` and the reverse, and a
/// provider's error body in the client's error shape. docs/translation.md has the mappings.
///
/// An answer that is not the JSON it should be yields an `ApiError` of kind
/// `upstream_server_error`: a bad response, a server_error-class failure like any other
/// (PRODUCT.md §2). Each function replaces `out`.
/// Thread-safety: the functions use the caller's workspace, one per worker thread.
namespace spendwall::api {

/// The Anthropic message `body` as an OpenAI `chat.completion` whose `model` is
/// `client_model` (the route the client asked for, or the target's model: the caller
/// decides) and whose `created` is `created_unix_seconds` (Anthropic sends no time). The
/// message `id` is kept, so a request can be traced at the provider.
///
/// Text blocks are joined into `content`; `tool_use` blocks become `tool_calls` whose
/// `arguments` are their `input` as JSON text; `stop_reason` becomes `finish_reason`
/// (end_turn and stop_sequence: stop, max_tokens: length, tool_use: tool_calls, refusal:
/// content_filter); usage becomes prompt_tokens = input + cache reads + cache writes with
/// prompt_tokens_details.cached_tokens = cache reads, and completion_tokens = output.
TranslateResult anthropic_to_openai_chat_response(TranslationWorkspace& workspace,
                                                  simdjson::padded_string_view body,
                                                  std::string_view client_model,
                                                  std::int64_t created_unix_seconds,
                                                  std::string& out);

/// The OpenAI `chat.completion` `body` as an Anthropic `message` whose `model` is
/// `client_model`. The first choice's content and refusal become text blocks, its tool calls
/// `tool_use` blocks (their `arguments` must be a JSON object); `finish_reason` becomes
/// `stop_reason` (stop: end_turn, length: max_tokens, tool_calls: tool_use, content_filter or
/// a refusal: refusal); usage becomes input_tokens = prompt − cached,
/// cache_read_input_tokens = cached and output_tokens = completion.
TranslateResult openai_chat_to_anthropic_response(TranslationWorkspace& workspace,
                                                  simdjson::padded_string_view body,
                                                  std::string_view client_model, std::string& out);

/// The error body a provider speaking `upstream` answered with `status`, in the other API's
/// shape, keeping its message: OpenAI `{"error":{"message","type",…}}` becomes Anthropic
/// `{"type":"error","error":{"type","message"}}` with the type that Anthropic gives that
/// status, and an Anthropic error becomes an OpenAI one keeping its type. A body without a
/// readable message gets a fixed one. The status itself is the caller's to pass on.
void translate_error_body(TranslationWorkspace& workspace, metering::ApiFormat upstream,
                          unsigned status, std::string_view body, std::string& out);

}  // namespace spendwall::api
