#include "proxy/api/request.hpp"

#include <algorithm>

#include "metering/json_scan.hpp"

namespace spendwall::api {
namespace {

using metering::Endpoint;
using simdjson::dom::element;
using simdjson::dom::element_type;

// The top-level fields this layer reads. Each may appear at most once: simdjson finds the
// first of duplicate keys while providers commonly take the last, so a repeated `model`
// would be routed and metered as one model and served as another.
enum class Field : std::uint8_t {
  model,
  stream,
  stream_options,
  max_tokens,
  max_completion_tokens,
  max_output_tokens,
  messages,
  system,
  prompt,
  suffix,
  input,
  instructions,
  tools,
  functions,
};
constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::functions) + 1;

struct FieldInfo {
  std::string_view name;
  std::string_view duplicate_message;
  std::string_view invalid_message;  ///< empty for fields whose value is not checked
};

// Indexed by Field. Messages are static so that no client input is ever echoed.
constexpr std::array<FieldInfo, kFieldCount> kFields{{
    {"model", "`model` appears more than once in the body", "`model` must be a string"},
    {"stream", "`stream` appears more than once in the body", "`stream` must be a boolean"},
    {"stream_options", "`stream_options` appears more than once in the body",
     "`stream_options` must be an object"},
    {"max_tokens", "`max_tokens` appears more than once in the body",
     "`max_tokens` must be an integer between 1 and 10000000"},
    {"max_completion_tokens", "`max_completion_tokens` appears more than once in the body",
     "`max_completion_tokens` must be an integer between 1 and 10000000"},
    {"max_output_tokens", "`max_output_tokens` appears more than once in the body",
     "`max_output_tokens` must be an integer between 1 and 10000000"},
    {"messages", "`messages` appears more than once in the body", {}},
    {"system", "`system` appears more than once in the body", {}},
    {"prompt", "`prompt` appears more than once in the body", {}},
    {"suffix", "`suffix` appears more than once in the body", {}},
    {"input", "`input` appears more than once in the body", {}},
    {"instructions", "`instructions` appears more than once in the body", {}},
    {"tools", "`tools` appears more than once in the body", {}},
    {"functions", "`functions` appears more than once in the body", {}},
}};

constexpr const FieldInfo& info(Field field) { return kFields[static_cast<std::size_t>(field)]; }

constexpr std::string_view kIncludeUsageParam = "stream_options.include_usage";

ApiError invalid(std::string_view message, std::string_view param = {}) {
  return ApiError{ErrorKind::invalid_request, message, param};
}

ApiError invalid_field(Field field) {
  return invalid(info(field).invalid_message, info(field).name);
}

ApiError body_error(simdjson::error_code code) {
  switch (code) {
    case simdjson::UTF8_ERROR:
      return invalid("the request body is not valid UTF-8");
    case simdjson::DEPTH_ERROR:
      return invalid("the request body nests arrays and objects deeper than 128 levels");
    case simdjson::EMPTY:
      return invalid("the request body is empty");
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE:
      return invalid("the request body holds a malformed or out-of-range number");
    case simdjson::UNESCAPED_CHARS:
      return invalid("a string in the request body holds an unescaped control character");
    case simdjson::STRING_ERROR:
    case simdjson::UNCLOSED_STRING:
      return invalid("a string in the request body is malformed or unterminated");
    case simdjson::CAPACITY:
      return ApiError{ErrorKind::request_too_large, "the request body is too large to parse", {}};
    case simdjson::MEMALLOC:
      return ApiError{ErrorKind::internal, "out of memory while parsing the request body", {}};
    default:
      return invalid("the request body is not valid JSON");
  }
}

std::optional<Field> field_named(std::string_view key) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (kFields[i].name == key) return static_cast<Field>(i);
  }
  return std::nullopt;
}

// The values of the fields above in one body, found in a single pass over its top level.
class TopLevelFields {
 public:
  /// Records the member if it is one of ours; an error if it was seen before.
  std::optional<ApiError> add(std::string_view key, element value) {
    const std::optional<Field> field = field_named(key);
    if (!field) return std::nullopt;
    const auto index = static_cast<std::size_t>(*field);
    if (present_[index]) return invalid(kFields[index].duplicate_message, kFields[index].name);
    present_[index] = true;
    values_[index] = value;
    return std::nullopt;
  }

  /// The value, or nullptr when absent or null: the SDKs send `null` for an unset optional
  /// field, which the providers treat as absent.
  const element* find(Field field) const {
    const auto index = static_cast<std::size_t>(field);
    if (!present_[index] || values_[index].is_null()) return nullptr;
    return &values_[index];
  }

  bool present(Field field) const { return present_[static_cast<std::size_t>(field)]; }

 private:
  std::array<element, kFieldCount> values_{};
  std::array<bool, kFieldCount> present_{};
};

// Which output limit an endpoint's provider API honours. A limit the provider ignores must
// not shrink the budget reservation.
bool honours_output_limit(Endpoint endpoint, Field field) {
  switch (endpoint) {
    case Endpoint::chat_completions:
      return field == Field::max_tokens || field == Field::max_completion_tokens;
    case Endpoint::responses:
      return field == Field::max_output_tokens;
    case Endpoint::completions:
    case Endpoint::messages:
      return field == Field::max_tokens;
    default:
      return false;
  }
}

// Which fields the provider bills as input on an endpoint.
bool is_input_field(Endpoint endpoint, Field field) {
  switch (endpoint) {
    case Endpoint::chat_completions:
      return field == Field::messages || field == Field::tools || field == Field::functions;
    case Endpoint::responses:
      return field == Field::input || field == Field::instructions || field == Field::tools;
    case Endpoint::embeddings:
      return field == Field::input;
    case Endpoint::completions:
      return field == Field::prompt || field == Field::suffix;
    case Endpoint::messages:
      return field == Field::messages || field == Field::system || field == Field::tools;
    default:
      return false;
  }
}

// The field whose elements are conversation turns, each with its own framing tokens.
std::optional<Field> message_list_field(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::chat_completions:
    case Endpoint::messages:
      return Field::messages;
    case Endpoint::responses:
      return Field::input;
    default:
      return std::nullopt;
  }
}

bool has_control_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::optional<ApiError> read_model(const TopLevelFields& fields, ModelName& model) {
  if (!fields.present(Field::model)) return invalid("`model` is required", "model");
  const element* value = fields.find(Field::model);
  std::string_view name;
  if (value == nullptr || value->get(name) != simdjson::SUCCESS) return invalid_field(Field::model);
  if (name.empty()) return invalid("`model` must not be empty", "model");
  if (has_control_character(name)) {
    return invalid("`model` must not contain control characters", "model");
  }
  if (!model.assign(name)) return invalid("`model` is longer than 256 bytes", "model");
  return std::nullopt;
}

std::optional<ApiError> read_stream(const TopLevelFields& fields, bool& stream) {
  const element* value = fields.find(Field::stream);
  if (value != nullptr && value->get(stream) != simdjson::SUCCESS) {
    return invalid_field(Field::stream);
  }
  return std::nullopt;
}

// `present` tells whether `include_usage` is there at all, `null` included, so that its
// span can be located for a rewrite.
std::optional<ApiError> read_include_usage(const TopLevelFields& fields, bool& include_usage,
                                           bool& present) {
  const element* value = fields.find(Field::stream_options);
  if (value == nullptr) return std::nullopt;
  simdjson::dom::object options;
  if (value->get(options) != simdjson::SUCCESS) return invalid_field(Field::stream_options);
  for (const auto& [key, option] : options) {
    if (key != "include_usage") continue;
    if (present) {
      return invalid("`stream_options.include_usage` appears more than once", kIncludeUsageParam);
    }
    present = true;
    if (!option.is_null() && option.get(include_usage) != simdjson::SUCCESS) {
      return invalid("`stream_options.include_usage` must be a boolean", kIncludeUsageParam);
    }
  }
  return std::nullopt;
}

// Every present limit is checked, on any endpoint: the 400 rule is about the field, not
// about whether this endpoint's provider reads it.
std::optional<ApiError> read_output_limit(Endpoint endpoint, const TopLevelFields& fields,
                                          std::optional<std::uint64_t>& limit) {
  for (Field field : {Field::max_tokens, Field::max_completion_tokens, Field::max_output_tokens}) {
    const element* value = fields.find(field);
    if (value == nullptr) continue;
    std::int64_t tokens = 0;
    if (value->type() != element_type::INT64 || value->get(tokens) != simdjson::SUCCESS ||
        tokens < 1 || static_cast<std::uint64_t>(tokens) > RequestParser::kMaxOutputTokens) {
      return invalid_field(field);
    }
    if (honours_output_limit(endpoint, field)) {
      limit = std::max(limit.value_or(0), static_cast<std::uint64_t>(tokens));
    }
  }
  // The Anthropic Messages API requires `max_tokens`; refusing here gives the client the
  // same answer without an upstream round trip, and gives admission a firm bound.
  if (endpoint == Endpoint::messages && fields.find(Field::max_tokens) == nullptr) {
    return invalid("`max_tokens` is required", "max_tokens");
  }
  return std::nullopt;
}

enum class PartKind { text, media, document };

// Images and audio cost tokens by their dimensions or duration, not by their size in the
// body, so admission prices them at `default_image_tokens` each and their bytes are
// skipped. Files and documents are priced that way too (one may be a bare id), and their
// bytes are counted as well, since one may carry plain text: an upper bound must not fall
// short of either.
PartKind part_kind(simdjson::dom::object part) {
  std::string_view type;
  if (part["type"].get(type) != simdjson::SUCCESS) return PartKind::text;
  constexpr std::array<std::string_view, 5> kMedia{"image", "image_url", "input_image", "audio",
                                                   "input_audio"};
  constexpr std::array<std::string_view, 3> kDocuments{"file", "input_file", "document"};
  if (std::find(kMedia.begin(), kMedia.end(), type) != kMedia.end()) return PartKind::media;
  if (std::find(kDocuments.begin(), kDocuments.end(), type) != kDocuments.end()) {
    return PartKind::document;
  }
  return PartKind::text;
}

// Recursion is bounded by the parser's depth limit.
void count_input(element value, InputStats& stats) {
  switch (value.type()) {
    case element_type::STRING: {
      std::string_view text;
      if (value.get(text) == simdjson::SUCCESS) stats.text_bytes += text.size();
      return;
    }
    case element_type::ARRAY: {
      simdjson::dom::array items;
      if (value.get(items) != simdjson::SUCCESS) return;
      for (element item : items) count_input(item, stats);
      return;
    }
    case element_type::OBJECT: {
      simdjson::dom::object members;
      if (value.get(members) != simdjson::SUCCESS) return;
      const PartKind kind = part_kind(members);
      if (kind != PartKind::text) ++stats.media_parts;
      if (kind == PartKind::media) return;
      for (const auto& [key, member] : members) {
        stats.text_bytes += key.size();
        count_input(member, stats);
      }
      return;
    }
    default:
      ++stats.text_bytes;
      return;
  }
}

InputStats measure_input(Endpoint endpoint, const TopLevelFields& fields) {
  InputStats stats;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    const auto field = static_cast<Field>(i);
    const element* value = fields.find(field);
    if (value != nullptr && is_input_field(endpoint, field)) count_input(*value, stats);
  }
  if (const std::optional<Field> list = message_list_field(endpoint)) {
    if (const element* value = fields.find(*list)) {
      simdjson::dom::array turns;
      if (value->get(turns) == simdjson::SUCCESS) {
        for ([[maybe_unused]] element turn : turns) ++stats.message_count;
      } else if (value->is_string()) {
        ++stats.message_count;
      }
    }
  }
  return stats;
}

ByteSpan span_within(std::string_view text, std::string_view part) {
  return ByteSpan{static_cast<std::size_t>(part.data() - text.data()), part.size()};
}

// Locates the raw values the rewrite edits. The scanner compares names byte for byte, so a
// name spelled with escapes (`"mod\u0065l"`), which simdjson did read as `model`, is not
// found: such a body is refused rather than rewritten around the field it names. No
// mainstream JSON encoder escapes ASCII names.
std::optional<ApiError> locate_spans(std::string_view body, bool has_stream_options,
                                     bool has_include_usage, ParsedRequest& request) {
  request.object_offset = body.find('{');
  const std::optional<std::string_view> model = metering::find_member(body, "model");
  if (!model) return invalid("`model` must be named without escapes", "model");
  request.model_span = span_within(body, *model);
  if (!has_stream_options) return std::nullopt;

  const std::optional<std::string_view> options = metering::find_member(body, "stream_options");
  if (!options) {
    return invalid("`stream_options` must be named without escapes", "stream_options");
  }
  request.stream_options_span = span_within(body, *options);
  if (!has_include_usage) return std::nullopt;
  const std::optional<std::string_view> include_usage =
      metering::find_member(*options, "include_usage");
  if (!include_usage) {
    return invalid("`stream_options.include_usage` must be named without escapes",
                   kIncludeUsageParam);
  }
  request.include_usage_span = span_within(body, *include_usage);
  return std::nullopt;
}

}  // namespace

bool ModelName::assign(std::string_view name) noexcept {
  if (name.size() > kMaxBytes) return false;
  std::copy(name.begin(), name.end(), bytes_.begin());
  size_ = name.size();
  return true;
}

RequestParser::RequestParser(std::size_t initial_capacity) noexcept {
  // A failure here is retried, and reported, by the first parse.
  ensure_depth_limit(initial_capacity);
}

bool RequestParser::ensure_depth_limit(std::size_t capacity) noexcept {
  // The parser keeps its depth limit when it grows for a larger body; it only needs setting
  // once, or again after an allocation failure left it unset.
  if (parser_.max_depth() == kMaxDepth) return true;
  return parser_.allocate(std::max(capacity, parser_.capacity()), kMaxDepth) == simdjson::SUCCESS;
}

ParseOutcome RequestParser::parse(Endpoint endpoint, simdjson::padded_string_view body) noexcept {
  if (!metering::is_metered(endpoint)) {
    return ApiError{ErrorKind::internal, "no request body rules for this endpoint", {}};
  }
  if (!ensure_depth_limit(body.size())) return body_error(simdjson::MEMALLOC);

  element root;
  if (const auto code = parser_.parse(body).get(root)) return body_error(code);
  simdjson::dom::object top_level;
  if (root.get(top_level) != simdjson::SUCCESS) {
    return invalid("the request body must be a JSON object");
  }
  TopLevelFields fields;
  for (const auto& [key, value] : top_level) {
    if (auto error = fields.add(key, value)) return *error;
  }

  ParsedRequest request;
  request.endpoint = endpoint;
  if (auto error = read_model(fields, request.model)) return *error;
  if (auto error = read_stream(fields, request.stream)) return *error;
  bool has_include_usage = false;
  if (auto error = read_include_usage(fields, request.include_usage_requested, has_include_usage)) {
    return *error;
  }
  if (auto error = read_output_limit(endpoint, fields, request.max_output_tokens)) return *error;
  request.input = measure_input(endpoint, fields);
  if (auto error = locate_spans({body.data(), body.size()}, fields.present(Field::stream_options),
                                has_include_usage, request)) {
    return *error;
  }
  return request;
}

}  // namespace spendwall::api
