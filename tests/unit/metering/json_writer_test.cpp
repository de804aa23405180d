#include "metering/json_writer.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace spendwall::metering {
namespace {

std::string escaped(std::string_view text) {
  std::string out;
  json_escape(text, out);
  return out;
}

// Round trip through a strict parser: what a client would read.
std::string read_back(std::string_view text) {
  std::string document = "\"" + escaped(text) + "\"";
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(document);
  std::string_view value;
  EXPECT_EQ(parser.parse(padded).get(value), simdjson::SUCCESS) << document;
  return std::string(value);
}

struct EscapeCase {
  std::string_view name;
  std::string input;
  std::string expected;
};

void PrintTo(const EscapeCase& c, std::ostream* os) { *os << c.name; }

class JsonEscapeTest : public testing::TestWithParam<EscapeCase> {};

TEST_P(JsonEscapeTest, EscapesAndReadsBack) {
  const EscapeCase& c = GetParam();
  EXPECT_EQ(escaped(c.input), c.expected);
  // A reader gets the input back, with U+FFFD where it was not UTF-8.
  const bool has_escapes = c.expected.find('\\') != std::string::npos;
  EXPECT_EQ(read_back(c.input), has_escapes ? c.input : c.expected);
}

const std::string kReplacement = "\xEF\xBF\xBD";

INSTANTIATE_TEST_SUITE_P(
    Cases, JsonEscapeTest,
    testing::Values(
        EscapeCase{"plain", "gpt-4o/mini 2024", "gpt-4o/mini 2024"},
        EscapeCase{"quote_and_backslash", R"(a"b\c)", R"(a\"b\\c)"},
        EscapeCase{"short_escapes", "\b\f\n\r\t", R"(\b\f\n\r\t)"},
        EscapeCase{"other_controls", std::string("\x00\x01\x1f", 3), R"(\u0000\u0001\u001f)"},
        EscapeCase{"delete_is_allowed", "\x7f", "\x7f"},
        EscapeCase{"two_three_four_byte_utf8", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
        EscapeCase{"boundary_code_points", "\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf",
                   "\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf"},
        EscapeCase{"lone_continuation", "a\x80z", "a" + kReplacement + "z"},
        EscapeCase{"invalid_lead", "\xff\xfe", kReplacement + kReplacement},
        EscapeCase{"truncated_sequence", "\xe2\x82z", kReplacement + "z"},
        EscapeCase{"truncated_at_end", "a\xf0\x9f\x98", "a" + kReplacement},
        EscapeCase{"overlong_two_byte", "\xc0\xaf", kReplacement + kReplacement},
        EscapeCase{"overlong_three_byte", "\xe0\x80\xaf",
                   kReplacement + kReplacement + kReplacement},
        EscapeCase{"surrogate", "\xed\xa0\x80", kReplacement + kReplacement + kReplacement},
        EscapeCase{"above_max_code_point", "\xf4\x90\x80\x80",
                   kReplacement + kReplacement + kReplacement + kReplacement}),
    [](const testing::TestParamInfo<EscapeCase>& instance) {
      return std::string(instance.param.name);
    });

TEST(JsonEscapeTest, AppendsToExistingText) {
  std::string out = "prefix:";
  json_escape("\"", out);
  EXPECT_EQ(out, "prefix:\\\"");
}

TEST(JsonWriterTest, NestsObjectsAndArraysWithCommas) {
  std::string out;
  JsonWriter json(out);
  json.begin_object();
  json.key("workflows").begin_array();
  json.begin_object().key("name").string("search").key("windows").begin_array().end_array();
  json.end_object();
  json.begin_object().key("name").string("chat").key("override").null().end_object();
  json.end_array();
  json.key("ok").boolean(true).key("stale").boolean(false);
  json.key("empty").begin_object().end_object();
  json.key("matrix").begin_array();
  json.begin_array().integer(1).integer(2).end_array().begin_array().end_array();
  json.end_array();
  json.end_object();
  EXPECT_EQ(json.depth(), 0u);
  EXPECT_EQ(out, R"({"workflows":[{"name":"search","windows":[]},{"name":"chat","override":null}],)"
                 R"("ok":true,"stale":false,"empty":{},"matrix":[[1,2],[]]})");
}

TEST(JsonWriterTest, WritesTopLevelScalarsAndAppends) {
  std::string out = "x=";
  JsonWriter(out).string("a\"b");
  EXPECT_EQ(out, R"(x="a\"b")");
}

TEST(JsonWriterTest, EscapesKeys) {
  std::string out;
  JsonWriter(out).begin_object().key("k\"\n").integer(0).end_object();
  EXPECT_EQ(out, R"({"k\"\n":0})");
}

TEST(JsonWriterTest, IntegersAtTheirLimits) {
  std::string out;
  JsonWriter json(out);
  json.begin_array();
  json.integer(std::numeric_limits<std::int64_t>::min());
  json.integer(std::numeric_limits<std::int64_t>::max());
  json.integer(std::numeric_limits<std::uint64_t>::max());
  json.integer(std::uint8_t{7}).integer(-1).integer(0u);
  json.end_array();
  EXPECT_EQ(out, "[-9223372036854775808,9223372036854775807,18446744073709551615,7,-1,0]");
}

TEST(JsonWriterTest, DoublesUseTheShortestRoundTripForm) {
  std::string out;
  JsonWriter json(out);
  json.begin_array().number(0.354).number(3.0).number(-2.5e-7).number(1e21).number(0.1 + 0.2);
  json.number(std::nan("")).number(std::numeric_limits<double>::infinity()).end_array();
  EXPECT_EQ(out, "[0.354,3,-2.5e-07,1e+21,0.30000000000000004,null,null]");
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(out);
  simdjson::dom::array values;
  EXPECT_EQ(parser.parse(padded).get(values), simdjson::SUCCESS);
}

TEST(JsonWriterTest, MoneyIsAnExactDecimalNumber) {
  std::string out;
  JsonWriter json(out);
  json.begin_object();
  json.key("spent_usd").usd(212'418'003'000);
  json.key("cost_usd").usd(5'875'000);
  json.key("limit_usd").usd(600'000'000'000);
  json.key("remaining_usd").usd(-3'500'000'000);
  json.key("zero").usd(0);
  json.key("nano").usd(1);
  json.end_object();
  EXPECT_EQ(out, R"({"spent_usd":212.418003,"cost_usd":0.005875,"limit_usd":600,)"
                 R"("remaining_usd":-3.5,"zero":0,"nano":0.000000001})");
}

}  // namespace
}  // namespace spendwall::metering
