#include "proxy/api/feedback.hpp"

#include <cmath>

namespace spendwall::api {
namespace {

constexpr std::size_t kMaxIdentifierBytes = 128;

ApiError invalid(std::string_view message, std::string_view param) {
  return ApiError{ErrorKind::invalid_request, message, param};
}

}  // namespace

Result<FeedbackRequest> parse_feedback(simdjson::dom::parser& parser,
                                       simdjson::padded_string_view body) {
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    return invalid("request body is not valid JSON", "");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return invalid("request body must be a JSON object", "");
  }
  FeedbackRequest feedback;
  std::string_view text;
  if (object["request_id"].get_string().get(text) != simdjson::SUCCESS || text.empty() ||
      text.size() > kMaxIdentifierBytes) {
    return invalid("request_id must be the x-spendwall-request-id of an earlier request",
                   "request_id");
  }
  feedback.request_id = text;
  if (object["outcome"].get_string().get(text) != simdjson::SUCCESS || text.empty() ||
      text.size() > kMaxIdentifierBytes) {
    return invalid("outcome must be a string such as \"accepted\"", "outcome");
  }
  feedback.outcome = text;

  simdjson::dom::element value;
  if (object["score"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    double score = 0;
    if (value.get_double().get(score) != simdjson::SUCCESS || !std::isfinite(score)) {
      return invalid("score must be a number", "score");
    }
    feedback.score = score;
  }
  if (object["note"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (value.get_string().get(text) != simdjson::SUCCESS || text.size() > kMaxFeedbackNoteBytes) {
      return invalid("note must be a string of at most 4096 bytes", "note");
    }
    feedback.note = std::string(text);
  }
  if (object["replace"].get(value) == simdjson::SUCCESS && !value.is_null()) {
    if (value.get_bool().get(feedback.replace) != simdjson::SUCCESS) {
      return invalid("replace must be true or false", "replace");
    }
  }
  return feedback;
}

}  // namespace spendwall::api
