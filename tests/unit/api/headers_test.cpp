#include "proxy/api/headers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spendwall::api {
namespace {

using TagList = std::vector<std::pair<std::string_view, std::string_view>>;

TagList to_list(const Tags& tags) {
  TagList list;
  for (const Tag& tag : tags) list.emplace_back(tag.key, tag.value);
  return list;
}

struct ValidTagsCase {
  std::string_view name;
  std::string header;
  TagList expected;
};

void PrintTo(const ValidTagsCase& c, std::ostream* os) { *os << c.name; }

class ValidTagsTest : public testing::TestWithParam<ValidTagsCase> {};

TEST_P(ValidTagsTest, ParsesInOrder) {
  const Result<Tags> tags = parse_tags(GetParam().header);
  ASSERT_TRUE(tags) << tags.error().message;
  EXPECT_EQ(to_list(*tags), GetParam().expected);
}

const std::string k64(64, 'v');

INSTANTIATE_TEST_SUITE_P(
    Cases, ValidTagsTest,
    testing::Values(ValidTagsCase{"single", "feature=search", {{"feature", "search"}}},
                    ValidTagsCase{"spaces_around_separators",
                                  "team = search ,  env=prod,tier =gold ",
                                  {{"team", "search"}, {"env", "prod"}, {"tier", "gold"}}},
                    ValidTagsCase{"tabs", "a\t=\t1\t,\tb=2", {{"a", "1"}, {"b", "2"}}},
                    ValidTagsCase{
                        "all_allowed_characters", "Az09._-=zA90-_.", {{"Az09._-", "zA90-_."}}},
                    ValidTagsCase{"keys_are_case_sensitive", "A=1,a=2", {{"A", "1"}, {"a", "2"}}},
                    ValidTagsCase{"sixty_four_characters", k64 + "=" + k64, {{k64, k64}}},
                    ValidTagsCase{"eight_tags",
                                  "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8",
                                  {{"a", "1"},
                                   {"b", "2"},
                                   {"c", "3"},
                                   {"d", "4"},
                                   {"e", "5"},
                                   {"f", "6"},
                                   {"g", "7"},
                                   {"h", "8"}}},
                    ValidTagsCase{"empty_header", "", {}},
                    ValidTagsCase{"blank_header", "  \t ", {}}),
    [](const testing::TestParamInfo<ValidTagsCase>& instance) {
      return std::string(instance.param.name);
    });

struct InvalidTagsCase {
  std::string_view name;
  std::string header;
};

void PrintTo(const InvalidTagsCase& c, std::ostream* os) { *os << c.name; }

class InvalidTagsTest : public testing::TestWithParam<InvalidTagsCase> {};

TEST_P(InvalidTagsTest, IsInvalidRequestNamingTheHeader) {
  const Result<Tags> tags = parse_tags(GetParam().header);
  ASSERT_FALSE(tags);
  EXPECT_EQ(tags.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(tags.error().param, "x-spendwall-tags");
  EXPECT_NE(tags.error().message.find("x-spendwall-tags"), std::string_view::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, InvalidTagsTest,
    testing::Values(InvalidTagsCase{"nine_tags", "a=1,b=2,c=3,d=4,e=5,f=6,g=7,h=8,i=9"},
                    InvalidTagsCase{"space_inside_value", "team=se arch"},
                    InvalidTagsCase{"symbol_in_key", "te$m=x"},
                    InvalidTagsCase{"colon_in_value", "run=a:b"},
                    InvalidTagsCase{"non_ascii_value", "city=m\xc3\xbcnchen"},
                    InvalidTagsCase{"second_equals", "a=b=c"}, InvalidTagsCase{"empty_key", "=x"},
                    InvalidTagsCase{"empty_value", "a="}, InvalidTagsCase{"no_equals", "a"},
                    InvalidTagsCase{"leading_comma", ",a=b"},
                    InvalidTagsCase{"trailing_comma", "a=b,"},
                    InvalidTagsCase{"empty_between_commas", "a=b, ,c=d"},
                    InvalidTagsCase{"value_of_65", "a=" + std::string(65, 'v')},
                    InvalidTagsCase{"key_of_65", std::string(65, 'k') + "=v"},
                    InvalidTagsCase{"duplicate_key", "a=1,b=2,a=3"},
                    InvalidTagsCase{"duplicate_key_with_spaces", "env=prod , env = prod"}),
    [](const testing::TestParamInfo<InvalidTagsCase>& instance) {
      return std::string(instance.param.name);
    });

TEST(SessionIdTest, AcceptsTheDocumentedAlphabetAndLength) {
  EXPECT_TRUE(is_valid_session_id("run-42"));
  EXPECT_TRUE(is_valid_session_id("x"));
  EXPECT_TRUE(is_valid_session_id("tenant:run.1_x-Y"));
  EXPECT_TRUE(is_valid_session_id(std::string(128, 's')));
}

TEST(SessionIdTest, RejectsEverythingElse) {
  EXPECT_FALSE(is_valid_session_id(""));
  EXPECT_FALSE(is_valid_session_id(std::string(129, 's')));
  EXPECT_FALSE(is_valid_session_id("a b"));
  EXPECT_FALSE(is_valid_session_id("a/b"));
  EXPECT_FALSE(is_valid_session_id("run=1"));
  EXPECT_FALSE(is_valid_session_id("r\xc3\xbcn"));
  EXPECT_FALSE(is_valid_session_id(std::string_view("a\0b", 3)));
}

struct ClientKeyCase {
  std::string_view authorization;
  std::string_view x_api_key;
  std::string_view expected;
};

class ClientKeyTest : public testing::TestWithParam<ClientKeyCase> {};

TEST_P(ClientKeyTest, Extracts) {
  EXPECT_EQ(extract_client_key(GetParam().authorization, GetParam().x_api_key),
            GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ClientKeyTest,
    testing::Values(
        ClientKeyCase{"Bearer sk-1", "", "sk-1"}, ClientKeyCase{"bearer sk-1", "", "sk-1"},
        ClientKeyCase{"BEARER \t sk-1  ", "", "sk-1"}, ClientKeyCase{" Bearer sk-1", "", "sk-1"},
        ClientKeyCase{"", "sk-2", "sk-2"}, ClientKeyCase{"", "  sk-2 ", "sk-2"},
        ClientKeyCase{"Bearer sk-1", "sk-2", "sk-1"}, ClientKeyCase{"Bearer", "sk-2", "sk-2"},
        ClientKeyCase{"Bearer   ", "sk-2", "sk-2"}, ClientKeyCase{"Bearersk-1", "", ""},
        ClientKeyCase{"Basic dXNlcjpwYXNz", "sk-2", "sk-2"},
        ClientKeyCase{"Basic dXNlcjpwYXNz", "", ""}, ClientKeyCase{"", "", ""}));

}  // namespace
}  // namespace spendwall::api
