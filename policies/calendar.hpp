#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "policies/clock.hpp"

/// Calendar budget windows (PRODUCT.md §5): a `daily` window is one local calendar day and
/// a `monthly` one a local calendar month, in the workflow's IANA time zone, read from the
/// operating system's tz database (/usr/share/zoneinfo, Debian's `tzdata`). A day that
/// changes daylight-saving time lasts 23 or 25 hours.
///
/// Thread-safety: pure functions over the process-wide, immutable tz database (loaded once
/// on first use, behind a once-flag). Loading and each lookup cost microseconds: call them
/// on the control thread, never per request.
namespace spendwall::policies {

enum class WindowKind : std::uint8_t { daily, monthly };
inline constexpr std::size_t kWindowKindCount = 2;
inline constexpr WindowKind kWindowKinds[kWindowKindCount] = {WindowKind::daily,
                                                              WindowKind::monthly};

/// "daily" / "monthly", the spelling of the config and the admin API.
std::string_view to_string(WindowKind kind) noexcept;

using Seconds = std::chrono::sys_seconds;

/// A window as UTC instants: it holds every instant in [start, end).
struct WindowBounds {
  Seconds start{};
  Seconds end{};
  friend bool operator==(const WindowBounds&, const WindowBounds&) = default;
};

/// True when `timezone` names a zone of the tz database ("UTC" always does).
bool is_known_timezone(std::string_view timezone);

/// The `kind` window of `timezone` that holds `at`.
///
/// A window starts at local midnight of its first day; where that midnight does not exist
/// (a zone that springs forward at 00:00) it starts at the transition, and where it exists
/// twice it starts at the first one, so consecutive windows always tile time without gap
/// or overlap. nullopt when the zone is unknown.
std::optional<WindowBounds> window_bounds(WindowKind kind, std::string_view timezone, TimePoint at);

}  // namespace spendwall::policies
