#include "proxy/api/translate_request.hpp"

#include <algorithm>

#include "proxy/api/json_writer.hpp"
#include "proxy/api/translate_json.hpp"
#include "proxy/api/translate_request_rules.hpp"

namespace spendwall::api {
namespace translation {

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

}  // namespace translation

namespace {

using metering::Endpoint;
using translation::DiscardingWriter;
using translation::MaybeError;
using translation::object;
using translation::refused;

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
    return translation::write_chat_as_anthropic(workspace, top_level, target_model,
                                                default_max_tokens, writer);
  }));
}

TranslateResult anthropic_to_openai_chat_request(TranslationWorkspace& workspace,
                                                 simdjson::padded_string_view body,
                                                 std::string_view target_model, std::string& out) {
  out.clear();
  return to_result(with_body(workspace, body, [&](object top_level) {
    JsonWriter writer(out);
    return translation::write_messages_as_chat(workspace, top_level, target_model, writer);
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
        return translation::write_chat_as_anthropic(workspace, top_level, kAnyModel, kAnyLimit,
                                                    writer);
      case Endpoint::messages:
        return translation::write_messages_as_chat(workspace, top_level, kAnyModel, writer);
      default:
        return refused(
            "only chat completions and messages requests can be translated between OpenAI and "
            "Anthropic",
            {});
    }
  });
}

}  // namespace spendwall::api
