#pragma once

#include <simdjson.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "metering/usage.hpp"
#include "proxy/api/json_writer.hpp"
#include "proxy/api/result.hpp"

/// JSON plumbing shared by the translators (translate_request.cpp, translate_response.cpp,
/// translate_stream.cpp): reading DOM values, copying them to a writer, and the mappings both
/// directions of a translation agree on. Not meant for use outside those files.
/// Thread-safety: pure functions; a `DiscardingWriter` is used by one thread.
namespace spendwall::api::translation {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

/// Accepts the same calls as `JsonWriter` and writes nothing. Running a translation with it
/// finds what the translation would refuse, through the very code that translates, without
/// producing the output.
class DiscardingWriter {
 public:
  static constexpr std::size_t kMaxDepth = JsonWriter::kMaxDepth;

  DiscardingWriter& begin_object() { return open(); }
  DiscardingWriter& end_object() { return close(); }
  DiscardingWriter& begin_array() { return open(); }
  DiscardingWriter& end_array() { return close(); }
  DiscardingWriter& key(std::string_view) { return *this; }
  DiscardingWriter& string(std::string_view) { return *this; }
  DiscardingWriter& boolean(bool) { return *this; }
  DiscardingWriter& null() { return *this; }
  template <std::integral Integer>
  DiscardingWriter& integer(Integer) {
    return *this;
  }
  DiscardingWriter& number(double) { return *this; }
  std::size_t depth() const noexcept { return depth_; }

 private:
  DiscardingWriter& open() {
    ++depth_;
    return *this;
  }
  DiscardingWriter& close() {
    --depth_;
    return *this;
  }
  std::size_t depth_ = 0;
};

/// The member `key` of `container`, or nullopt when it is missing or null: the SDKs send
/// `null` for an unset optional field, which both APIs treat as absent.
std::optional<element> member(object container, std::string_view key);

/// The member `key` when it is a string; nullopt when missing, null or of another type.
std::optional<std::string_view> string_member(object container, std::string_view key);

/// Whether every member of `container` is named in `allowed`.
bool has_only_members(object container, std::initializer_list<std::string_view> allowed);

/// Copies `value` into `writer`. False when it nests deeper than the writer allows; the
/// writer is then left mid-document and its output must be discarded.
template <class Writer>
bool copy_json(Writer& writer, element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      object members;
      if (writer.depth() >= Writer::kMaxDepth || value.get(members) != simdjson::SUCCESS) {
        return false;
      }
      writer.begin_object();
      for (const auto& [name, item] : members) {
        writer.key(name);
        if (!copy_json(writer, item)) return false;
      }
      writer.end_object();
      return true;
    }
    case simdjson::dom::element_type::ARRAY: {
      array items;
      if (writer.depth() >= Writer::kMaxDepth || value.get(items) != simdjson::SUCCESS) {
        return false;
      }
      writer.begin_array();
      for (element item : items) {
        if (!copy_json(writer, item)) return false;
      }
      writer.end_array();
      return true;
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t number = 0;
      if (value.get(number) != simdjson::SUCCESS) return false;
      writer.integer(number);
      return true;
    }
    case simdjson::dom::element_type::UINT64: {
      std::uint64_t number = 0;
      if (value.get(number) != simdjson::SUCCESS) return false;
      writer.integer(number);
      return true;
    }
    case simdjson::dom::element_type::DOUBLE: {
      double number = 0;
      if (value.get(number) != simdjson::SUCCESS) return false;
      writer.number(number);
      return true;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view text;
      if (value.get(text) != simdjson::SUCCESS) return false;
      writer.string(text);
      return true;
    }
    case simdjson::dom::element_type::BOOL: {
      bool flag = false;
      if (value.get(flag) != simdjson::SUCCESS) return false;
      writer.boolean(flag);
      return true;
    }
    case simdjson::dom::element_type::NULL_VALUE:
      writer.null();
      return true;
  }
  return false;
}

/// Replaces `out` with `value` as compact JSON text. False when it nests too deeply.
bool render_json(element value, std::string& out);

/// Parses `text`, which needs no padding: the parser copies it into its own padded buffer,
/// reused across calls.
simdjson::simdjson_result<element> parse_text(simdjson::dom::parser& parser, std::string_view text);

/// `text` without the JSON whitespace around it.
std::string_view trim_whitespace(std::string_view text);

/// Writes `{"type":"tool_use","id":…,"name":…,"input":…}`, the Anthropic form of an OpenAI
/// tool call whose `arguments` hold a JSON object as text (empty text standing for `{}`, as
/// some models send it). False when they hold anything else or nest too deeply.
template <class Writer>
bool write_tool_use_block(Writer& writer, simdjson::dom::parser& arguments_parser,
                          std::string_view id, std::string_view name, std::string_view arguments) {
  writer.begin_object().key("type").string("tool_use").key("id").string(id);
  writer.key("name").string(name).key("input");
  arguments = trim_whitespace(arguments);
  if (arguments.empty()) {
    writer.begin_object().end_object();
  } else {
    element input;
    if (parse_text(arguments_parser, arguments).get(input) != simdjson::SUCCESS ||
        !input.is_object() || !copy_json(writer, input)) {
      return false;
    }
  }
  writer.end_object();
  return true;
}

/// Writes `{"id":…,"type":"function","function":{"name":…,"arguments":…}}`, the OpenAI form
/// of an Anthropic tool use whose `input` becomes JSON text, rendered in `scratch`. False
/// when `input` is not an object or nests too deeply.
template <class Writer>
bool write_tool_call_object(Writer& writer, std::string_view id, std::string_view name,
                            element input, std::string& scratch) {
  if (!input.is_object() || !render_json(input, scratch)) return false;
  writer.begin_object().key("id").string(id).key("type").string("function");
  writer.key("function").begin_object().key("name").string(name);
  writer.key("arguments").string(scratch).end_object().end_object();
  return true;
}

/// A `data:<media type>;base64,<data>` URL split into its parts.
struct Base64DataUrl {
  std::string_view media_type;
  std::string_view data;
};

/// nullopt when `url` is not a base64 data URL.
std::optional<Base64DataUrl> parse_base64_data_url(std::string_view url);

/// The image media types the Anthropic Messages API accepts in a base64 source.
bool is_anthropic_image_type(std::string_view media_type);

bool is_http_url(std::string_view url);

/// Reads an Anthropic `usage` object into `into`, overwriting only the kinds it names, so
/// that a streamed `message_delta` updates what `message_start` reported.
void read_anthropic_usage(object usage, metering::TokenUsage& into);

/// Reads an OpenAI chat `usage` object: input excludes the cached tokens, output excludes the
/// reasoning tokens (PRODUCT.md §2 step 9). Missing or malformed counts read as 0.
metering::TokenUsage read_openai_usage(object usage);

/// Writes `usage` as an OpenAI chat `usage` object value: prompt_tokens counts every input
/// kind, prompt_tokens_details.cached_tokens the cache reads, completion_tokens the output
/// and reasoning.
void write_openai_usage(JsonWriter& writer, const metering::TokenUsage& usage);

/// Writes `usage` as an Anthropic `usage` object value: input_tokens is the uncached input,
/// cache reads and writes have their own fields, output_tokens includes reasoning.
void write_anthropic_usage(JsonWriter& writer, const metering::TokenUsage& usage);

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
std::string_view openai_finish_reason(std::string_view anthropic_stop_reason);

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
std::string_view anthropic_stop_reason(std::string_view openai_finish_reason);

/// The Anthropic error type for an OpenAI error answered with HTTP `status`; with status 0
/// (an error inside a stream, which has no status of its own), from the OpenAI `type`.
std::string_view anthropic_error_type(unsigned status, std::string_view openai_type);

/// Writes `{"error":{"message":…,"type":…,"code":null,"param":null}}`.
void write_openai_error(JsonWriter& writer, std::string_view type, std::string_view message);

/// Writes `{"type":"error","error":{"type":…,"message":…}}`.
void write_anthropic_error(JsonWriter& writer, std::string_view type, std::string_view message);

/// A provider answer this layer cannot translate: a server_error-class failure, like any
/// response that is not the JSON it claims to be (PRODUCT.md §2).
inline ApiError bad_upstream(std::string_view message) {
  return ApiError{ErrorKind::upstream_server_error, message, {}};
}

}  // namespace spendwall::api::translation
