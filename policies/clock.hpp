#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

/// The time source of budget windows, overrides and exception detection, injectable so
/// tests move time by hand instead of sleeping.
/// Thread-safety: `now()` may be called from any thread on both implementations;
/// `FakeClock::set`/`advance` may race with readers (the time is one atomic).
namespace spendwall::policies {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

/// The wall clock. Budget windows are calendar windows, so this must be the system (UTC)
/// clock, not a steady one.
class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override { return std::chrono::system_clock::now(); }
};

/// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{}) noexcept
      : ticks_(start.time_since_epoch().count()) {}

  TimePoint now() const noexcept override {
    return TimePoint{TimePoint::duration{ticks_.load(std::memory_order_acquire)}};
  }
  void set(TimePoint time) noexcept {
    ticks_.store(time.time_since_epoch().count(), std::memory_order_release);
  }
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> by) noexcept {
    ticks_.fetch_add(std::chrono::duration_cast<TimePoint::duration>(by).count(),
                     std::memory_order_acq_rel);
  }

 private:
  std::atomic<TimePoint::rep> ticks_;
};

}  // namespace spendwall::policies
