#include "proxy/api/translate_request_rules.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"

namespace spendwall::api::translation {
namespace {

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
    "a `tool_use` block needs an `id`, a `name` and an `input` object nested less than 64 "
    "levels deep";
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
        copy_json(writer_.key(name), *value);
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
    if (!id || !name || !input ||
        !write_tool_call_object(writer_, *id, *name, *input, workspace_.text())) {
      return refused(kMessagesBadToolUse, "messages");
    }
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
      if (!copy_json(writer_.key("parameters"), *schema)) {
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

}  // namespace

template <class Writer>
MaybeError write_messages_as_chat(TranslationWorkspace& workspace, object body,
                                  std::string_view target_model, Writer& writer) {
  return AnthropicToChat<Writer>(workspace, writer).write(body, target_model);
}

template MaybeError write_messages_as_chat(TranslationWorkspace&, object, std::string_view,
                                           JsonWriter&);
template MaybeError write_messages_as_chat(TranslationWorkspace&, object, std::string_view,
                                           DiscardingWriter&);

}  // namespace spendwall::api::translation
