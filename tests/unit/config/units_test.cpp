#include "config/units.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace spendwall::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), seconds(30));
  EXPECT_EQ(parse_duration("5m"), minutes(5));
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("7d"), hours(24 * 7));
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("90d"), hours(24 * 90));
}

TEST(ParseDuration, RejectsMalformed) {
  for (const char* text : {"", "s", "30", "30 s", " 30s", "30s ", "1.5h", "-5s", "+5s", "5min",
                           "5S", "5w", "1h30m", "0x10s", "99999999999999999999ms"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parse_duration("9999999999999999d"), std::nullopt);
  EXPECT_NE(parse_duration("9223372036854775807ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
}

TEST(ParseSize, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
  EXPECT_EQ(parse_size("8MiB"), 8u * 1024 * 1024);
  EXPECT_EQ(parse_size("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
}

TEST(ParseSize, RejectsMalformed) {
  for (const char* text : {"", "KiB", "8MB", "8mib", "8 MiB", "1.5MiB", "-1", "8MiB ",
                           "16777216TiB", "99999999999999999999"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << text;
  }
}

TEST(ParseUsd, ReadsDecimalTextExactly) {
  EXPECT_EQ(parse_usd("2.50"), 2'500'000'000);
  EXPECT_EQ(parse_usd("0.075"), 75'000'000);
  EXPECT_EQ(parse_usd("1.375"), 1'375'000'000);
  EXPECT_EQ(parse_usd("200"), 200'000'000'000);
  EXPECT_EQ(parse_usd("0"), 0);
  EXPECT_EQ(parse_usd("0.000000001"), 1);
  EXPECT_EQ(parse_usd("123.456789012"), 123'456'789'012);
  EXPECT_EQ(parse_usd("0.1"), 100'000'000);  // no binary rounding: 0.1 is exact
  EXPECT_EQ(parse_usd(".5"), 500'000'000);
  EXPECT_EQ(parse_usd("2."), 2'000'000'000);
  EXPECT_EQ(parse_usd("007.50"), 7'500'000'000);
}

TEST(ParseUsd, AcceptsTheLargestAmount) {
  EXPECT_EQ(parse_usd("9223372036.854775807"), std::numeric_limits<NanoUsd>::max());
  EXPECT_EQ(parse_usd("9223372036.854775808"), std::nullopt);
  EXPECT_EQ(parse_usd("9223372037"), std::nullopt);
  EXPECT_EQ(parse_usd("99999999999999999999999"), std::nullopt);
}

TEST(ParseUsd, RejectsTenDecimals) {
  EXPECT_EQ(parse_usd("0.0000000001"), std::nullopt);
  EXPECT_EQ(parse_usd("1.2345678901"), std::nullopt);
}

TEST(ParseUsd, RejectsNegativesExponentsAndGarbage) {
  for (const char* text : {"-1", "-0.5", "+1", "1e3", "2.5E-1", "1_000", "1,5", "", ".", "abc",
                           "1.2.3", " 1", "1 ", "$1", "inf", "nan", "0x10"}) {
    EXPECT_EQ(parse_usd(text), std::nullopt) << text;
  }
}

TEST(FormatUsd, IsTheShortestExactDecimal) {
  EXPECT_EQ(format_usd(5'875'000), "0.005875");
  EXPECT_EQ(format_usd(12'000'000'000), "12");
  EXPECT_EQ(format_usd(-3'500'000'000), "-3.5");
  EXPECT_EQ(format_usd(0), "0");
  EXPECT_EQ(format_usd(1), "0.000000001");
  EXPECT_EQ(format_usd(std::numeric_limits<NanoUsd>::max()), "9223372036.854775807");
  EXPECT_EQ(format_usd(std::numeric_limits<NanoUsd>::min()), "-9223372036.854775808");
}

TEST(FormatUsd, RoundTripsThroughParse) {
  for (const char* text : {"0.075", "1.375", "2.5", "10", "0.000000001", "4000"}) {
    const auto parsed = parse_usd(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_EQ(format_usd(*parsed), text);
  }
}

TEST(ParseTimestamp, ReadsUtcAndOffsets) {
  using std::chrono::sys_days;
  using namespace std::chrono_literals;
  const auto december_first = sys_days{std::chrono::year{2026} / 12 / 1};
  EXPECT_EQ(parse_timestamp("2026-12-01T00:00:00Z"), december_first);
  EXPECT_EQ(parse_timestamp("2026-12-01t00:00:00z"), december_first);
  EXPECT_EQ(parse_timestamp("2026-12-01T01:00:00+01:00"), december_first);
  EXPECT_EQ(parse_timestamp("2026-11-30T19:00:00-05:00"), december_first);
  EXPECT_EQ(parse_timestamp("2026-12-01T12:34:56Z"), december_first + 12h + 34min + 56s);
}

TEST(ParseTimestamp, RejectsMalformed) {
  for (const char* text :
       {"2026-12-01", "2026-12-01T00:00:00", "2026-12-01 00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T00:60:00Z",
        "2026-12-01T00:00:60Z", "2026-12-01T00:00:00.5Z", "2026-12-01T00:00:00+1:00",
        "26-12-01T00:00:00Z", "2026-12-01T00:00:00ZZ"}) {
    EXPECT_EQ(parse_timestamp(text), std::nullopt) << text;
  }
}

TEST(ParseDate, ReadsCalendarDates) {
  EXPECT_EQ(parse_date("2026-11-01"), std::chrono::sys_days{std::chrono::year{2026} / 11 / 1});
  EXPECT_EQ(parse_date("2028-02-29"), std::chrono::sys_days{std::chrono::year{2028} / 2 / 29});
  EXPECT_EQ(parse_date("2026-02-29"), std::nullopt);
  EXPECT_EQ(parse_date("2026-11-1"), std::nullopt);
  EXPECT_EQ(parse_date("2026-11-01T00:00:00Z"), std::nullopt);
}

TEST(ParseHostPort, SplitsHostAndPort) {
  const auto v4 = parse_host_port("127.0.0.1:9090");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 9090);

  const auto v6 = parse_host_port("[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);

  const auto named = parse_host_port("proxy.internal:65535");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->host, "proxy.internal");

  const auto any_port = parse_host_port("0.0.0.0:0");
  ASSERT_TRUE(any_port);
  EXPECT_EQ(any_port->port, 0);
}

TEST(ParseHostPort, RejectsMalformed) {
  for (const char* text : {"", "8080", ":8080", "localhost", "localhost:", "localhost:65536",
                           "localhost:http", "::1:8080", "[::1]", "[::1]8080", "[]:80",
                           "host name:80", "localhost:80 ", "localhost:-1"}) {
    EXPECT_EQ(parse_host_port(text), std::nullopt) << text;
  }
}

TEST(IsLoopbackHost, KnowsLoopbackFromTheRest) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.0.0", "127.0.0.256",
                           "localhost.example", "proxy"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

}  // namespace
}  // namespace spendwall::config
