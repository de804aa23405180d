#include "metering/json_scan.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "test_data.hpp"

namespace spendwall::metering {
namespace {

struct MemberCase {
  std::string_view name;
  std::string_view json;
  std::string_view key;
  std::optional<std::string_view> first_match;   // expected with MemberScan::first_match
  std::optional<std::string_view> whole_object;  // expected with MemberScan::whole_object
};

const MemberCase kMemberCases[] = {
    {"number", R"({"a":1})", "a", "1", "1"},
    {"object value", R"({"x":[1,2],"usage":{"n":{"m":[]}}})", "usage", R"({"n":{"m":[]}})",
     R"({"n":{"m":[]}})"},
    {"whitespace everywhere", " {\n \"a\" :\t\"v\" ,\r\n \"b\" : null } \n", "b", "null", "null"},
    {"nested key is not top-level", R"({"choices":[{"usage":{"n":1}}],"id":"x"})", "usage",
     std::nullopt, std::nullopt},
    {"key text inside a string value", R"({"s":"\"usage\":{\"n\":1}","usage":2})", "usage", "2",
     "2"},
    {"escaped backslash before quote", R"({"s":"a\\","usage":3})", "usage", "3", "3"},
    {"escaped quote then backslash", R"({"s":"\"\\\"","k":true})", "k", "true", "true"},
    {"string value", R"({"type":"response.completed"})", "type", R"("response.completed")",
     R"("response.completed")"},
    {"first of duplicates", R"({"a":1,"a":2})", "a", "1", "1"},
    {"escaped key does not match", R"({"\u0061":1})", "a", std::nullopt, std::nullopt},
    {"missing member", R"({"a":1})", "b", std::nullopt, std::nullopt},
    {"empty object", "{}", "a", std::nullopt, std::nullopt},
    {"trailing garbage", R"({"a":1} x)", "a", "1", std::nullopt},
    {"unclosed after member", R"({"a":1,"b":[)", "a", "1", std::nullopt},
    {"unclosed before member", R"({"b":[1,"a":1)", "a", std::nullopt, std::nullopt},
    {"mismatched brackets", R"({"b":[1},"a":1})", "a", std::nullopt, std::nullopt},
    {"unterminated string", R"({"b":"abc)", "a", std::nullopt, std::nullopt},
    {"missing colon", R"({"a" 1})", "a", std::nullopt, std::nullopt},
    {"missing value", R"({"a":})", "a", std::nullopt, std::nullopt},
    {"array root", R"([{"a":1}])", "a", std::nullopt, std::nullopt},
    {"empty text", "", "a", std::nullopt, std::nullopt},
    {"not json", "<html>502 Bad Gateway</html>", "a", std::nullopt, std::nullopt},
};

class FindMemberTest : public ::testing::TestWithParam<MemberCase> {};

TEST_P(FindMemberTest, FindsTopLevelMemberOnly) {
  const MemberCase& c = GetParam();
  EXPECT_EQ(find_member(c.json, c.key, MemberScan::first_match), c.first_match);
  EXPECT_EQ(find_member(c.json, c.key, MemberScan::whole_object), c.whole_object);
}

INSTANTIATE_TEST_SUITE_P(Cases, FindMemberTest, ::testing::ValuesIn(kMemberCases),
                         [](const auto& case_info) {
                           return testing::case_name(case_info.param.name);
                         });

std::string nested(std::size_t depth) {
  return R"({"deep":)" + std::string(depth, '[') + std::string(depth, ']') + R"(,"a":1})";
}

TEST(FindMember, AcceptsNestingUpTo1024Levels) {
  EXPECT_EQ(find_member(nested(1024), "a"), "1");
  EXPECT_EQ(find_member(nested(1025), "a"), std::nullopt);
}

TEST(FindMember, ResultPointsIntoTheInput) {
  const std::string json = R"({"usage":{"n":1}})";
  const auto usage = find_member(json, "usage");
  ASSERT_TRUE(usage);
  EXPECT_EQ(usage->data(), json.data() + 9);
}

}  // namespace
}  // namespace spendwall::metering
