#include "policies/calendar.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "policy_test_support.hpp"

namespace spendwall::policies {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::at;
using testing::utc;

WindowBounds bounds(WindowKind kind, std::string_view zone, std::string_view instant) {
  const auto result = window_bounds(kind, zone, at(instant));
  EXPECT_TRUE(result.has_value()) << zone;
  return result.value_or(WindowBounds{});
}

TEST(WindowBounds, UtcDayAndMonth) {
  EXPECT_EQ(bounds(WindowKind::daily, "UTC", "2026-03-15T13:04:05Z"),
            (WindowBounds{utc("2026-03-15T00:00:00Z"), utc("2026-03-16T00:00:00Z")}));
  EXPECT_EQ(bounds(WindowKind::monthly, "UTC", "2026-02-15T13:04:05Z"),
            (WindowBounds{utc("2026-02-01T00:00:00Z"), utc("2026-03-01T00:00:00Z")}));
  EXPECT_EQ(bounds(WindowKind::monthly, "Etc/UTC", "2026-12-31T23:59:59Z"),
            (WindowBounds{utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")}));
}

TEST(WindowBounds, BerlinWinterDayMatchesTheAdminExample) {
  EXPECT_EQ(bounds(WindowKind::daily, "Europe/Berlin", "2026-12-02T10:00:00Z"),
            (WindowBounds{utc("2026-12-01T23:00:00Z"), utc("2026-12-02T23:00:00Z")}));
}

TEST(WindowBounds, BerlinSpringForwardDayLasts23Hours) {
  // 2026-03-29: 02:00 CET becomes 03:00 CEST.
  const WindowBounds day = bounds(WindowKind::daily, "Europe/Berlin", "2026-03-29T12:00:00Z");
  EXPECT_EQ(day.start, utc("2026-03-28T23:00:00Z"));
  EXPECT_EQ(day.end, utc("2026-03-29T22:00:00Z"));
  EXPECT_EQ(day.end - day.start, hours(23));
}

TEST(WindowBounds, BerlinFallBackDayLasts25Hours) {
  // 2026-10-25: 03:00 CEST becomes 02:00 CET.
  const WindowBounds day = bounds(WindowKind::daily, "Europe/Berlin", "2026-10-25T01:30:00Z");
  EXPECT_EQ(day.start, utc("2026-10-24T22:00:00Z"));
  EXPECT_EQ(day.end, utc("2026-10-25T23:00:00Z"));
  EXPECT_EQ(day.end - day.start, hours(25));
}

TEST(WindowBounds, NewYorkDstDays) {
  const WindowBounds spring = bounds(WindowKind::daily, "America/New_York", "2026-03-08T12:00:00Z");
  EXPECT_EQ(spring.start, utc("2026-03-08T05:00:00Z"));
  EXPECT_EQ(spring.end, utc("2026-03-09T04:00:00Z"));
  const WindowBounds fall = bounds(WindowKind::daily, "America/New_York", "2026-11-01T12:00:00Z");
  EXPECT_EQ(fall.start, utc("2026-11-01T04:00:00Z"));
  EXPECT_EQ(fall.end, utc("2026-11-02T05:00:00Z"));
  EXPECT_EQ(fall.end - fall.start, hours(25));
}

TEST(WindowBounds, LocalEveningBelongsToTheLocalDay) {
  // 21:30 in New York on March 10 is already March 11 in UTC.
  EXPECT_EQ(bounds(WindowKind::daily, "America/New_York", "2026-03-11T01:30:00Z"),
            (WindowBounds{utc("2026-03-10T04:00:00Z"), utc("2026-03-11T04:00:00Z")}));
}

TEST(WindowBounds, MonthBoundariesAreExact) {
  // Berlin's May starts at 2026-04-30T22:00:00Z (CEST).
  const WindowBounds april = bounds(WindowKind::monthly, "Europe/Berlin", "2026-04-30T21:59:59Z");
  EXPECT_EQ(april.start, utc("2026-03-31T22:00:00Z"));
  EXPECT_EQ(april.end, utc("2026-04-30T22:00:00Z"));
  const WindowBounds may = bounds(WindowKind::monthly, "Europe/Berlin", "2026-04-30T22:00:00Z");
  EXPECT_EQ(may.start, april.end);
  // March holds the spring-forward day: 31 days less one hour, starting in CET.
  const WindowBounds march = bounds(WindowKind::monthly, "Europe/Berlin", "2026-03-15T00:00:00Z");
  EXPECT_EQ(march.start, utc("2026-02-28T23:00:00Z"));
  EXPECT_EQ(march.end - march.start, hours(31 * 24 - 1));
  // December to January crosses the year.
  EXPECT_EQ(bounds(WindowKind::monthly, "America/New_York", "2026-12-31T12:00:00Z"),
            (WindowBounds{utc("2026-12-01T05:00:00Z"), utc("2027-01-01T05:00:00Z")}));
}

TEST(WindowBounds, MissingMidnightStartsTheDayAtTheTransition) {
  // Until 2019 São Paulo sprang forward at 00:00: 2018-11-04 began at 01:00 (UTC−2).
  const WindowBounds day = bounds(WindowKind::daily, "America/Sao_Paulo", "2018-11-04T12:00:00Z");
  EXPECT_EQ(day.start, utc("2018-11-04T03:00:00Z"));
  EXPECT_EQ(day.end, utc("2018-11-05T02:00:00Z"));
  const WindowBounds before =
      bounds(WindowKind::daily, "America/Sao_Paulo", "2018-11-04T02:59:59Z");
  EXPECT_EQ(before.end, day.start);
}

TEST(WindowBounds, ConsecutiveWindowsTileTimeInEveryZone) {
  for (const std::string_view zone : {"Europe/Berlin", "America/New_York", "America/Sao_Paulo",
                                      "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"}) {
    for (const WindowKind kind : kWindowKinds) {
      TimePoint cursor = at("2018-01-01T00:00:00Z");
      WindowBounds previous = *window_bounds(kind, zone, cursor);
      for (int step = 0; step < (kind == WindowKind::daily ? 800 : 30); ++step) {
        const auto next = window_bounds(kind, zone, TimePoint{previous.end});
        ASSERT_TRUE(next.has_value());
        ASSERT_EQ(next->start, previous.end) << zone << " " << to_string(kind);
        ASSERT_GT(next->end, next->start);
        if (kind == WindowKind::daily) {
          // 23 to 25 hours (Lord Howe shifts by 30 minutes).
          ASSERT_GE(next->end - next->start, hours(23)) << zone;
          ASSERT_LE(next->end - next->start, hours(25)) << zone;
        }
        const auto inside = window_bounds(kind, zone, TimePoint{next->end} - minutes(1));
        ASSERT_EQ(inside, next);
        previous = *next;
      }
    }
  }
}

TEST(WindowBounds, UnknownZone) {
  EXPECT_FALSE(window_bounds(WindowKind::daily, "Mars/Olympus_Mons", at("2026-01-01T00:00:00Z")));
  EXPECT_FALSE(is_known_timezone("Mars/Olympus_Mons"));
  EXPECT_TRUE(is_known_timezone("UTC"));
  EXPECT_TRUE(is_known_timezone("Europe/Berlin"));
}

TEST(WindowKindText, SpellsTheConfigNames) {
  EXPECT_EQ(to_string(WindowKind::daily), "daily");
  EXPECT_EQ(to_string(WindowKind::monthly), "monthly");
}

}  // namespace
}  // namespace spendwall::policies
