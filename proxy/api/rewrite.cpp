#include "proxy/api/rewrite.hpp"

#include <algorithm>
#include <array>

#include "proxy/api/json_writer.hpp"

namespace spendwall::api {
namespace {

constexpr std::string_view kTrue = "true";
constexpr std::string_view kIncludeUsageMember = "\"include_usage\":true";
constexpr std::string_view kStreamOptionsObject = "{\"include_usage\":true}";
constexpr std::string_view kStreamOptionsMember = "\"stream_options\":{\"include_usage\":true}";

// Replaces `length` bytes at `offset` (zero for an insertion) with `text`, or with the
// quoted, escaped new model when `is_model`.
struct Edit {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string_view text{};
  bool is_model = false;
  bool comma_after = false;
};

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whether the object opening at `brace` has no members, so an inserted member must not be
// followed by a comma.
bool object_is_empty(std::string_view json, std::size_t brace) {
  std::size_t pos = brace + 1;
  while (pos < json.size() && is_json_whitespace(json[pos])) ++pos;
  return pos < json.size() && json[pos] == '}';
}

Edit include_usage_edit(std::string_view original, const ParsedRequest& request) {
  if (!request.stream_options_span) {
    return Edit{.offset = request.object_offset + 1,
                .text = kStreamOptionsMember,
                .comma_after = !object_is_empty(original, request.object_offset)};
  }
  const ByteSpan options = *request.stream_options_span;
  if (original[options.offset] != '{') {
    return Edit{.offset = options.offset, .length = options.length, .text = kStreamOptionsObject};
  }
  if (!request.include_usage_span) {
    return Edit{.offset = options.offset + 1,
                .text = kIncludeUsageMember,
                .comma_after = !object_is_empty(original, options.offset)};
  }
  return Edit{.offset = request.include_usage_span->offset,
              .length = request.include_usage_span->length,
              .text = kTrue};
}

}  // namespace

void rewrite_body(std::string_view original, const ParsedRequest& request,
                  std::string_view new_model, bool inject_include_usage, std::string& out) {
  std::array<Edit, 2> edits{};
  std::size_t edit_count = 0;
  edits[edit_count++] = Edit{
      .offset = request.model_span.offset, .length = request.model_span.length, .is_model = true};
  if (inject_include_usage && !request.include_usage_requested) {
    edits[edit_count++] = include_usage_edit(original, request);
  }
  std::sort(edits.begin(), edits.begin() + edit_count,
            [](const Edit& a, const Edit& b) { return a.offset < b.offset; });

  out.clear();
  // Escaping grows a byte to at most six (`\u00XX`); `reserve` keeps any larger capacity.
  out.reserve(original.size() + 2 + 6 * new_model.size() + kStreamOptionsMember.size() + 1);
  std::size_t copied = 0;
  for (std::size_t i = 0; i < edit_count; ++i) {
    const Edit& edit = edits[i];
    out.append(original.substr(copied, edit.offset - copied));
    if (edit.is_model) {
      out += '"';
      json_escape(new_model, out);
      out += '"';
    } else {
      out += edit.text;
    }
    if (edit.comma_after) out += ',';
    copied = edit.offset + edit.length;
  }
  out.append(original.substr(copied));
}

}  // namespace spendwall::api
