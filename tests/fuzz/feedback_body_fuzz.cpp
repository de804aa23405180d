// The body of POST /v1/feedback.
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "proxy/api/feedback.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  static simdjson::dom::parser parser;
  const simdjson::padded_string body(spendwall::fuzz::as_text(data, size));
  const auto feedback = spendwall::api::parse_feedback(parser, body);
  if (!feedback) {
    require(!feedback.error().message.empty(), "a refusal carries a message");
    return 0;
  }
  require(!feedback->request_id.empty() && feedback->request_id.size() <= 128,
          "request_id is 1-128 bytes");
  require(!feedback->outcome.empty() && feedback->outcome.size() <= 128, "outcome is 1-128 bytes");
  if (feedback->score) require(std::isfinite(*feedback->score), "score is finite");
  if (feedback->note) {
    require(feedback->note->size() <= spendwall::api::kMaxFeedbackNoteBytes, "note is bounded");
  }
  return 0;
}
