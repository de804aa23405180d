#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "policies/clock.hpp"

/// Instants as the admin API writes them.
/// Thread-safety: pure functions.
namespace spendwall::policies {

/// `2026-12-02T09:14:03Z`: RFC 3339 in UTC, whole seconds (rounded down).
inline std::string rfc3339(TimePoint at) {
  using namespace std::chrono;
  const auto whole = floor<seconds>(at);
  const auto day = floor<days>(whole);
  const year_month_day date{day};
  const hh_mm_ss time{whole - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return text;
}

}  // namespace spendwall::policies
