#include "proxy/routing/target_health.hpp"

#include <gtest/gtest.h>

namespace spendwall::proxy::routing {
namespace {

using namespace std::chrono_literals;
using Clock = TargetHealth::Clock;

TEST(TargetHealth, CoolsDownAfterConsecutiveFailuresAndComesBack) {
  TargetHealth health(2);
  Clock::time_point start{};
  EXPECT_TRUE(health.available(0, start));
  health.record_failure(0, start, 30s, 3);
  health.record_failure(0, start + 1s, 30s, 3);
  EXPECT_TRUE(health.available(0, start + 2s));
  health.record_failure(0, start + 2s, 30s, 3);
  EXPECT_FALSE(health.available(0, start + 2s));
  EXPECT_FALSE(health.available(0, start + 31s));
  EXPECT_TRUE(health.available(0, start + 32s));
  EXPECT_TRUE(health.available(1, start + 2s)) << "other targets are unaffected";
}

TEST(TargetHealth, SuccessResetsTheFailureCount) {
  TargetHealth health(1);
  Clock::time_point start{};
  health.record_failure(0, start, 30s, 2);
  health.record_success(0);
  health.record_failure(0, start, 30s, 2);
  EXPECT_TRUE(health.available(0, start));
}

TEST(TargetHealth, ProviderBackOffIsNotShortenedByALaterCooldown) {
  TargetHealth health(1);
  Clock::time_point start{};
  health.cool_down(0, start + 120s);
  health.record_failure(0, start, 10s, 1);
  EXPECT_FALSE(health.available(0, start + 60s));
  EXPECT_TRUE(health.available(0, start + 120s));
}

TEST(TargetHealth, UnknownSlotsAreAlwaysAvailable) {
  TargetHealth health(1);
  health.record_failure(5, Clock::time_point{}, 10s, 1);
  EXPECT_TRUE(health.available(5, Clock::time_point{}));
}

}  // namespace
}  // namespace spendwall::proxy::routing
