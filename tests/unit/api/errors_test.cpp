#include "proxy/api/errors.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spendwall::api {
namespace {

using metering::ApiFormat;

// PRODUCT.md §2's error table and §6's feedback codes, restated independently.
struct SpecRow {
  ErrorKind kind;
  unsigned status;
  std::string_view openai_type;
  std::string_view openai_code;
  std::string_view anthropic_type;
};

void PrintTo(const SpecRow& row, std::ostream* os) { *os << row.openai_code; }

class ErrorTableTest : public testing::TestWithParam<SpecRow> {};

const std::vector<SpecRow> kSpecRows{
    {ErrorKind::invalid_request, 400, "invalid_request_error", "invalid_request",
     "invalid_request_error"},
    {ErrorKind::invalid_api_key, 401, "authentication_error", "invalid_api_key",
     "authentication_error"},
    {ErrorKind::route_not_allowed, 403, "permission_error", "route_not_allowed",
     "permission_error"},
    {ErrorKind::model_not_found, 404, "invalid_request_error", "model_not_found",
     "not_found_error"},
    {ErrorKind::path_not_found, 404, "invalid_request_error", "not_found", "not_found_error"},
    {ErrorKind::method_not_allowed, 405, "invalid_request_error", "method_not_allowed",
     "invalid_request_error"},
    {ErrorKind::request_too_large, 413, "invalid_request_error", "request_too_large",
     "request_too_large"},
    {ErrorKind::budget_exceeded, 429, "insufficient_quota", "budget_exceeded", "rate_limit_error"},
    {ErrorKind::session_cap_exceeded, 429, "insufficient_quota", "session_cap_exceeded",
     "rate_limit_error"},
    {ErrorKind::upstream_timeout, 504, "upstream_error", "timeout", "api_error"},
    {ErrorKind::upstream_connect_error, 502, "upstream_error", "connect_error", "api_error"},
    {ErrorKind::upstream_rate_limited, 429, "upstream_error", "rate_limited", "rate_limit_error"},
    {ErrorKind::upstream_server_error, 502, "upstream_error", "server_error", "api_error"},
    {ErrorKind::upstream_context_length, 502, "upstream_error", "context_length", "api_error"},
    {ErrorKind::unknown_outcome, 400, "invalid_request_error", "unknown_outcome",
     "invalid_request_error"},
    {ErrorKind::request_not_found, 404, "invalid_request_error", "request_not_found",
     "not_found_error"},
    {ErrorKind::not_your_request, 403, "permission_error", "not_your_request", "permission_error"},
    {ErrorKind::outcome_exists, 409, "invalid_request_error", "outcome_exists",
     "invalid_request_error"},
    {ErrorKind::internal, 500, "server_error", "internal", "api_error"},
};

struct OpenAiBody {
  std::string message, type, code;
  std::optional<std::string> param;
  std::vector<std::string> keys;  ///< of the inner object, in order
  std::size_t top_level_members = 0;
};

OpenAiBody read_openai(const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::object body;
  EXPECT_EQ(parser.parse(padded).get(body), simdjson::SUCCESS) << json;
  OpenAiBody result;
  for ([[maybe_unused]] const auto& member : body) ++result.top_level_members;
  simdjson::dom::object error;
  EXPECT_EQ(body["error"].get(error), simdjson::SUCCESS) << json;
  for (const auto& [key, value] : error) result.keys.emplace_back(key);
  std::string_view text;
  EXPECT_EQ(error["message"].get(text), simdjson::SUCCESS);
  result.message = text;
  EXPECT_EQ(error["type"].get(text), simdjson::SUCCESS);
  result.type = text;
  EXPECT_EQ(error["code"].get(text), simdjson::SUCCESS);
  result.code = text;
  if (error["param"].get(text) == simdjson::SUCCESS) {
    result.param = std::string(text);
  } else {
    EXPECT_TRUE(error["param"].is_null()) << json;
  }
  return result;
}

struct AnthropicBody {
  std::string outer_type, type, message;
  std::size_t top_level_members = 0;
  std::size_t error_members = 0;
};

AnthropicBody read_anthropic(const std::string& json) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::object body;
  EXPECT_EQ(parser.parse(padded).get(body), simdjson::SUCCESS) << json;
  AnthropicBody result;
  for ([[maybe_unused]] const auto& member : body) ++result.top_level_members;
  std::string_view text;
  EXPECT_EQ(body["type"].get(text), simdjson::SUCCESS);
  result.outer_type = text;
  simdjson::dom::object error;
  EXPECT_EQ(body["error"].get(error), simdjson::SUCCESS) << json;
  for ([[maybe_unused]] const auto& member : error) ++result.error_members;
  EXPECT_EQ(error["type"].get(text), simdjson::SUCCESS);
  result.type = text;
  EXPECT_EQ(error["message"].get(text), simdjson::SUCCESS);
  result.message = text;
  return result;
}

TEST_P(ErrorTableTest, SpecMatchesTheProductTable) {
  const SpecRow& row = GetParam();
  const ErrorSpec& spec = error_spec(row.kind);
  EXPECT_EQ(spec.status, row.status);
  EXPECT_EQ(spec.openai_type, row.openai_type);
  EXPECT_EQ(spec.openai_code, row.openai_code);
  EXPECT_EQ(anthropic_error_type(row.kind, row.status), row.anthropic_type);
}

TEST_P(ErrorTableTest, OpenAiBodyReadsBack) {
  const SpecRow& row = GetParam();
  std::string out;
  write_error_body(ApiFormat::openai, row.kind, "it failed", "", out);
  const OpenAiBody body = read_openai(out);
  EXPECT_EQ(body.top_level_members, 1u);
  EXPECT_EQ(body.keys, (std::vector<std::string>{"message", "type", "code", "param"}));
  EXPECT_EQ(body.message, "it failed");
  EXPECT_EQ(body.type, row.openai_type);
  EXPECT_EQ(body.code, row.openai_code);
  EXPECT_EQ(body.param, std::nullopt);
}

TEST_P(ErrorTableTest, AnthropicBodyReadsBack) {
  const SpecRow& row = GetParam();
  std::string out;
  write_error_body(ApiFormat::anthropic, row.kind, "it failed", "model", out);
  const AnthropicBody body = read_anthropic(out);
  EXPECT_EQ(body.top_level_members, 2u);
  EXPECT_EQ(body.error_members, 2u);
  EXPECT_EQ(body.outer_type, "error");
  EXPECT_EQ(body.type, row.anthropic_type);
  EXPECT_EQ(body.message, "it failed");
}

INSTANTIATE_TEST_SUITE_P(EveryKind, ErrorTableTest, testing::ValuesIn(kSpecRows),
                         [](const testing::TestParamInfo<SpecRow>& instance) {
                           return std::string(instance.param.openai_code);
                         });

TEST(ErrorTableTest, CoversEveryKind) {
  EXPECT_EQ(kSpecRows.size(), static_cast<std::size_t>(ErrorKind::internal) + 1);
  for (std::size_t i = 0; i < kSpecRows.size(); ++i) {
    EXPECT_EQ(kSpecRows[i].kind, static_cast<ErrorKind>(i));
  }
}

TEST(ErrorBodyTest, ExactOpenAiShape) {
  std::string out;
  write_error_body(ApiFormat::openai, ErrorKind::invalid_request, "`max_tokens` is required",
                   "max_tokens", out);
  EXPECT_EQ(out, R"({"error":{"message":"`max_tokens` is required","type":"invalid_request_error",)"
                 R"("code":"invalid_request","param":"max_tokens"}})");
  write_error_body(ApiFormat::openai, ErrorKind::model_not_found, "no such model", "", out);
  EXPECT_EQ(out, R"({"error":{"message":"no such model","type":"invalid_request_error",)"
                 R"("code":"model_not_found","param":null}})");
}

TEST(ErrorBodyTest, ExactAnthropicShape) {
  std::string out = "previous body";
  write_error_body(ApiFormat::anthropic, ErrorKind::request_too_large, "body too large", "", out);
  EXPECT_EQ(out,
            R"({"type":"error","error":{"type":"request_too_large","message":"body too large"}})");
}

TEST(ErrorBodyTest, EscapesMessageAndParam) {
  const std::string message = "target \"a\\b\"\n\ttried: timeout\x01 bad\xff utf8";
  std::string out;
  write_error_body(ApiFormat::openai, ErrorKind::invalid_request, message, "x\"y", out);
  const OpenAiBody openai = read_openai(out);
  EXPECT_EQ(openai.message, "target \"a\\b\"\n\ttried: timeout\x01 bad\xEF\xBF\xBD utf8");
  EXPECT_EQ(openai.param, std::optional<std::string>("x\"y"));

  write_error_body(ApiFormat::anthropic, ErrorKind::invalid_request, message, "", out);
  EXPECT_EQ(read_anthropic(out).message,
            "target \"a\\b\"\n\ttried: timeout\x01 bad\xEF\xBF\xBD utf8");
}

struct UpstreamCase {
  ErrorKind kind;
  unsigned status;
  std::string_view anthropic_type;
};

class UpstreamErrorTest : public testing::TestWithParam<UpstreamCase> {};

TEST_P(UpstreamErrorTest, AnthropicTypeFollowsStatus) {
  const UpstreamCase& c = GetParam();
  std::string out;
  write_upstream_error_body(ApiFormat::anthropic, c.kind, c.status, "tried a: timeout", out);
  EXPECT_EQ(read_anthropic(out).type, c.anthropic_type);

  write_upstream_error_body(ApiFormat::openai, c.kind, c.status, "tried a: timeout", out);
  const OpenAiBody openai = read_openai(out);
  EXPECT_EQ(openai.type, "upstream_error");
  EXPECT_EQ(openai.code, error_spec(c.kind).openai_code);
  EXPECT_EQ(openai.param, std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(
    Statuses, UpstreamErrorTest,
    testing::Values(UpstreamCase{ErrorKind::upstream_rate_limited, 429, "rate_limit_error"},
                    UpstreamCase{ErrorKind::upstream_server_error, 429, "rate_limit_error"},
                    UpstreamCase{ErrorKind::upstream_server_error, 529, "overloaded_error"},
                    UpstreamCase{ErrorKind::upstream_server_error, 503, "api_error"},
                    UpstreamCase{ErrorKind::upstream_server_error, 500, "api_error"},
                    UpstreamCase{ErrorKind::upstream_timeout, 504, "api_error"},
                    UpstreamCase{ErrorKind::upstream_connect_error, 502, "api_error"},
                    UpstreamCase{ErrorKind::upstream_context_length, 502, "api_error"}));

TEST(ErrorKindTest, UpstreamFailuresAreExactlyTheFiveClasses) {
  std::size_t upstream = 0;
  for (std::size_t i = 0; i < kSpecRows.size(); ++i) {
    if (is_upstream_failure(static_cast<ErrorKind>(i))) ++upstream;
  }
  EXPECT_EQ(upstream, 5u);
  // A fixed kind keeps its type whatever status the caller uses.
  EXPECT_EQ(anthropic_error_type(ErrorKind::invalid_request, 429), "invalid_request_error");
}

}  // namespace
}  // namespace spendwall::api
