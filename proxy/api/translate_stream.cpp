#include "proxy/api/translate_stream.hpp"

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

// A stream's content blocks and tool calls are tracked by index; a provider claiming more is
// broken, and must not make the translator grow without bound.
constexpr std::size_t kMaxStreamBlocks = 1024;

constexpr std::string_view kUnreadableEvent = "the provider's stream event is not a JSON object";
constexpr std::string_view kBadBlockIndex =
    "the provider's stream refers to a content block out of order";
constexpr std::string_view kBadToolCall = "the provider's stream has a malformed tool call";

// The fields every OpenAI chunk starts with.
struct ChunkIdentity {
  std::string_view id;
  std::string_view model;
  std::int64_t created;
};

void begin_chunk(const ChunkIdentity& identity, JsonWriter& writer) {
  writer.begin_object().key("id").string(identity.id);
  writer.key("object").string("chat.completion.chunk").key("created").integer(identity.created);
  writer.key("model").string(identity.model);
}

// Appends `data: {chunk}` with one choice whose delta `fill_delta(writer)` writes.
template <class FillDelta>
void write_chunk(const ChunkIdentity& identity, std::string_view finish_reason, std::string& out,
                 FillDelta&& fill_delta) {
  out += "data: ";
  JsonWriter writer(out);
  begin_chunk(identity, writer);
  writer.key("choices").begin_array().begin_object().key("index").integer(0);
  writer.key("delta").begin_object();
  fill_delta(writer);
  writer.end_object().key("logprobs").null().key("finish_reason");
  if (finish_reason.empty()) {
    writer.null();
  } else {
    writer.string(finish_reason);
  }
  writer.end_object().end_array().end_object();
  out += "\n\n";
}

void write_content_chunk(const ChunkIdentity& identity, std::string_view text, std::string& out) {
  write_chunk(identity, {}, out, [&](JsonWriter& w) { w.key("content").string(text); });
}

// Appends `event: <type>` and `data: {"type":"<type>"` left open for the event's fields.
JsonWriter begin_event(std::string_view type, std::string& out) {
  out.append("event: ").append(type).append("\ndata: ");
  JsonWriter writer(out);
  writer.begin_object().key("type").string(type);
  return writer;
}

void end_event(JsonWriter& writer, std::string& out) {
  writer.end_object();
  out += "\n\n";
}

std::optional<std::uint32_t> block_index(object event) {
  std::uint64_t index = 0;
  if (event["index"].get(index) != simdjson::SUCCESS || index >= kMaxStreamBlocks) {
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(index);
}

}  // namespace

void StreamTranslator::start(metering::ApiFormat upstream, std::string_view client_model,
                             std::int64_t created_unix_seconds, bool include_usage) {
  upstream_ = upstream;
  model_.assign(client_model);
  id_.clear();
  created_ = created_unix_seconds;
  include_usage_ = include_usage;
  started_ = false;
  progress_ = StreamProgress::streaming;
  usage_ = {};
  stop_reason_ = {};
  blocks_.clear();
  tool_count_ = 0;
  tool_blocks_.clear();
  open_block_ = BlockKind::none;
  open_index_ = 0;
  next_index_ = 0;
  refusal_seen_ = false;
}

Result<StreamProgress> StreamTranslator::on_event(std::string_view data, std::string& out) {
  if (progress_ != StreamProgress::streaming || translation::trim_whitespace(data).empty()) {
    return progress_;
  }
  Result<StreamProgress> result = upstream_ == metering::ApiFormat::anthropic
                                      ? from_anthropic(data, out)
                                      : from_openai(data, out);
  workspace_.release_oversized();
  return result;
}

StreamProgress StreamTranslator::finish(std::string& out) {
  if (progress_ == StreamProgress::streaming && upstream_ == metering::ApiFormat::openai &&
      !stop_reason_.empty()) {
    end_anthropic_stream(out);
  }
  return progress_;
}

// ---- Anthropic upstream, OpenAI client ---------------------------------------------------

void StreamTranslator::begin_openai_stream(std::string& out) {
  if (started_) return;
  started_ = true;
  write_chunk({id_, model_, created_}, {}, out,
              [](JsonWriter& w) { w.key("role").string("assistant").key("content").string(""); });
}

Result<StreamProgress> StreamTranslator::from_anthropic(std::string_view data, std::string& out) {
  object event;
  if (translation::parse_text(workspace_.document_parser(), data).get(event) != simdjson::SUCCESS) {
    return bad_upstream(kUnreadableEvent);
  }
  const std::string_view type = string_member(event, "type").value_or("");
  // Read after message_start has set the id.
  const auto identity = [this] { return ChunkIdentity{id_, model_, created_}; };

  if (type == "message_start") {
    object message;
    if (event["message"].get(message) == simdjson::SUCCESS) {
      id_.assign(string_member(message, "id").value_or(""));
      object usage;
      if (message["usage"].get(usage) == simdjson::SUCCESS) {
        translation::read_anthropic_usage(usage, usage_);
      }
    }
    begin_openai_stream(out);
  } else if (type == "content_block_start") {
    object block;
    const std::optional<std::uint32_t> index = block_index(event);
    if (!index || *index != blocks_.size() ||
        event["content_block"].get(block) != simdjson::SUCCESS) {
      return bad_upstream(kBadBlockIndex);
    }
    begin_openai_stream(out);
    const std::string_view block_type = string_member(block, "type").value_or("");
    if (block_type == "text") {
      blocks_.push_back({BlockKind::text, 0});
      const std::string_view text = string_member(block, "text").value_or("");
      if (!text.empty()) write_content_chunk(identity(), text, out);
    } else if (block_type == "tool_use") {
      const std::optional<std::string_view> id = string_member(block, "id");
      const std::optional<std::string_view> name = string_member(block, "name");
      if (!id || !name) return bad_upstream(kBadToolCall);
      const std::uint32_t tool_index = tool_count_++;
      blocks_.push_back({BlockKind::tool, tool_index});
      write_chunk(identity(), {}, out, [&](JsonWriter& w) {
        w.key("tool_calls").begin_array().begin_object().key("index").integer(tool_index);
        w.key("id").string(*id).key("type").string("function").key("function").begin_object();
        w.key("name").string(*name).key("arguments").string("").end_object();
        w.end_object().end_array();
      });
    } else {
      // Thinking only comes when asked for, which a translated request never does.
      blocks_.push_back({BlockKind::ignored, 0});
    }
  } else if (type == "content_block_delta") {
    object delta;
    const std::optional<std::uint32_t> index = block_index(event);
    if (!index || *index >= blocks_.size() || event["delta"].get(delta) != simdjson::SUCCESS) {
      return bad_upstream(kBadBlockIndex);
    }
    const Block block = blocks_[*index];
    const std::string_view delta_type = string_member(delta, "type").value_or("");
    if (block.kind == BlockKind::text && delta_type == "text_delta") {
      const std::string_view text = string_member(delta, "text").value_or("");
      if (!text.empty()) write_content_chunk(identity(), text, out);
    } else if (block.kind == BlockKind::tool && delta_type == "input_json_delta") {
      const std::string_view json = string_member(delta, "partial_json").value_or("");
      if (!json.empty()) {
        write_chunk(identity(), {}, out, [&](JsonWriter& w) {
          w.key("tool_calls").begin_array().begin_object().key("index").integer(block.tool_index);
          w.key("function").begin_object().key("arguments").string(json).end_object();
          w.end_object().end_array();
        });
      }
    }
  } else if (type == "message_delta") {
    object delta;
    object usage;
    if (event["delta"].get(delta) == simdjson::SUCCESS) {
      if (const std::optional<std::string_view> reason = string_member(delta, "stop_reason")) {
        stop_reason_ = translation::openai_finish_reason(*reason);
      }
    }
    if (event["usage"].get(usage) == simdjson::SUCCESS) {
      translation::read_anthropic_usage(usage, usage_);
    }
  } else if (type == "message_stop") {
    begin_openai_stream(out);
    write_chunk(identity(), stop_reason_.empty() ? "stop" : stop_reason_, out, [](JsonWriter&) {});
    if (include_usage_) {
      out += "data: ";
      JsonWriter w(out);
      begin_chunk(identity(), w);
      w.key("choices").begin_array().end_array().key("usage");
      translation::write_openai_usage(w, usage_);
      w.end_object();
      out += "\n\n";
    }
    out += "data: [DONE]\n\n";
    progress_ = StreamProgress::completed;
  } else if (type == "ping") {
    out += ": ping\n\n";
  } else if (type == "error") {
    object error;
    std::string_view error_type = "api_error";
    std::string_view message = "the provider's stream failed";
    if (event["error"].get(error) == simdjson::SUCCESS) {
      error_type = string_member(error, "type").value_or(error_type);
      message = string_member(error, "message").value_or(message);
    }
    out += "data: ";
    JsonWriter w(out);
    translation::write_openai_error(w, error_type, message);
    out += "\n\n";
    progress_ = StreamProgress::upstream_error;
  }
  // content_block_stop needs no chunk; unknown event types are new and informational.
  return progress_;
}

// ---- OpenAI upstream, Anthropic client ---------------------------------------------------

void StreamTranslator::begin_anthropic_stream(std::string_view id, std::string& out) {
  if (started_) return;
  started_ = true;
  id_.assign(id);
  JsonWriter w = begin_event("message_start", out);
  w.key("message").begin_object().key("id").string(id_).key("type").string("message");
  w.key("role").string("assistant").key("model").string(model_);
  w.key("content").begin_array().end_array();
  w.key("stop_reason").null().key("stop_sequence").null().key("usage");
  translation::write_anthropic_usage(w, usage_);
  w.end_object();
  end_event(w, out);
}

void StreamTranslator::open_anthropic_block(BlockKind kind, std::string_view tool_id,
                                            std::string_view tool_name, std::string& out) {
  close_anthropic_block(out);
  open_block_ = kind;
  open_index_ = next_index_++;
  JsonWriter w = begin_event("content_block_start", out);
  w.key("index").integer(open_index_).key("content_block").begin_object();
  if (kind == BlockKind::text) {
    w.key("type").string("text").key("text").string("");
  } else {
    w.key("type").string("tool_use").key("id").string(tool_id).key("name").string(tool_name);
    w.key("input").begin_object().end_object();
  }
  w.end_object();
  end_event(w, out);
}

void StreamTranslator::close_anthropic_block(std::string& out) {
  if (open_block_ == BlockKind::none) return;
  JsonWriter w = begin_event("content_block_stop", out);
  w.key("index").integer(open_index_);
  end_event(w, out);
  open_block_ = BlockKind::none;
}

void StreamTranslator::end_anthropic_stream(std::string& out) {
  begin_anthropic_stream({}, out);
  close_anthropic_block(out);
  JsonWriter delta = begin_event("message_delta", out);
  delta.key("delta").begin_object().key("stop_reason");
  delta.string(stop_reason_.empty() ? "end_turn" : stop_reason_);
  delta.key("stop_sequence").null().end_object().key("usage");
  translation::write_anthropic_usage(delta, usage_);
  end_event(delta, out);
  JsonWriter stop = begin_event("message_stop", out);
  end_event(stop, out);
  progress_ = StreamProgress::completed;
}

Result<StreamProgress> StreamTranslator::from_openai(std::string_view data, std::string& out) {
  if (translation::trim_whitespace(data) == "[DONE]") {
    end_anthropic_stream(out);
    return progress_;
  }
  object chunk;
  if (translation::parse_text(workspace_.document_parser(), data).get(chunk) != simdjson::SUCCESS) {
    return bad_upstream(kUnreadableEvent);
  }
  object error;
  if (chunk["error"].get(error) == simdjson::SUCCESS) {
    const std::string_view type = string_member(error, "type").value_or("");
    out += "event: error\ndata: ";
    JsonWriter w(out);
    translation::write_anthropic_error(
        w, translation::anthropic_error_type(0, type),
        string_member(error, "message").value_or("the provider's stream failed"));
    out += "\n\n";
    progress_ = StreamProgress::upstream_error;
    return progress_;
  }
  object usage;
  if (chunk["usage"].get(usage) == simdjson::SUCCESS) {
    usage_ = translation::read_openai_usage(usage);
  }
  begin_anthropic_stream(string_member(chunk, "id").value_or(""), out);

  array choices;
  object choice;
  object delta;
  if (chunk["choices"].get(choices) != simdjson::SUCCESS || choices.size() == 0 ||
      choices.at(0).get(choice) != simdjson::SUCCESS) {
    return progress_;  // the usage chunk, or a provider's annotation
  }
  if (choice["delta"].get(delta) == simdjson::SUCCESS) {
    // A refusal streams as text, and makes the stop reason a refusal.
    for (std::string_view field : {"content", "refusal"}) {
      const std::string_view text = string_member(delta, field).value_or("");
      if (text.empty()) continue;
      refusal_seen_ = refusal_seen_ || field == "refusal";
      if (open_block_ != BlockKind::text) open_anthropic_block(BlockKind::text, {}, {}, out);
      JsonWriter w = begin_event("content_block_delta", out);
      w.key("index").integer(open_index_).key("delta").begin_object();
      w.key("type").string("text_delta").key("text").string(text).end_object();
      end_event(w, out);
    }
    array calls;
    if (delta["tool_calls"].get(calls) == simdjson::SUCCESS) {
      for (element item : calls) {
        object call;
        object function;
        std::uint64_t index = 0;
        if (item.get(call) != simdjson::SUCCESS || call["index"].get(index) != simdjson::SUCCESS ||
            index > tool_blocks_.size() || index >= kMaxStreamBlocks) {
          return bad_upstream(kBadToolCall);
        }
        const bool has_function = call["function"].get(function) == simdjson::SUCCESS;
        if (index == tool_blocks_.size()) {
          const std::optional<std::string_view> id = string_member(call, "id");
          const std::optional<std::string_view> name =
              has_function ? string_member(function, "name") : std::nullopt;
          if (!id || !name) return bad_upstream(kBadToolCall);
          open_anthropic_block(BlockKind::tool, *id, *name, out);
          tool_blocks_.push_back(open_index_);
        } else if (open_block_ != BlockKind::tool || tool_blocks_[index] != open_index_) {
          // Anthropic blocks stream one after another; OpenAI does not interleave calls.
          return bad_upstream(kBadToolCall);
        }
        const std::string_view arguments =
            has_function ? string_member(function, "arguments").value_or("") : "";
        if (arguments.empty()) continue;
        JsonWriter w = begin_event("content_block_delta", out);
        w.key("index").integer(open_index_).key("delta").begin_object();
        w.key("type").string("input_json_delta").key("partial_json").string(arguments);
        w.end_object();
        end_event(w, out);
      }
    }
  }
  if (const std::optional<std::string_view> reason = string_member(choice, "finish_reason")) {
    close_anthropic_block(out);
    stop_reason_ = refusal_seen_ && *reason == "stop" ? "refusal"
                                                      : translation::anthropic_stop_reason(*reason);
  }
  return progress_;
}

}  // namespace spendwall::api
