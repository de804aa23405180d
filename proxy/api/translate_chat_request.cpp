#include "proxy/api/translate_request_rules.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"

namespace spendwall::api::translation {
namespace {

enum class ChatSlot : std::uint8_t {
  messages,
  max_tokens,
  max_completion_tokens,
  stop,
  temperature,
  top_p,
  stream,
  tools,
  tool_choice,
  parallel_tool_calls,
  user,
  count,
};

constexpr std::string_view kChatLegacyFunctions =
    "the legacy `functions` API cannot be translated for an Anthropic target; use `tools`";
constexpr std::string_view kChatAudioOutput =
    "audio output cannot be translated for an Anthropic target";

constexpr std::array kChatFields{
    dropped<ChatSlot>("model"),  // replaced by the target's model
    translated("messages", ChatSlot::messages),
    translated("max_tokens", ChatSlot::max_tokens),
    translated("max_completion_tokens", ChatSlot::max_completion_tokens),
    translated("stop", ChatSlot::stop),
    translated("temperature", ChatSlot::temperature),
    translated("top_p", ChatSlot::top_p),
    translated("stream", ChatSlot::stream),
    translated("tools", ChatSlot::tools),
    translated("tool_choice", ChatSlot::tool_choice),
    translated("parallel_tool_calls", ChatSlot::parallel_tool_calls),
    translated("user", ChatSlot::user),
    // Read by Spendwall for the client's stream; Anthropic streams always carry usage.
    dropped<ChatSlot>("stream_options"),
    // Hints and OpenAI-side bookkeeping that do not change what the model answers.
    dropped<ChatSlot>("seed"),
    dropped<ChatSlot>("service_tier"),
    dropped<ChatSlot>("store"),
    dropped<ChatSlot>("metadata"),
    dropped<ChatSlot>("prompt_cache_key"),
    dropped<ChatSlot>("safety_identifier"),
    dropped<ChatSlot>("prediction"),
    refused_unless<ChatSlot>("n", Harmless::one,
                             "`n` other than 1 (several choices) cannot be translated for an "
                             "Anthropic target"),
    refused_unless<ChatSlot>("logprobs", Harmless::false_value,
                             "`logprobs` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("top_logprobs", Harmless::zero,
                             "`top_logprobs` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("response_format", Harmless::text_response_format,
                             "`response_format` other than text (JSON mode, structured "
                             "outputs) cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("frequency_penalty", Harmless::zero,
                             "`frequency_penalty` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("presence_penalty", Harmless::zero,
                             "`presence_penalty` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("logit_bias", Harmless::empty_object,
                             "`logit_bias` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("modalities", Harmless::text_modalities, kChatAudioOutput),
    refused_unless<ChatSlot>("audio", Harmless::never, kChatAudioOutput),
    refused_unless<ChatSlot>("reasoning_effort", Harmless::never,
                             "`reasoning_effort` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("verbosity", Harmless::never,
                             "`verbosity` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("web_search_options", Harmless::never,
                             "`web_search_options` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("functions", Harmless::never, kChatLegacyFunctions),
    refused_unless<ChatSlot>("function_call", Harmless::never, kChatLegacyFunctions),
};

constexpr std::string_view kChatUnknownField =
    "the request has a field that cannot be translated for an Anthropic target";
constexpr std::string_view kChatUnknownMessageField =
    "a message has a field that cannot be translated for an Anthropic target";
constexpr std::string_view kChatUnknownPartField =
    "a content part has a field that cannot be translated for an Anthropic target";
constexpr std::string_view kChatMessageName =
    "message `name` cannot be translated for an Anthropic target";
constexpr std::string_view kChatLateSystem =
    "a `system` or `developer` message after the first user or assistant message cannot be "
    "translated for an Anthropic target";
constexpr std::string_view kChatAudioPart =
    "audio content cannot be translated for an Anthropic target";
constexpr std::string_view kChatFilePart =
    "file content parts cannot be translated for an Anthropic target";
constexpr std::string_view kChatUnknownPart =
    "a content part of this type cannot be translated for an Anthropic target";
constexpr std::string_view kChatTextOnly =
    "`system`, `developer` and `tool` messages can only hold text for an Anthropic target";
constexpr std::string_view kChatImageType =
    "an image that is not base64 JPEG, PNG, GIF or WebP data, or an http(s) URL, cannot be "
    "translated for an Anthropic target";
constexpr std::string_view kChatCustomToolCall =
    "tool calls other than `function` cannot be translated for an Anthropic target";
constexpr std::string_view kChatBadToolCall =
    "an assistant tool call needs an `id` and a `function` with a `name`";
constexpr std::string_view kChatBadArguments =
    "an assistant tool call's `function.arguments` must be a JSON object in a string, nested "
    "less than 64 levels deep";
constexpr std::string_view kChatBadToolMessage = "a `tool` message needs a `tool_call_id`";
constexpr std::string_view kChatUnknownRole =
    "a message role other than system, developer, user, assistant or tool cannot be translated "
    "for an Anthropic target";
constexpr std::string_view kChatCustomTool =
    "tools other than `function` cannot be translated for an Anthropic target";
constexpr std::string_view kChatStrictTool =
    "`strict` function tools cannot be translated for an Anthropic target";
constexpr std::string_view kChatBadTool = "every tool needs a `function` with a `name`";
constexpr std::string_view kChatToolChoice =
    "this `tool_choice` cannot be translated for an Anthropic target";
constexpr std::string_view kChatTemperature =
    "`temperature` above 1 cannot be translated for an Anthropic target";

enum class Speaker : std::uint8_t { none, user, assistant };

// Anthropic wants user and assistant turns to alternate, and tool results inside a user
// turn; consecutive OpenAI messages that land on the same Anthropic role are merged into one
// turn. A turn is opened lazily by its first block, so a message that yields no block (empty
// text) opens none.
template <class Writer>
class TurnWriter {
 public:
  explicit TurnWriter(Writer& writer) : writer_(writer) {}

  void open(Speaker speaker) {
    if (speaker == open_) return;
    close();
    writer_.begin_object().key("role").string(speaker == Speaker::user ? "user" : "assistant");
    writer_.key("content").begin_array();
    open_ = speaker;
  }

  void close() {
    if (open_ == Speaker::none) return;
    writer_.end_array().end_object();
    open_ = Speaker::none;
  }

 private:
  Writer& writer_;
  Speaker open_ = Speaker::none;
};

// Calls `on_text(text)` for a string content, and for an array content once per `text`
// part and `on_other(type, part)` for every other part.
template <class OnText, class OnOther>
MaybeError visit_chat_content(element content, OnText&& on_text, OnOther&& on_other) {
  std::string_view text;
  if (content.get(text) == simdjson::SUCCESS) {
    on_text(text);
    return std::nullopt;
  }
  array parts;
  if (content.get(parts) != simdjson::SUCCESS) return refused(kBadContent, "messages");
  for (element item : parts) {
    object part;
    if (item.get(part) != simdjson::SUCCESS) return refused(kBadContent, "messages");
    const std::optional<std::string_view> type = string_member(part, "type");
    if (!type) return refused(kBadContent, "messages");
    if (*type != "text") {
      if (auto error = on_other(*type, part)) return error;
      continue;
    }
    const std::optional<std::string_view> part_text = string_member(part, "text");
    if (!part_text) return refused(kBadContent, "messages");
    if (!has_only_members(part, {"type", "text"})) {
      return refused(kChatUnknownPartField, "messages");
    }
    on_text(*part_text);
  }
  return std::nullopt;
}

template <class Writer>
class ChatToAnthropic {
 public:
  ChatToAnthropic(TranslationWorkspace& workspace, Writer& writer)
      : workspace_(workspace), writer_(writer), turns_(writer) {}

  MaybeError write(object body, std::string_view target_model, std::uint64_t default_max_tokens) {
    FieldValues<ChatSlot> fields;
    if (auto error = classify_fields(body, kChatFields, kChatUnknownField, fields)) return error;
    writer_.begin_object().key("model").string(target_model);
    if (auto error = write_max_tokens(fields, default_max_tokens)) return error;
    if (auto error = write_conversation(fields.get(ChatSlot::messages))) return error;
    if (auto error = write_stop(fields.get(ChatSlot::stop))) return error;
    if (auto error = write_sampling(fields)) return error;
    if (auto stream = fields.get(ChatSlot::stream)) {
      bool enabled = false;
      if (stream->get(enabled) != simdjson::SUCCESS) {
        return refused("`stream` must be a boolean", "stream");
      }
      writer_.key("stream").boolean(enabled);
    }
    if (auto error = write_tools(fields.get(ChatSlot::tools))) return error;
    if (auto error = write_tool_choice(fields)) return error;
    if (auto user = fields.get(ChatSlot::user)) {
      std::string_view id;
      if (user->get(id) != simdjson::SUCCESS) return refused("`user` must be a string", "user");
      writer_.key("metadata").begin_object().key("user_id").string(id).end_object();
    }
    writer_.end_object();
    return std::nullopt;
  }

 private:
  MaybeError write_max_tokens(const FieldValues<ChatSlot>& fields,
                              std::uint64_t default_max_tokens) {
    std::optional<std::uint64_t> limit;
    for (ChatSlot slot : {ChatSlot::max_tokens, ChatSlot::max_completion_tokens}) {
      const std::optional<element> value = fields.get(slot);
      if (!value) continue;
      std::uint64_t tokens = 0;
      if (value->get(tokens) != simdjson::SUCCESS || tokens == 0) {
        return refused("`max_tokens` must be a positive integer", "max_tokens");
      }
      limit = std::max(limit.value_or(0), tokens);
    }
    if (!limit && default_max_tokens == 0) {
      return ApiError{ErrorKind::internal, "no default output limit for an Anthropic target", {}};
    }
    writer_.key("max_tokens").integer(limit.value_or(default_max_tokens));
    return std::nullopt;
  }

  // Leading system and developer messages become the top-level `system` blocks; the rest
  // become `messages`.
  MaybeError write_conversation(std::optional<element> value) {
    array messages;
    if (!value || value->get(messages) != simdjson::SUCCESS) {
      return refused(kMessagesNotArray, "messages");
    }
    bool system_open = false;
    bool conversation_open = false;
    for (element item : messages) {
      object message;
      if (item.get(message) != simdjson::SUCCESS) return refused(kMessageNotObject, "messages");
      const std::optional<std::string_view> role = string_member(message, "role");
      if (!role) return refused(kMessageNotObject, "messages");
      if (*role == "system" || *role == "developer") {
        if (conversation_open) return refused(kChatLateSystem, "messages");
        if (auto error = write_system_message(message, system_open)) return error;
        continue;
      }
      if (!conversation_open) {
        if (system_open) writer_.end_array();
        writer_.key("messages").begin_array();
        conversation_open = true;
      }
      if (auto error = write_turn(*role, message)) return error;
    }
    if (!conversation_open) {
      if (system_open) writer_.end_array();
      writer_.key("messages").begin_array();
    }
    turns_.close();
    writer_.end_array();
    return std::nullopt;
  }

  MaybeError write_system_message(object message, bool& system_open) {
    if (auto error = check_message_members(message, {"role", "content", "name"})) return error;
    const std::optional<element> content = member(message, "content");
    if (!content) return refused(kBadContent, "messages");
    return visit_chat_content(
        *content,
        [&](std::string_view text) {
          if (text.empty()) return;
          if (!system_open) writer_.key("system").begin_array();
          system_open = true;
          write_text_block(text);
        },
        [](std::string_view, object) -> MaybeError { return refused(kChatTextOnly, "messages"); });
  }

  MaybeError write_turn(std::string_view role, object message) {
    if (role == "user") return write_user(message);
    if (role == "assistant") return write_assistant(message);
    if (role == "tool") return write_tool_result(message);
    if (role == "function") return refused(kChatLegacyFunctions, "messages");
    return refused(kChatUnknownRole, "messages");
  }

  MaybeError check_message_members(object message,
                                   std::initializer_list<std::string_view> allowed) {
    if (!has_only_members(message, allowed)) return refused(kChatUnknownMessageField, "messages");
    if (member(message, "name")) return refused(kChatMessageName, "messages");
    return std::nullopt;
  }

  MaybeError write_user(object message) {
    if (auto error = check_message_members(message, {"role", "content", "name"})) return error;
    const std::optional<element> content = member(message, "content");
    if (!content) return refused(kBadContent, "messages");
    return visit_chat_content(
        *content, [&](std::string_view text) { write_turn_text(Speaker::user, text); },
        [&](std::string_view type, object part) -> MaybeError {
          if (type == "image_url") return write_image(part);
          if (type == "input_audio") return refused(kChatAudioPart, "messages");
          if (type == "file") return refused(kChatFilePart, "messages");
          return refused(kChatUnknownPart, "messages");
        });
  }

  MaybeError write_assistant(object message) {
    if (auto error = check_message_members(message, {"role", "content", "name", "tool_calls",
                                                     "refusal", "audio", "function_call"})) {
      return error;
    }
    if (member(message, "audio")) return refused(kChatAudioPart, "messages");
    if (member(message, "function_call")) return refused(kChatLegacyFunctions, "messages");
    if (const std::optional<element> content = member(message, "content")) {
      auto error = visit_chat_content(
          *content, [&](std::string_view text) { write_turn_text(Speaker::assistant, text); },
          [&](std::string_view type, object part) -> MaybeError {
            // A refusal the model gave earlier is text it said.
            const std::optional<std::string_view> text = string_member(part, "refusal");
            if (type != "refusal" || !text) return refused(kChatUnknownPart, "messages");
            if (!has_only_members(part, {"type", "refusal"})) {
              return refused(kChatUnknownPartField, "messages");
            }
            write_turn_text(Speaker::assistant, *text);
            return std::nullopt;
          });
      if (error) return error;
    }
    if (const std::optional<std::string_view> refusal = string_member(message, "refusal")) {
      write_turn_text(Speaker::assistant, *refusal);
    }
    if (const std::optional<element> calls = member(message, "tool_calls")) {
      array items;
      if (calls->get(items) != simdjson::SUCCESS) return refused(kChatBadToolCall, "messages");
      for (element item : items) {
        if (auto error = write_tool_use(item)) return error;
      }
    }
    return std::nullopt;
  }

  MaybeError write_tool_use(element item) {
    object call;
    object function;
    if (item.get(call) != simdjson::SUCCESS) return refused(kChatBadToolCall, "messages");
    if (member(call, "type") && string_member(call, "type") != "function") {
      return refused(kChatCustomToolCall, "messages");
    }
    if (!has_only_members(call, {"id", "type", "function"})) {
      return refused(kChatUnknownMessageField, "messages");
    }
    const std::optional<std::string_view> id = string_member(call, "id");
    if (!id || call["function"].get(function) != simdjson::SUCCESS) {
      return refused(kChatBadToolCall, "messages");
    }
    const std::optional<std::string_view> name = string_member(function, "name");
    if (!name) return refused(kChatBadToolCall, "messages");
    if (!has_only_members(function, {"name", "arguments"})) {
      return refused(kChatUnknownMessageField, "messages");
    }

    turns_.open(Speaker::assistant);
    if (!write_tool_use_block(writer_, workspace_.fragment_parser(), *id, *name,
                              string_member(function, "arguments").value_or(""))) {
      return refused(kChatBadArguments, "messages");
    }
    return std::nullopt;
  }

  MaybeError write_tool_result(object message) {
    if (auto error = check_message_members(message, {"role", "content", "tool_call_id"})) {
      return error;
    }
    const std::optional<std::string_view> id = string_member(message, "tool_call_id");
    if (!id) return refused(kChatBadToolMessage, "messages");
    const std::optional<element> content = member(message, "content");
    if (!content) return refused(kBadContent, "messages");

    turns_.open(Speaker::user);
    writer_.begin_object().key("type").string("tool_result").key("tool_use_id").string(*id);
    writer_.key("content");
    std::string_view text;
    if (content->get(text) == simdjson::SUCCESS) {
      writer_.string(text);
    } else {
      writer_.begin_array();
      auto error = visit_chat_content(
          *content,
          [&](std::string_view part_text) {
            if (!part_text.empty()) write_text_block(part_text);
          },
          [](std::string_view, object) -> MaybeError {
            return refused(kChatTextOnly, "messages");
          });
      if (error) return error;
      writer_.end_array();
    }
    writer_.end_object();
    return std::nullopt;
  }

  // OpenAI `detail` is a resolution hint Anthropic has no use for; the image is the same.
  MaybeError write_image(object part) {
    object image;
    if (!has_only_members(part, {"type", "image_url"})) {
      return refused(kChatUnknownPartField, "messages");
    }
    if (part["image_url"].get(image) != simdjson::SUCCESS) return refused(kBadContent, "messages");
    if (!has_only_members(image, {"url", "detail"})) {
      return refused(kChatUnknownPartField, "messages");
    }
    const std::optional<std::string_view> url = string_member(image, "url");
    if (!url) return refused(kBadContent, "messages");
    const std::optional<Base64DataUrl> data = parse_base64_data_url(*url);
    if (data ? !is_anthropic_image_type(data->media_type) : !is_http_url(*url)) {
      return refused(kChatImageType, "messages");
    }
    turns_.open(Speaker::user);
    writer_.begin_object().key("type").string("image").key("source").begin_object();
    if (data) {
      writer_.key("type").string("base64").key("media_type").string(data->media_type);
      writer_.key("data").string(data->data);
    } else {
      writer_.key("type").string("url").key("url").string(*url);
    }
    writer_.end_object().end_object();
    return std::nullopt;
  }

  // Anthropic refuses empty text blocks; an empty text carries nothing anyway.
  void write_turn_text(Speaker speaker, std::string_view text) {
    if (text.empty()) return;
    turns_.open(speaker);
    write_text_block(text);
  }

  void write_text_block(std::string_view text) {
    writer_.begin_object().key("type").string("text").key("text").string(text).end_object();
  }

  MaybeError write_stop(std::optional<element> stop) {
    if (!stop) return std::nullopt;
    constexpr std::string_view kBadStop = "`stop` must be a string or an array of strings";
    writer_.key("stop_sequences").begin_array();
    std::string_view text;
    array items;
    if (stop->get(text) == simdjson::SUCCESS) {
      writer_.string(text);
    } else if (stop->get(items) == simdjson::SUCCESS) {
      for (element item : items) {
        if (item.get(text) != simdjson::SUCCESS) return refused(kBadStop, "stop");
        writer_.string(text);
      }
    } else {
      return refused(kBadStop, "stop");
    }
    writer_.end_array();
    return std::nullopt;
  }

  // Anthropic samples temperature in [0, 1], OpenAI in [0, 2]; a higher value has no
  // equivalent, and rescaling would change what the client asked for.
  MaybeError write_sampling(const FieldValues<ChatSlot>& fields) {
    if (auto value = fields.get(ChatSlot::temperature)) {
      double temperature = 0;
      if (value->get(temperature) != simdjson::SUCCESS) {
        return refused("`temperature` must be a number", "temperature");
      }
      if (temperature > 1) return refused(kChatTemperature, "temperature");
      copy_json(writer_.key("temperature"), *value);
    }
    if (auto value = fields.get(ChatSlot::top_p)) {
      if (!value->is_number()) return refused("`top_p` must be a number", "top_p");
      copy_json(writer_.key("top_p"), *value);
    }
    return std::nullopt;
  }

  MaybeError write_tools(std::optional<element> value) {
    if (!value) return std::nullopt;
    array tools;
    if (value->get(tools) != simdjson::SUCCESS) return refused(kChatBadTool, "tools");
    writer_.key("tools").begin_array();
    for (element item : tools) {
      object tool;
      object function;
      if (item.get(tool) != simdjson::SUCCESS) return refused(kChatBadTool, "tools");
      if (string_member(tool, "type") != "function") return refused(kChatCustomTool, "tools");
      if (!has_only_members(tool, {"type", "function"})) return refused(kChatUnknownField, "tools");
      if (tool["function"].get(function) != simdjson::SUCCESS) {
        return refused(kChatBadTool, "tools");
      }
      if (!has_only_members(function, {"name", "description", "parameters", "strict"})) {
        return refused(kChatUnknownField, "tools");
      }
      if (const std::optional<element> strict = member(function, "strict")) {
        bool enabled = false;
        if (strict->get(enabled) != simdjson::SUCCESS || enabled) {
          return refused(kChatStrictTool, "tools");
        }
      }
      const std::optional<std::string_view> name = string_member(function, "name");
      if (!name) return refused(kChatBadTool, "tools");
      writer_.begin_object().key("name").string(*name);
      if (auto description = string_member(function, "description")) {
        writer_.key("description").string(*description);
      }
      writer_.key("input_schema");
      if (const std::optional<element> parameters = member(function, "parameters")) {
        if (!copy_json(writer_, *parameters)) return refused(kTooDeep, "tools");
      } else {
        // OpenAI allows a function without parameters; Anthropic requires a schema.
        writer_.begin_object().key("type").string("object").key("properties").begin_object();
        writer_.end_object().end_object();
      }
      writer_.end_object();
    }
    writer_.end_array();
    return std::nullopt;
  }

  MaybeError write_tool_choice(const FieldValues<ChatSlot>& fields) {
    bool parallel = true;
    if (auto value = fields.get(ChatSlot::parallel_tool_calls)) {
      if (value->get(parallel) != simdjson::SUCCESS) {
        return refused("`parallel_tool_calls` must be a boolean", "parallel_tool_calls");
      }
    }
    std::string_view type = "auto";
    std::optional<std::string_view> tool_name;
    const std::optional<element> choice = fields.get(ChatSlot::tool_choice);
    if (choice) {
      std::string_view mode;
      object named;
      object function;
      if (choice->get(mode) == simdjson::SUCCESS) {
        if (mode == "required") {
          type = "any";
        } else if (mode == "auto" || mode == "none") {
          type = mode;
        } else {
          return refused(kChatToolChoice, "tool_choice");
        }
      } else if (choice->get(named) == simdjson::SUCCESS &&
                 string_member(named, "type") == "function" &&
                 named["function"].get(function) == simdjson::SUCCESS &&
                 (tool_name = string_member(function, "name"))) {
        type = "tool";
      } else {
        return refused(kChatToolChoice, "tool_choice");
      }
    }
    // Without tools there is nothing to choose, and Anthropic refuses a tool_choice alone.
    if (!fields.get(ChatSlot::tools)) return std::nullopt;
    // Parallel calls are on by default on both sides; turning them off needs a tool_choice
    // object on Anthropic, where "none" has no such flag.
    const bool disable_parallel = !parallel && type != "none";
    if (!choice && !disable_parallel) return std::nullopt;
    writer_.key("tool_choice").begin_object().key("type").string(type);
    if (tool_name) writer_.key("name").string(*tool_name);
    if (disable_parallel) writer_.key("disable_parallel_tool_use").boolean(true);
    writer_.end_object();
    return std::nullopt;
  }

  TranslationWorkspace& workspace_;
  Writer& writer_;
  TurnWriter<Writer> turns_;
};

}  // namespace

template <class Writer>
MaybeError write_chat_as_anthropic(TranslationWorkspace& workspace, object body,
                                   std::string_view target_model, std::uint64_t default_max_tokens,
                                   Writer& writer) {
  return ChatToAnthropic<Writer>(workspace, writer).write(body, target_model, default_max_tokens);
}

template MaybeError write_chat_as_anthropic(TranslationWorkspace&, object, std::string_view,
                                            std::uint64_t, JsonWriter&);
template MaybeError write_chat_as_anthropic(TranslationWorkspace&, object, std::string_view,
                                            std::uint64_t, DiscardingWriter&);

}  // namespace spendwall::api::translation
