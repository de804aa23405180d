#include "proxy/api/translate_request.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"

namespace spendwall::api {
namespace {

using metering::Endpoint;
using translation::array;
using translation::DiscardingWriter;
using translation::element;
using translation::has_only_members;
using translation::member;
using translation::object;
using translation::string_member;

using MaybeError = std::optional<ApiError>;

ApiError refused(std::string_view message, std::string_view param) {
  return ApiError{ErrorKind::invalid_request, message, param};
}

// ---- Top-level fields -------------------------------------------------------------------
//
// Every top-level field is either translated, dropped (a hint with no effect on the content
// of the answer) or refused; one the tables do not name is refused, since the target API
// would reject it or ignore what it asks for.

enum class Handling : std::uint8_t { translate, drop, refuse };

// The value of a refused field that asks for nothing the target lacks, so it may pass: SDKs
// and frameworks often send such fields at their defaults.
enum class Harmless : std::uint8_t {
  never,
  one,
  false_value,
  zero,
  empty_object,
  text_response_format,
  text_modalities,
  disabled_thinking,
};

bool is_harmless(Harmless rule, element value) {
  switch (rule) {
    case Harmless::never:
      return false;
    case Harmless::one: {
      std::int64_t number = 0;
      return value.get(number) == simdjson::SUCCESS && number == 1;
    }
    case Harmless::false_value: {
      bool flag = true;
      return value.get(flag) == simdjson::SUCCESS && !flag;
    }
    case Harmless::zero: {
      double number = 1;
      return value.get(number) == simdjson::SUCCESS && number == 0;
    }
    case Harmless::empty_object: {
      object members;
      return value.get(members) == simdjson::SUCCESS && members.size() == 0;
    }
    case Harmless::text_response_format:
    case Harmless::disabled_thinking: {
      object members;
      if (value.get(members) != simdjson::SUCCESS) return false;
      const std::string_view wanted = rule == Harmless::disabled_thinking ? "disabled" : "text";
      return string_member(members, "type") == wanted;
    }
    case Harmless::text_modalities: {
      array items;
      if (value.get(items) != simdjson::SUCCESS) return false;
      return std::all_of(items.begin(), items.end(), [](element item) {
        std::string_view modality;
        return item.get(modality) == simdjson::SUCCESS && modality == "text";
      });
    }
  }
  return false;
}

template <class Slot>
struct FieldRule {
  std::string_view name;
  Handling handling = Handling::drop;
  Slot slot{};
  Harmless harmless = Harmless::never;
  std::string_view refusal{};
};

template <class Slot>
constexpr FieldRule<Slot> translated(std::string_view name, Slot slot) {
  return {name, Handling::translate, slot, Harmless::never, {}};
}

template <class Slot>
constexpr FieldRule<Slot> dropped(std::string_view name) {
  return {name, Handling::drop, Slot{}, Harmless::never, {}};
}

template <class Slot>
constexpr FieldRule<Slot> refused_unless(std::string_view name, Harmless harmless,
                                         std::string_view message) {
  return {name, Handling::refuse, Slot{}, harmless, message};
}

// The translated fields of one body, null ones left out.
template <class Slot>
class FieldValues {
 public:
  void set(Slot slot, element value) {
    values_[index(slot)] = value;
    present_[index(slot)] = true;
  }
  std::optional<element> get(Slot slot) const {
    if (!present_[index(slot)]) return std::nullopt;
    return values_[index(slot)];
  }

 private:
  static constexpr std::size_t index(Slot slot) { return static_cast<std::size_t>(slot); }
  static constexpr std::size_t kCount = index(Slot::count);
  std::array<element, kCount> values_{};
  std::array<bool, kCount> present_{};
};

template <class Slot, std::size_t kRules>
MaybeError classify_fields(object body, const std::array<FieldRule<Slot>, kRules>& rules,
                           std::string_view unknown_field_message, FieldValues<Slot>& values) {
  for (const auto& [name, value] : body) {
    const auto rule = std::find_if(rules.begin(), rules.end(),
                                   [&](const FieldRule<Slot>& r) { return r.name == name; });
    if (rule == rules.end()) return refused(unknown_field_message, {});
    if (value.is_null()) continue;
    switch (rule->handling) {
      case Handling::translate:
        values.set(rule->slot, value);
        break;
      case Handling::drop:
        break;
      case Handling::refuse:
        if (!is_harmless(rule->harmless, value)) return refused(rule->refusal, rule->name);
        break;
    }
  }
  return std::nullopt;
}

// ---- Messages shared by both directions ---------------------------------------------------

constexpr std::string_view kMessagesNotArray = "`messages` must be an array of messages";
constexpr std::string_view kMessageNotObject = "every message must be an object with a `role`";
constexpr std::string_view kBadContent =
    "message `content` must be a string or an array of content parts";
constexpr std::string_view kTooDeep = "a JSON value nests too deeply to be translated";

// ---- OpenAI chat → Anthropic messages ----------------------------------------------------

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
    refused_unless<ChatSlot>("modalities", Harmless::text_modalities,
                             "audio output cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("audio", Harmless::never,
                             "audio output cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("reasoning_effort", Harmless::never,
                             "`reasoning_effort` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("verbosity", Harmless::never,
                             "`verbosity` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("web_search_options", Harmless::never,
                             "`web_search_options` cannot be translated for an Anthropic target"),
    refused_unless<ChatSlot>("functions", Harmless::never,
                             "the legacy `functions` API cannot be translated for an Anthropic "
                             "target; use `tools`"),
    refused_unless<ChatSlot>("function_call", Harmless::never,
                             "the legacy `functions` API cannot be translated for an Anthropic "
                             "target; use `tools`"),
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
constexpr std::string_view kChatLegacyFunctions =
    "the legacy `functions` API cannot be translated for an Anthropic target; use `tools`";
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
    "an assistant tool call's `function.arguments` must be a JSON object in a string";
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
    if (!has_only_members(part, {"type", "text"}))
      return refused(kChatUnknownPartField, "messages");
    on_text(*part_text);
  }
  return std::nullopt;
}

std::optional<std::string_view> trimmed(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
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
    if (!has_only_members(call, {"id", "type", "function"})) {
      return refused(kChatUnknownMessageField, "messages");
    }
    if (member(call, "type") && string_member(call, "type") != "function") {
      return refused(kChatCustomToolCall, "messages");
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
    writer_.begin_object().key("type").string("tool_use").key("id").string(*id);
    writer_.key("name").string(*name).key("input");
    // A call without arguments is sent by some models as "" rather than "{}".
    const std::optional<std::string_view> arguments =
        trimmed(string_member(function, "arguments").value_or(""));
    if (!arguments) {
      writer_.begin_object().end_object();
    } else {
      element parsed;
      if (translation::parse_text(workspace_.fragment_parser(), *arguments).get(parsed) !=
              simdjson::SUCCESS ||
          !parsed.is_object()) {
        return refused(kChatBadArguments, "messages");
      }
      if (!translation::copy_json(writer_, parsed)) return refused(kTooDeep, "messages");
    }
    writer_.end_object();
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
    const std::optional<translation::Base64DataUrl> data = translation::parse_base64_data_url(*url);
    if (data ? !translation::is_anthropic_image_type(data->media_type)
             : !translation::is_http_url(*url)) {
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
      translation::copy_json(writer_.key("temperature"), *value);
    }
    if (auto value = fields.get(ChatSlot::top_p)) {
      if (!value->is_number()) return refused("`top_p` must be a number", "top_p");
      translation::copy_json(writer_.key("top_p"), *value);
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
      if (tool["function"].get(function) != simdjson::SUCCESS)
        return refused(kChatBadTool, "tools");
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
        if (!translation::copy_json(writer_, *parameters)) return refused(kTooDeep, "tools");
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

// ---- Anthropic messages → OpenAI chat ----------------------------------------------------

enum class MessagesSlot : std::uint8_t {
  messages,
  system,
  max_tokens,
  stop_sequences,
  temperature,
  top_p,
  stream,
  tools,
  tool_choice,
  metadata,
  count,
};

constexpr std::array kMessagesFields{
    dropped<MessagesSlot>("model"),  // replaced by the target's model
    translated("messages", MessagesSlot::messages),
    translated("system", MessagesSlot::system),
    translated("max_tokens", MessagesSlot::max_tokens),
    translated("stop_sequences", MessagesSlot::stop_sequences),
    translated("temperature", MessagesSlot::temperature),
    translated("top_p", MessagesSlot::top_p),
    translated("stream", MessagesSlot::stream),
    translated("tools", MessagesSlot::tools),
    translated("tool_choice", MessagesSlot::tool_choice),
    translated("metadata", MessagesSlot::metadata),
    // A capacity preference; it does not change what the model answers.
    dropped<MessagesSlot>("service_tier"),
    refused_unless<MessagesSlot>("top_k", Harmless::never,
                                 "`top_k` cannot be translated for an OpenAI target"),
    refused_unless<MessagesSlot>("thinking", Harmless::disabled_thinking,
                                 "extended `thinking` cannot be translated for an OpenAI target"),
    refused_unless<MessagesSlot>("container", Harmless::never,
                                 "`container` cannot be translated for an OpenAI target"),
    refused_unless<MessagesSlot>("mcp_servers", Harmless::never,
                                 "`mcp_servers` cannot be translated for an OpenAI target"),
    refused_unless<MessagesSlot>("context_management", Harmless::never,
                                 "`context_management` cannot be translated for an OpenAI target"),
};

constexpr std::string_view kMessagesUnknownField =
    "the request has a field that cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesUnknownBlockField =
    "a content block has a field that cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesUnknownBlock =
    "a content block of this type cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesDocument =
    "`document` content blocks cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesImageSource =
    "an image source other than base64 data or a URL cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesToolResultImage =
    "images inside a `tool_result` cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesBadToolUse =
    "a `tool_use` block needs an `id`, a `name` and an `input` object";
constexpr std::string_view kMessagesBadToolResult = "a `tool_result` block needs a `tool_use_id`";
constexpr std::string_view kMessagesBadRole = "a message `role` must be user or assistant";
constexpr std::string_view kMessagesServerTool =
    "Anthropic server tools cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesBadTool = "every tool needs a `name` and an `input_schema`";
constexpr std::string_view kMessagesToolChoice =
    "this `tool_choice` cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesTooManyStops =
    "more than 4 `stop_sequences` cannot be translated for an OpenAI target";
constexpr std::string_view kMessagesMetadata =
    "`metadata` other than `user_id` cannot be translated for an OpenAI target";
constexpr std::size_t kOpenAiMaxStops = 4;

std::optional<std::string_view> block_type(element item, object& block) {
  if (item.get(block) != simdjson::SUCCESS) return std::nullopt;
  return string_member(block, "type");
}

// Thinking blocks of earlier turns are dropped: Anthropic itself leaves them out of the
// context of later turns, so they do not change the answer.
bool is_thinking_block(std::string_view type) {
  return type == "thinking" || type == "redacted_thinking";
}

template <class Writer>
class AnthropicToChat {
 public:
  AnthropicToChat(TranslationWorkspace& workspace, Writer& writer)
      : workspace_(workspace), writer_(writer) {}

  MaybeError write(object body, std::string_view target_model) {
    FieldValues<MessagesSlot> fields;
    if (auto error = classify_fields(body, kMessagesFields, kMessagesUnknownField, fields)) {
      return error;
    }
    writer_.begin_object().key("model").string(target_model);
    std::uint64_t max_tokens = 0;
    const std::optional<element> limit = fields.get(MessagesSlot::max_tokens);
    if (!limit || limit->get(max_tokens) != simdjson::SUCCESS || max_tokens == 0) {
      return refused("`max_tokens` must be a positive integer", "max_tokens");
    }
    // `max_tokens` is deprecated on OpenAI and refused by its reasoning models.
    writer_.key("max_completion_tokens").integer(max_tokens);
    writer_.key("messages").begin_array();
    if (auto error = write_system(fields.get(MessagesSlot::system))) return error;
    if (auto error = write_messages(fields.get(MessagesSlot::messages))) return error;
    writer_.end_array();
    if (auto error = write_stop(fields.get(MessagesSlot::stop_sequences))) return error;
    for (auto [slot, name] : {std::pair{MessagesSlot::temperature, "temperature"},
                              std::pair{MessagesSlot::top_p, "top_p"}}) {
      if (auto value = fields.get(slot)) {
        if (!value->is_number()) return refused("sampling parameters must be numbers", name);
        translation::copy_json(writer_.key(name), *value);
      }
    }
    if (auto error = write_stream(fields.get(MessagesSlot::stream))) return error;
    if (auto error = write_tools(fields.get(MessagesSlot::tools))) return error;
    if (auto error = write_tool_choice(fields.get(MessagesSlot::tool_choice),
                                       fields.get(MessagesSlot::tools).has_value())) {
      return error;
    }
    if (auto error = write_metadata(fields.get(MessagesSlot::metadata))) return error;
    writer_.end_object();
    return std::nullopt;
  }

 private:
  MaybeError write_system(std::optional<element> system) {
    if (!system) return std::nullopt;
    std::string_view text;
    if (system->get(text) == simdjson::SUCCESS) {
      writer_.begin_object().key("role").string("system").key("content").string(text);
      writer_.end_object();
      return std::nullopt;
    }
    array blocks;
    if (system->get(blocks) != simdjson::SUCCESS) {
      return refused("`system` must be a string or an array of text blocks", "system");
    }
    if (blocks.size() == 0) return std::nullopt;
    writer_.begin_object().key("role").string("system").key("content").begin_array();
    for (element item : blocks) {
      object block;
      if (block_type(item, block) != "text") {
        return refused("`system` blocks must be text", "system");
      }
      if (auto error = write_text_part(block)) return error;
    }
    writer_.end_array().end_object();
    return std::nullopt;
  }

  MaybeError write_messages(std::optional<element> value) {
    array messages;
    if (!value || value->get(messages) != simdjson::SUCCESS) {
      return refused(kMessagesNotArray, "messages");
    }
    for (element item : messages) {
      object message;
      if (item.get(message) != simdjson::SUCCESS) return refused(kMessageNotObject, "messages");
      if (!has_only_members(message, {"role", "content"})) {
        return refused("a message has a field that cannot be translated for an OpenAI target",
                       "messages");
      }
      const std::optional<std::string_view> role = string_member(message, "role");
      const std::optional<element> content = member(message, "content");
      if (!content) return refused(kBadContent, "messages");
      if (role != "user" && role != "assistant") return refused(kMessagesBadRole, "messages");
      std::string_view text;
      if (content->get(text) == simdjson::SUCCESS) {
        writer_.begin_object().key("role").string(*role).key("content").string(text).end_object();
        continue;
      }
      array blocks;
      if (content->get(blocks) != simdjson::SUCCESS) return refused(kBadContent, "messages");
      auto error = *role == "user" ? write_user_blocks(blocks) : write_assistant_blocks(blocks);
      if (error) return error;
    }
    return std::nullopt;
  }

  // A user turn's tool results become `tool` messages of their own, in place; the blocks
  // between them form user messages.
  MaybeError write_user_blocks(array blocks) {
    bool user_open = false;
    const auto close_user = [&] {
      if (user_open) writer_.end_array().end_object();
      user_open = false;
    };
    for (element item : blocks) {
      object block;
      const std::optional<std::string_view> type = block_type(item, block);
      if (!type) return refused(kBadContent, "messages");
      if (*type == "tool_result") {
        close_user();
        if (auto error = write_tool_message(block)) return error;
        continue;
      }
      if (*type != "text" && *type != "image") return refuse_block(*type);
      if (!user_open) {
        writer_.begin_object().key("role").string("user").key("content").begin_array();
        user_open = true;
      }
      auto error = *type == "text" ? write_text_part(block) : write_image_part(block);
      if (error) return error;
    }
    close_user();
    return std::nullopt;
  }

  MaybeError refuse_block(std::string_view type) {
    if (type == "document") return refused(kMessagesDocument, "messages");
    return refused(kMessagesUnknownBlock, "messages");
  }

  MaybeError write_text_part(object block) {
    const std::optional<std::string_view> text = string_member(block, "text");
    if (!text) return refused(kBadContent, "messages");
    // Prompt-cache breakpoints and citations are dropped: OpenAI caches prompts by itself,
    // and citations only annotate text the model gave earlier.
    if (!has_only_members(block, {"type", "text", "cache_control", "citations"})) {
      return refused(kMessagesUnknownBlockField, "messages");
    }
    writer_.begin_object().key("type").string("text").key("text").string(*text).end_object();
    return std::nullopt;
  }

  MaybeError write_image_part(object block) {
    object source;
    if (!has_only_members(block, {"type", "source", "cache_control"})) {
      return refused(kMessagesUnknownBlockField, "messages");
    }
    if (block["source"].get(source) != simdjson::SUCCESS) return refused(kBadContent, "messages");
    const std::optional<std::string_view> kind = string_member(source, "type");
    std::string& url = workspace_.text();
    if (kind == "base64") {
      const std::optional<std::string_view> media_type = string_member(source, "media_type");
      const std::optional<std::string_view> data = string_member(source, "data");
      if (!media_type || !data || media_type->empty()) return refused(kBadContent, "messages");
      url.assign("data:").append(*media_type).append(";base64,").append(*data);
    } else if (kind == "url" && string_member(source, "url")) {
      url.assign(*string_member(source, "url"));
    } else {
      return refused(kMessagesImageSource, "messages");
    }
    writer_.begin_object().key("type").string("image_url").key("image_url").begin_object();
    writer_.key("url").string(url).end_object().end_object();
    return std::nullopt;
  }

  // `is_error` is dropped: OpenAI tool messages have no such flag, and the content is what
  // tells the model what went wrong.
  MaybeError write_tool_message(object block) {
    if (!has_only_members(block, {"type", "tool_use_id", "content", "is_error", "cache_control"})) {
      return refused(kMessagesUnknownBlockField, "messages");
    }
    const std::optional<std::string_view> id = string_member(block, "tool_use_id");
    if (!id) return refused(kMessagesBadToolResult, "messages");
    writer_.begin_object().key("role").string("tool").key("tool_call_id").string(*id);
    writer_.key("content");
    const std::optional<element> content = member(block, "content");
    std::string_view text;
    array parts;
    if (!content) {
      writer_.string("");
    } else if (content->get(text) == simdjson::SUCCESS) {
      writer_.string(text);
    } else if (content->get(parts) == simdjson::SUCCESS) {
      writer_.begin_array();
      for (element item : parts) {
        object part;
        const std::optional<std::string_view> type = block_type(item, part);
        if (type == "image") return refused(kMessagesToolResultImage, "messages");
        if (type != "text") return refuse_block(type.value_or(""));
        if (auto error = write_text_part(part)) return error;
      }
      writer_.end_array();
    } else {
      return refused(kBadContent, "messages");
    }
    writer_.end_object();
    return std::nullopt;
  }

  // OpenAI holds an assistant turn's text in `content` and its tool uses in `tool_calls`.
  MaybeError write_assistant_blocks(array blocks) {
    std::size_t text_blocks = 0;
    std::size_t tool_uses = 0;
    std::string_view only_text;
    for (element item : blocks) {
      object block;
      const std::optional<std::string_view> type = block_type(item, block);
      if (!type) return refused(kBadContent, "messages");
      if (*type == "text") {
        ++text_blocks;
        only_text = string_member(block, "text").value_or("");
      } else if (*type == "tool_use") {
        ++tool_uses;
      } else if (!is_thinking_block(*type)) {
        return refuse_block(*type);
      }
    }
    if (text_blocks == 0 && tool_uses == 0) return std::nullopt;

    writer_.begin_object().key("role").string("assistant").key("content");
    if (text_blocks == 0) {
      writer_.null();
    } else if (text_blocks == 1) {
      writer_.string(only_text);
    } else {
      writer_.begin_array();
      for (element item : blocks) {
        object block;
        if (block_type(item, block) != "text") continue;
        if (auto error = write_text_part(block)) return error;
      }
      writer_.end_array();
    }
    if (tool_uses > 0) {
      writer_.key("tool_calls").begin_array();
      for (element item : blocks) {
        object block;
        if (block_type(item, block) != "tool_use") continue;
        if (auto error = write_tool_call(block)) return error;
      }
      writer_.end_array();
    }
    writer_.end_object();
    return std::nullopt;
  }

  MaybeError write_tool_call(object block) {
    if (!has_only_members(block, {"type", "id", "name", "input", "cache_control"})) {
      return refused(kMessagesUnknownBlockField, "messages");
    }
    const std::optional<std::string_view> id = string_member(block, "id");
    const std::optional<std::string_view> name = string_member(block, "name");
    const std::optional<element> input = member(block, "input");
    if (!id || !name || !input || !input->is_object()) {
      return refused(kMessagesBadToolUse, "messages");
    }
    std::string& arguments = workspace_.text();
    if (!translation::render_json(*input, arguments)) return refused(kTooDeep, "messages");
    writer_.begin_object().key("id").string(*id).key("type").string("function");
    writer_.key("function").begin_object().key("name").string(*name);
    writer_.key("arguments").string(arguments).end_object().end_object();
    return std::nullopt;
  }

  MaybeError write_stop(std::optional<element> value) {
    if (!value) return std::nullopt;
    array stops;
    constexpr std::string_view kBadStops = "`stop_sequences` must be an array of strings";
    if (value->get(stops) != simdjson::SUCCESS) return refused(kBadStops, "stop_sequences");
    if (stops.size() > kOpenAiMaxStops) return refused(kMessagesTooManyStops, "stop_sequences");
    writer_.key("stop").begin_array();
    for (element item : stops) {
      std::string_view text;
      if (item.get(text) != simdjson::SUCCESS) return refused(kBadStops, "stop_sequences");
      writer_.string(text);
    }
    writer_.end_array();
    return std::nullopt;
  }

  // Anthropic streams always carry usage; an OpenAI stream only when asked.
  MaybeError write_stream(std::optional<element> value) {
    if (!value) return std::nullopt;
    bool enabled = false;
    if (value->get(enabled) != simdjson::SUCCESS) {
      return refused("`stream` must be a boolean", "stream");
    }
    writer_.key("stream").boolean(enabled);
    if (enabled) {
      writer_.key("stream_options").begin_object().key("include_usage").boolean(true);
      writer_.end_object();
    }
    return std::nullopt;
  }

  MaybeError write_tools(std::optional<element> value) {
    if (!value) return std::nullopt;
    array tools;
    if (value->get(tools) != simdjson::SUCCESS) return refused(kMessagesBadTool, "tools");
    writer_.key("tools").begin_array();
    for (element item : tools) {
      object tool;
      if (item.get(tool) != simdjson::SUCCESS) return refused(kMessagesBadTool, "tools");
      if (member(tool, "type") && string_member(tool, "type") != "custom") {
        return refused(kMessagesServerTool, "tools");
      }
      if (!has_only_members(tool,
                            {"type", "name", "description", "input_schema", "cache_control"})) {
        return refused(kMessagesUnknownField, "tools");
      }
      const std::optional<std::string_view> name = string_member(tool, "name");
      const std::optional<element> schema = member(tool, "input_schema");
      if (!name || !schema || !schema->is_object()) return refused(kMessagesBadTool, "tools");
      writer_.begin_object().key("type").string("function").key("function").begin_object();
      writer_.key("name").string(*name);
      if (auto description = string_member(tool, "description")) {
        writer_.key("description").string(*description);
      }
      if (!translation::copy_json(writer_.key("parameters"), *schema)) {
        return refused(kTooDeep, "tools");
      }
      writer_.end_object().end_object();
    }
    writer_.end_array();
    return std::nullopt;
  }

  MaybeError write_tool_choice(std::optional<element> value, bool has_tools) {
    if (!value) return std::nullopt;
    object choice;
    if (value->get(choice) != simdjson::SUCCESS ||
        !has_only_members(choice, {"type", "name", "disable_parallel_tool_use"})) {
      return refused(kMessagesToolChoice, "tool_choice");
    }
    const std::optional<std::string_view> type = string_member(choice, "type");
    const std::optional<std::string_view> name = string_member(choice, "name");
    bool disable_parallel = false;
    const std::optional<element> flag = member(choice, "disable_parallel_tool_use");
    if ((type != "auto" && type != "none" && type != "any" && (type != "tool" || !name)) ||
        (flag && flag->get(disable_parallel) != simdjson::SUCCESS)) {
      return refused(kMessagesToolChoice, "tool_choice");
    }
    // Without tools there is nothing to choose, and OpenAI refuses both fields alone.
    if (!has_tools) return std::nullopt;
    writer_.key("tool_choice");
    if (type == "tool") {
      writer_.begin_object().key("type").string("function").key("function").begin_object();
      writer_.key("name").string(*name).end_object().end_object();
    } else {
      writer_.string(type == "any" ? "required" : *type);
    }
    if (disable_parallel && type != "none") writer_.key("parallel_tool_calls").boolean(false);
    return std::nullopt;
  }

  MaybeError write_metadata(std::optional<element> value) {
    if (!value) return std::nullopt;
    object metadata;
    if (value->get(metadata) != simdjson::SUCCESS || !has_only_members(metadata, {"user_id"})) {
      return refused(kMessagesMetadata, "metadata");
    }
    if (const std::optional<element> user = member(metadata, "user_id")) {
      std::string_view id;
      if (user->get(id) != simdjson::SUCCESS) return refused(kMessagesMetadata, "metadata");
      writer_.key("user").string(id);
    }
    return std::nullopt;
  }

  TranslationWorkspace& workspace_;
  Writer& writer_;
};

// ---- Entry points ------------------------------------------------------------------------

// Parses `body` with the workspace and runs `translate(object)` on its top level.
template <class Translate>
MaybeError with_body(TranslationWorkspace& workspace, simdjson::padded_string_view body,
                     Translate&& translate) {
  object top_level;
  MaybeError result;
  if (workspace.document_parser().parse(body).get(top_level) != simdjson::SUCCESS) {
    result = refused("the request body must be a JSON object", {});
  } else {
    result = translate(top_level);
  }
  workspace.release_oversized();
  return result;
}

TranslateResult to_result(MaybeError error) {
  if (error) return *error;
  return Translated{};
}

}  // namespace

TranslateResult openai_chat_to_anthropic_request(TranslationWorkspace& workspace,
                                                 simdjson::padded_string_view body,
                                                 std::string_view target_model,
                                                 std::uint64_t default_max_tokens,
                                                 std::string& out) {
  out.clear();
  return to_result(with_body(workspace, body, [&](object top_level) {
    JsonWriter writer(out);
    return ChatToAnthropic(workspace, writer).write(top_level, target_model, default_max_tokens);
  }));
}

TranslateResult anthropic_to_openai_chat_request(TranslationWorkspace& workspace,
                                                 simdjson::padded_string_view body,
                                                 std::string_view target_model, std::string& out) {
  out.clear();
  return to_result(with_body(workspace, body, [&](object top_level) {
    JsonWriter writer(out);
    return AnthropicToChat(workspace, writer).write(top_level, target_model);
  }));
}

std::optional<ApiError> untranslatable_feature(TranslationWorkspace& workspace, Endpoint endpoint,
                                               simdjson::padded_string_view body) {
  // The placeholders stand for values that are never refused.
  constexpr std::string_view kAnyModel = "model";
  constexpr std::uint64_t kAnyLimit = 1;
  return with_body(workspace, body, [&](object top_level) -> MaybeError {
    DiscardingWriter writer;
    switch (endpoint) {
      case Endpoint::chat_completions:
        return ChatToAnthropic(workspace, writer).write(top_level, kAnyModel, kAnyLimit);
      case Endpoint::messages:
        return AnthropicToChat(workspace, writer).write(top_level, kAnyModel);
      default:
        return refused(
            "only chat completions and messages requests can be translated between OpenAI and "
            "Anthropic",
            {});
    }
  });
}

}  // namespace spendwall::api
