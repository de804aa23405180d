#include "metering/ledger/record_json.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include "ledger_test_support.hpp"
#include "metering/ledger/append_log.hpp"

namespace spendwall::metering::ledger {
namespace {

using testing::full_record;
using testing::minimal_record;

std::string render(const RequestRecord& record) {
  std::string out;
  JsonWriter json(out);
  write_record(record, json);
  return out;
}

std::set<std::string> keys_of(simdjson::dom::object object) {
  std::set<std::string> keys;
  for (auto [key, value] : object) keys.emplace(key);
  return keys;
}

TEST(LedgerRecordJsonTest, FullRecordRoundTrips) {
  const RequestRecord record = full_record(3);
  RecordJsonReader reader;
  RequestRecord read;
  ASSERT_TRUE(reader.read_record(render(record), read));
  EXPECT_EQ(read, record);
}

TEST(LedgerRecordJsonTest, OptionalFieldsRoundTripAsNull) {
  RequestRecord record = minimal_record("req_rejected");
  record.outcome = Outcome{"abandoned", std::nullopt, std::nullopt, testing::recent_time()};
  const std::string json = render(record);
  EXPECT_NE(json.find(R"("ttft_ms":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("session":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("score":null,"note":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("attempts":[],)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("tags":{},)"), std::string::npos) << json;

  RecordJsonReader reader;
  RequestRecord read = full_record(1);  // every field overwritten
  ASSERT_TRUE(reader.read_record(json, read));
  EXPECT_EQ(read, record);

  record.outcome.reset();
  ASSERT_TRUE(reader.read_record(render(record), read));
  EXPECT_EQ(read, record);
}

TEST(LedgerRecordJsonTest, EveryEnumerationRoundTrips) {
  RecordJsonReader reader;
  RequestRecord read;
  for (std::size_t e = 0; e < kEndpointCount; ++e) {
    const auto endpoint = static_cast<Endpoint>(e);
    if (!is_metered(endpoint)) continue;
    RequestRecord record = full_record(e);
    record.endpoint = endpoint;
    record.budget_action = static_cast<BudgetAction>(e % kBudgetActionNames.size());
    record.usage_source = e % 2 == 0 ? UsageSource::estimated : UsageSource::reported;
    ASSERT_TRUE(reader.read_record(render(record), read)) << endpoint_label(endpoint);
    EXPECT_EQ(read, record);
  }
}

TEST(LedgerRecordJsonTest, ArbitraryTextRoundTripsOnOneLine) {
  RequestRecord record = full_record(0);
  record.tags = {{"k\"\\", "line\nbreak\ttab"}, {"\xc3\xa9t\xc3\xa9", "\x01"}};
  record.session = "a:b.c-d";
  const std::string json = render(record);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  RecordJsonReader reader;
  RequestRecord read;
  ASSERT_TRUE(reader.read_record(json, read));
  EXPECT_EQ(read, record);
}

TEST(LedgerRecordJsonTest, TimesKeepWholeMicroseconds) {
  RequestRecord record = full_record(0);
  record.started_at += std::chrono::nanoseconds(999);
  RecordJsonReader reader;
  RequestRecord read;
  ASSERT_TRUE(reader.read_record(render(record), read));
  EXPECT_EQ(read.started_at, std::chrono::floor<std::chrono::microseconds>(record.started_at));
}

TEST(LedgerRecordJsonTest, UnmeasuredDurationsReadBackAsNaN) {
  RequestRecord record = full_record(0);
  record.latency_ms = std::numeric_limits<double>::quiet_NaN();
  record.attempts[0].duration_ms = std::numeric_limits<double>::infinity();
  const std::string json = render(record);
  EXPECT_NE(json.find(R"("latency_ms":null)"), std::string::npos) << json;
  RecordJsonReader reader;
  RequestRecord read;
  ASSERT_TRUE(reader.read_record(json, read));
  EXPECT_TRUE(std::isnan(read.latency_ms));
  EXPECT_TRUE(std::isnan(read.attempts[0].duration_ms));
}

// The document GET /admin/requests/{id} promises (admin-api.md), field by field.
TEST(LedgerRecordJsonTest, HasTheAdminApiShape) {
  const std::string json = render(full_record(0));
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  ASSERT_EQ(parser.parse(simdjson::padded_string(json)).get(root), simdjson::SUCCESS);

  const std::set<std::string> promised{
      "id",       "started_at", "finished_at", "workflow", "route",     "provider",
      "model",    "endpoint",   "stream",      "status",   "tokens",    "usage_source",
      "cost_usd", "latency_ms", "ttft_ms",     "attempts", "fallbacks", "budget_action",
      "session",  "tags",       "outcome"};
  const std::set<std::string> exact{"cost_nano_usd", "started_at_us", "finished_at_us"};
  std::set<std::string> expected = promised;
  expected.insert(exact.begin(), exact.end());
  EXPECT_EQ(keys_of(root), expected);

  EXPECT_EQ(keys_of(root["tokens"].get_object().value()),
            (std::set<std::string>{"input", "cached_input", "cache_write", "output", "reasoning"}));
  EXPECT_EQ(keys_of(root["attempts"].at(0).get_object().value()),
            (std::set<std::string>{"provider", "model", "result", "status", "ms"}));
  EXPECT_EQ(keys_of(root["outcome"].get_object().value()),
            (std::set<std::string>{"outcome", "score", "note", "at", "at_us"}));
  EXPECT_EQ(keys_of(root["tags"].get_object().value()),
            (std::set<std::string>{"feature", "tenant"}));

  EXPECT_EQ(std::string_view(root["endpoint"]), "/v1/chat/completions");
  EXPECT_EQ(std::string_view(root["usage_source"]), "reported");
  EXPECT_EQ(std::string_view(root["budget_action"]), "downgraded");
  EXPECT_EQ(bool(root["stream"]), true);
  EXPECT_EQ(std::int64_t(root["tokens"]["input"]), 1200);
  EXPECT_EQ(std::string_view(root["attempts"].at(0)["result"]), "rate_limited");
  EXPECT_EQ(std::int64_t(root["attempts"].at(0)["status"]), 429);
}

TEST(LedgerRecordJsonTest, MoneyAndTimesAreExactAndReadable) {
  RequestRecord record = full_record(0);
  record.cost = 5'875'000;
  record.started_at = std::chrono::sys_days(std::chrono::year{2026} / 12 / 2) +
                      std::chrono::hours(9) + std::chrono::minutes(14) +
                      std::chrono::microseconds(3'000'042);
  const std::string json = render(record);
  EXPECT_NE(json.find(R"("cost_usd":0.005875,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("cost_nano_usd":5875000,)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("started_at":"2026-12-02T09:14:03.000042Z",)"), std::string::npos) << json;
}

TEST(LedgerRecordJsonTest, Rfc3339BeforeTheEpochAndAtDayEnds) {
  using namespace std::chrono;
  EXPECT_EQ(Rfc3339(system_clock::time_point{}).view(), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(Rfc3339(system_clock::time_point{} - microseconds(1)).view(),
            "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(Rfc3339(sys_days(year{2024} / 2 / 29) + hours(23) + minutes(59) + seconds(59)).view(),
            "2024-02-29T23:59:59.000000Z");
  EXPECT_EQ(from_unix_micros(to_unix_micros(system_clock::time_point{} - nanoseconds(1))),
            system_clock::time_point{} - microseconds(1));
}

// A crash can leave any prefix of a line in the spool; none of them may pass for a record.
TEST(LedgerRecordJsonTest, EveryTruncationIsRejected) {
  const std::string json = render(full_record(0));
  RecordJsonReader reader;
  RequestRecord read;
  for (std::size_t length = 0; length < json.size(); ++length) {
    EXPECT_FALSE(reader.read_record(std::string_view(json).substr(0, length), read)) << length;
  }
  // A torn line run into the next one.
  EXPECT_FALSE(reader.read_record(json.substr(0, json.size() / 2) + json, read));
  EXPECT_FALSE(reader.read_record(json.substr(0, json.find(R"("tags":)") + 7) + json, read));
}

TEST(LedgerRecordJsonTest, RejectsWrongTypesAndMissingMembers) {
  RecordJsonReader reader;
  RequestRecord read;
  const std::string json = render(full_record(0));
  const auto replaced = [&json](std::string_view from, std::string_view to) {
    std::string copy = json;
    copy.replace(copy.find(from), from.size(), to);
    return copy;
  };
  EXPECT_FALSE(reader.read_record(replaced(R"("status":200)", R"("status":"200")"), read));
  EXPECT_FALSE(reader.read_record(replaced(R"("status":200)", R"("status":-1)"), read));
  EXPECT_FALSE(reader.read_record(
      replaced(R"("usage_source":"reported")", R"("usage_source":"guessed")"), read));
  EXPECT_FALSE(reader.read_record(
      replaced(R"("endpoint":"/v1/chat/completions")", R"("endpoint":"/v2/chat")"), read));
  EXPECT_FALSE(reader.read_record(replaced(R"("cost_nano_usd")", R"("cost_nano")"), read));
  EXPECT_FALSE(reader.read_record("[]", read));
  EXPECT_FALSE(reader.read_record("", read));
  // Unknown members are skipped: a newer writer may add some.
  EXPECT_TRUE(reader.read_record(replaced(R"({"id")", R"({"extra":[1,{"a":2}],"id")"), read));
}

TEST(LedgerRecordJsonTest, AttemptsAndTagsReadAlone) {
  const RequestRecord record = full_record(0);
  std::string attempts;
  JsonWriter attempts_json(attempts);
  write_attempts(record.attempts, attempts_json);
  std::string tags;
  JsonWriter tags_json(tags);
  write_tags(record.tags, tags_json);

  RecordJsonReader reader;
  RequestRecord read;
  ASSERT_TRUE(reader.read_attempts(attempts, read.attempts));
  ASSERT_TRUE(reader.read_tags(tags, read.tags));
  EXPECT_EQ(read.attempts, record.attempts);
  EXPECT_EQ(read.tags, record.tags);
  EXPECT_FALSE(reader.read_attempts("{}", read.attempts));
  EXPECT_FALSE(reader.read_tags(R"({"a":1})", read.tags));
}

TEST(LedgerSegmentNameTest, RoundTripsAndRejectsOtherFiles) {
  const SegmentName name{3, 42};
  EXPECT_EQ(segment_file_name(name), "w3-000000000042.jsonl");
  EXPECT_EQ(parse_segment_file_name("w3-000000000042.jsonl"), name);
  EXPECT_EQ(parse_segment_file_name("w12-9999999999999.jsonl"), (SegmentName{12, 9999999999999}));
  for (std::string_view other : {"lock", "w3-.jsonl", "w-1.jsonl", "w3-42.json", "x3-42.jsonl",
                                 "w3-42.jsonl.tmp", "w3-4a.jsonl", "w3-+4.jsonl"}) {
    EXPECT_FALSE(parse_segment_file_name(other)) << other;
  }
}

}  // namespace
}  // namespace spendwall::metering::ledger
