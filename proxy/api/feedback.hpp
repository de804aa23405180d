#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "proxy/api/result.hpp"

/// The body of `POST /v1/feedback` (PRODUCT.md §6):
/// `{"request_id":"…","outcome":"accepted","score":0.9,"note":"…","replace":false}`.
/// Thread-safety: pure function over the caller's parser.
namespace spendwall::api {

struct FeedbackRequest {
  std::string request_id;
  std::string outcome;
  std::optional<double> score;
  std::optional<std::string> note;
  bool replace = false;  ///< overwrite an outcome already recorded (else 409)
};

inline constexpr std::size_t kMaxFeedbackNoteBytes = 4096;

/// Validates the body: `request_id` and `outcome` non-empty strings (at most 128
/// bytes), `score` a finite number or null, `note` a string of at most
/// kMaxFeedbackNoteBytes or null, `replace` a boolean. Whether the outcome name is one
/// the config allows is the caller's check (400 `unknown_outcome`).
Result<FeedbackRequest> parse_feedback(simdjson::dom::parser& parser,
                                       simdjson::padded_string_view body);

}  // namespace spendwall::api
