#include "metering/stream_usage.hpp"

#include <array>
#include <span>
#include <utility>

#include "metering/estimate.hpp"
#include "metering/json_scan.hpp"
#include "metering/json_text.hpp"

namespace spendwall::metering {
namespace {

namespace ondemand = simdjson::ondemand;

/// Names of the string members whose text is relayed content, wherever they sit in the
/// part of an event that is searched (OpenAI choices: kChoiceTextKeys).
constexpr std::array<std::string_view, 1> kResponsesTextKeys{"delta"};
constexpr std::array<std::string_view, 3> kAnthropicTextKeys{"text", "partial_json", "thinking"};

constexpr std::array<std::string_view, 3> kResponsesTextEvents{
    "response.output_text.delta", "response.refusal.delta",
    "response.function_call_arguments.delta"};
constexpr std::array<std::string_view, 3> kResponsesTerminalEvents{
    "response.completed", "response.incomplete", "response.failed"};

bool contains(std::span<const std::string_view> set, std::string_view item) noexcept {
  for (std::string_view member : set) {
    if (member == item) return true;
  }
  return false;
}

/// The `"type"` string of an event's data, for streams that send no `event:` line.
std::string_view type_member(std::string_view data) noexcept {
  const std::optional<std::string_view> type = find_member(data, "type");
  if (!type || type->size() < 2 || type->front() != '"' || type->back() != '"') return {};
  return type->substr(1, type->size() - 2);
}

}  // namespace

EventDisposition StreamUsageTracker::observe(std::string_view event_name, std::string_view data) {
  switch (wire_) {
    case Endpoint::chat_completions:
    case Endpoint::completions:
      return observe_chunk(data);
    case Endpoint::responses:
      return observe_responses(event_name.empty() ? type_member(data) : event_name, data);
    case Endpoint::messages:
      return observe_messages(event_name.empty() ? type_member(data) : event_name, data);
    default:
      return EventDisposition::forward;
  }
}

MeteredUsage StreamUsageTracker::settle(std::uint64_t request_text_bytes) const noexcept {
  if (has_usage()) return {usage_, UsageSource::reported};
  TokenUsage tokens = estimate_usage(request_text_bytes, content_bytes_);
  if (input_reported_) {
    tokens.input = usage_.input;
    tokens.cached_input = usage_.cached_input;
    tokens.cache_write = usage_.cache_write;
  }
  if (output_reported_) {
    tokens.output = usage_.output;
    tokens.reasoning = usage_.reasoning;
  }
  return {tokens, UsageSource::estimated};
}

EventDisposition StreamUsageTracker::observe_chunk(std::string_view data) {
  if (data == "[DONE]") return EventDisposition::done;
  if (data.empty()) return EventDisposition::forward;  // a comment or keep-alive block

  ondemand::document document;
  ondemand::object chunk;
  if (json_->iterate_copy(data).get(document) || document.get_object().get(chunk)) {
    ++malformed_events_;
    return EventDisposition::forward;
  }
  bool has_choices = false;
  bool has_usage_object = false;
  bool usage_readable = false;
  std::uint64_t text_bytes = 0;
  TokenUsage reported;
  for (auto member : chunk) {
    ondemand::field field;
    std::string_view key;
    ondemand::json_type type;
    if (std::move(member).get(field) || field.unescaped_key().get(key) ||
        field.value().type().get(type)) {
      ++malformed_events_;
      return EventDisposition::forward;
    }
    if (key == "choices" && type == ondemand::json_type::array) {
      ondemand::array choices;
      if (field.value().get_array().get(choices)) {
        ++malformed_events_;
        return EventDisposition::forward;
      }
      for (auto choice_result : choices) {
        ondemand::value choice;
        if (choice_result.get(choice) || !add_text_bytes(choice, kChoiceTextKeys, text_bytes)) {
          ++malformed_events_;
          return EventDisposition::forward;
        }
        has_choices = true;
      }
    } else if (key == "usage" && type == ondemand::json_type::object) {
      ondemand::object usage;
      has_usage_object = true;
      usage_readable =
          !field.value().get_object().get(usage) && read_usage_object(wire_, usage, reported);
    }
  }
  content_bytes_ += text_bytes;
  if (has_usage_object) {
    if (usage_readable) {
      usage_ = reported;
      input_reported_ = output_reported_ = true;
    } else {
      ++malformed_events_;
    }
  }
  return has_usage_object && !has_choices ? EventDisposition::usage_only_chunk
                                          : EventDisposition::forward;
}

EventDisposition StreamUsageTracker::observe_responses(std::string_view type,
                                                       std::string_view data) {
  if (contains(kResponsesTextEvents, type)) {
    ondemand::document document;
    ondemand::object event;
    std::uint64_t text_bytes = 0;
    if (json_->iterate_copy(data).get(document) || document.get_object().get(event) ||
        !add_text_bytes(event, kResponsesTextKeys, text_bytes)) {
      ++malformed_events_;
    } else {
      content_bytes_ += text_bytes;
    }
    return EventDisposition::forward;
  }
  if (!contains(kResponsesTerminalEvents, type)) return EventDisposition::forward;

  // The terminal event repeats the whole response: find its usage without parsing the rest.
  const std::optional<std::string_view> response = find_member(data, "response");
  const std::optional<std::string_view> usage =
      response ? find_member(*response, "usage") : std::nullopt;
  if (!response) {
    ++malformed_events_;
  } else if (usage && *usage != "null") {
    if (std::optional<TokenUsage> reported = json_->from_usage_json(wire_, *usage)) {
      usage_ = *reported;
      input_reported_ = output_reported_ = true;
    } else {
      ++malformed_events_;
    }
  }
  return EventDisposition::done;
}

EventDisposition StreamUsageTracker::observe_messages(std::string_view type,
                                                      std::string_view data) {
  if (type == "message_stop") return EventDisposition::done;
  const bool is_delta = type == "content_block_delta";
  const bool is_start = type == "message_start";
  if (!is_delta && !is_start && type != "message_delta") return EventDisposition::forward;

  ondemand::document document;
  ondemand::object event;
  if (json_->iterate_copy(data).get(document) || document.get_object().get(event)) {
    ++malformed_events_;
    return EventDisposition::forward;
  }
  if (is_delta) {
    std::uint64_t text_bytes = 0;
    if (add_text_bytes(event, kAnthropicTextKeys, text_bytes)) {
      content_bytes_ += text_bytes;
    } else {
      ++malformed_events_;
    }
    return EventDisposition::forward;
  }
  // message_start: `message.usage`; message_delta: `usage`, cumulative.
  ondemand::object message;
  ondemand::object usage;
  const bool found = is_start ? !event.find_field_unordered("message").get_object().get(message) &&
                                    !message.find_field_unordered("usage").get_object().get(usage)
                              : !event.find_field_unordered("usage").get_object().get(usage);
  if (found && read_usage_object(wire_, usage, usage_)) {
    (is_start ? input_reported_ : output_reported_) = true;
  } else {
    ++malformed_events_;
  }
  return EventDisposition::forward;
}

}  // namespace spendwall::metering
