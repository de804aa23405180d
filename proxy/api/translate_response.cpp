#include "proxy/api/translate_response.hpp"

#include <optional>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"

namespace spendwall::api {
namespace {

using translation::array;
using translation::bad_upstream;
using translation::element;
using translation::member;
using translation::object;
using translation::string_member;

using MaybeError = std::optional<ApiError>;

constexpr std::string_view kNotAMessage = "the provider's answer is not an Anthropic message";
constexpr std::string_view kNotACompletion =
    "the provider's answer is not an OpenAI chat completion";
constexpr std::string_view kBadToolUse = "the provider's answer has a malformed tool use";
constexpr std::string_view kBadArguments =
    "the provider's answer has a tool call whose arguments are not a JSON object";
constexpr std::string_view kNoErrorMessage = "the provider answered with an undescribed error";

MaybeError write_tool_call(object block, JsonWriter& writer, std::string& scratch) {
  const std::optional<std::string_view> id = string_member(block, "id");
  const std::optional<std::string_view> name = string_member(block, "name");
  const std::optional<element> input = member(block, "input");
  if (!id || !name || !input ||
      !translation::write_tool_call_object(writer, *id, *name, *input, scratch)) {
    return bad_upstream(kBadToolUse);
  }
  return std::nullopt;
}

MaybeError write_chat_completion(TranslationWorkspace& workspace, object message,
                                 std::string_view client_model, std::int64_t created,
                                 JsonWriter& writer) {
  array blocks;
  if (string_member(message, "type") != "message" ||
      message["content"].get(blocks) != simdjson::SUCCESS) {
    return bad_upstream(kNotAMessage);
  }
  // OpenAI has one `content` string: the text blocks are joined as the client would read
  // them. Thinking blocks only come when asked for, which a translated request never does.
  std::string& text = workspace.text();
  text.clear();
  bool has_text = false;
  bool has_tool_use = false;
  for (element item : blocks) {
    object block;
    if (item.get(block) != simdjson::SUCCESS) return bad_upstream(kNotAMessage);
    const std::optional<std::string_view> type = string_member(block, "type");
    if (type == "text") {
      text.append(string_member(block, "text").value_or(""));
      has_text = true;
    } else if (type == "tool_use") {
      has_tool_use = true;
    }
  }
  metering::TokenUsage usage;
  object usage_object;
  if (message["usage"].get(usage_object) == simdjson::SUCCESS) {
    translation::read_anthropic_usage(usage_object, usage);
  }

  writer.begin_object().key("id").string(string_member(message, "id").value_or(""));
  writer.key("object").string("chat.completion").key("created").integer(created);
  writer.key("model").string(client_model).key("choices").begin_array();
  writer.begin_object().key("index").integer(0).key("message").begin_object();
  writer.key("role").string("assistant").key("content");
  if (has_text) {
    writer.string(text);
  } else {
    writer.null();
  }
  writer.key("refusal").null();
  if (has_tool_use) {
    writer.key("tool_calls").begin_array();
    for (element item : blocks) {
      object block;
      if (item.get(block) != simdjson::SUCCESS || string_member(block, "type") != "tool_use") {
        continue;
      }
      if (auto error = write_tool_call(block, writer, text)) return error;
    }
    writer.end_array();
  }
  writer.end_object().key("logprobs").null().key("finish_reason");
  writer.string(translation::openai_finish_reason(
      string_member(message, "stop_reason").value_or("end_turn")));
  writer.end_object().end_array();
  writer.key("usage");
  translation::write_openai_usage(writer, usage);
  writer.end_object();
  return std::nullopt;
}

MaybeError write_tool_use(TranslationWorkspace& workspace, element item, JsonWriter& writer) {
  object call;
  object function;
  if (item.get(call) != simdjson::SUCCESS || call["function"].get(function) != simdjson::SUCCESS) {
    return bad_upstream(kBadToolUse);
  }
  const std::optional<std::string_view> id = string_member(call, "id");
  const std::optional<std::string_view> name = string_member(function, "name");
  if (!id || !name) return bad_upstream(kBadToolUse);
  if (!translation::write_tool_use_block(writer, workspace.fragment_parser(), *id, *name,
                                         string_member(function, "arguments").value_or(""))) {
    return bad_upstream(kBadArguments);
  }
  return std::nullopt;
}

MaybeError write_message(TranslationWorkspace& workspace, object completion,
                         std::string_view client_model, JsonWriter& writer) {
  array choices;
  object choice;
  object message;
  if (completion["choices"].get(choices) != simdjson::SUCCESS || choices.size() == 0 ||
      choices.at(0).get(choice) != simdjson::SUCCESS ||
      choice["message"].get(message) != simdjson::SUCCESS) {
    return bad_upstream(kNotACompletion);
  }
  // OpenAI answers with a string or null; anything else would be lost in translation.
  const std::optional<element> content = member(message, "content");
  if (content && !content->is_string()) return bad_upstream(kNotACompletion);
  const std::optional<std::string_view> refusal = string_member(message, "refusal");
  std::string_view stop_reason =
      translation::anthropic_stop_reason(string_member(choice, "finish_reason").value_or("stop"));
  if (refusal) stop_reason = "refusal";
  metering::TokenUsage usage;
  object usage_object;
  if (completion["usage"].get(usage_object) == simdjson::SUCCESS) {
    usage = translation::read_openai_usage(usage_object);
  }

  writer.begin_object().key("id").string(string_member(completion, "id").value_or(""));
  writer.key("type").string("message").key("role").string("assistant");
  writer.key("model").string(client_model).key("content").begin_array();
  for (const std::optional<std::string_view>& text : {string_member(message, "content"), refusal}) {
    if (!text || text->empty()) continue;
    writer.begin_object().key("type").string("text").key("text").string(*text).end_object();
  }
  array calls;
  if (message["tool_calls"].get(calls) == simdjson::SUCCESS) {
    for (element item : calls) {
      if (auto error = write_tool_use(workspace, item, writer)) return error;
    }
  }
  writer.end_array().key("stop_reason").string(stop_reason).key("stop_sequence").null();
  writer.key("usage");
  translation::write_anthropic_usage(writer, usage);
  writer.end_object();
  return std::nullopt;
}

template <class Translate>
TranslateResult translate_body(TranslationWorkspace& workspace, simdjson::padded_string_view body,
                               std::string_view not_understood, std::string& out,
                               Translate&& translate) {
  out.clear();
  object top_level;
  MaybeError error;
  if (workspace.document_parser().parse(body).get(top_level) != simdjson::SUCCESS) {
    error = bad_upstream(not_understood);
  } else {
    JsonWriter writer(out);
    error = translate(top_level, writer);
  }
  workspace.release_oversized();
  if (error) return *error;
  return Translated{};
}

}  // namespace

TranslateResult anthropic_to_openai_chat_response(TranslationWorkspace& workspace,
                                                  simdjson::padded_string_view body,
                                                  std::string_view client_model,
                                                  std::int64_t created_unix_seconds,
                                                  std::string& out) {
  return translate_body(workspace, body, kNotAMessage, out, [&](object message, JsonWriter& w) {
    return write_chat_completion(workspace, message, client_model, created_unix_seconds, w);
  });
}

TranslateResult openai_chat_to_anthropic_response(TranslationWorkspace& workspace,
                                                  simdjson::padded_string_view body,
                                                  std::string_view client_model, std::string& out) {
  return translate_body(workspace, body, kNotACompletion, out,
                        [&](object completion, JsonWriter& w) {
                          return write_message(workspace, completion, client_model, w);
                        });
}

void translate_error_body(TranslationWorkspace& workspace, metering::ApiFormat upstream,
                          unsigned status, std::string_view body, std::string& out) {
  // Both APIs nest the description in an `error` object: {"error":{"type","message"}}.
  std::string_view message = kNoErrorMessage;
  std::string_view type;
  object top_level;
  object error;
  if (translation::parse_text(workspace.document_parser(), body).get(top_level) ==
          simdjson::SUCCESS &&
      top_level["error"].get(error) == simdjson::SUCCESS) {
    message = string_member(error, "message").value_or(kNoErrorMessage);
    type = string_member(error, "type").value_or("");
  }
  out.clear();
  JsonWriter writer(out);
  if (upstream == metering::ApiFormat::openai) {
    translation::write_anthropic_error(writer, translation::anthropic_error_type(status, type),
                                       message);
  } else {
    translation::write_openai_error(writer, type.empty() ? "api_error" : type, message);
  }
  workspace.release_oversized();
}

}  // namespace spendwall::api
