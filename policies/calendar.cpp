#include "policies/calendar.hpp"

#include <date/tz.h>

#include <exception>

namespace spendwall::policies {
namespace {

using LocalDays = date::local_days;

bool is_utc(std::string_view timezone) noexcept {
  return timezone == "UTC" || timezone == "Etc/UTC";
}

/// The zone, or nullptr when the tz database does not know it. `locate_zone` reports an
/// unknown name (and a missing database) by throwing.
const date::time_zone* find_zone(std::string_view timezone) {
  try {
    return date::locate_zone(timezone);
  } catch (const std::exception&) {
    return nullptr;
  }
}

/// First local day of the window holding local day `day`, and the first one after it.
std::pair<LocalDays, LocalDays> window_days(WindowKind kind, LocalDays day) {
  if (kind == WindowKind::daily) return {day, day + date::days{1}};
  const date::year_month_day ymd{day};
  const date::year_month month = ymd.year() / ymd.month();
  const date::year_month next = month + date::months{1};
  return {LocalDays{month / date::day{1}}, LocalDays{next / date::day{1}}};
}

}  // namespace

std::string_view to_string(WindowKind kind) noexcept {
  return kind == WindowKind::daily ? "daily" : "monthly";
}

bool is_known_timezone(std::string_view timezone) {
  return is_utc(timezone) || find_zone(timezone) != nullptr;
}

std::optional<WindowBounds> window_bounds(WindowKind kind, std::string_view timezone,
                                          TimePoint at) {
  const auto at_seconds = std::chrono::floor<std::chrono::seconds>(at);
  if (is_utc(timezone)) {
    // No database needed: local time is UTC.
    const auto day = LocalDays{std::chrono::floor<date::days>(at_seconds).time_since_epoch()};
    const auto [first, after] = window_days(kind, day);
    return WindowBounds{Seconds{first.time_since_epoch()}, Seconds{after.time_since_epoch()}};
  }
  const date::time_zone* zone = find_zone(timezone);
  if (zone == nullptr) return std::nullopt;
  const auto local = zone->to_local(at_seconds);
  const auto [first, after] = window_days(kind, std::chrono::floor<date::days>(local));
  // choose::earliest: an ambiguous midnight starts the day at its first occurrence; a
  // missing one maps to the transition instant (date's rule for nonexistent local times).
  return WindowBounds{zone->to_sys(first, date::choose::earliest),
                      zone->to_sys(after, date::choose::earliest)};
}

}  // namespace spendwall::policies
