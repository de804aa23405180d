#include "policies/budget_book.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "allocation_counter.hpp"
#include "policy_test_support.hpp"

namespace spendwall::policies {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::at;
using testing::config_of;
using testing::daily_budget;
using testing::kUsd;
using testing::utc;
using testing::workflow;

constexpr std::string_view kName = "support-assistant";

/// A book over one workflow, on a fake clock that starts at `start`.
struct Fixture {
  explicit Fixture(config::BudgetSpec budget, TimePoint start = at("2026-03-10T20:00:00Z"),
                   BudgetBookOptions options = {})
      : clock(start),
        config(config_of({workflow(std::string(kName), std::move(budget))})),
        book(config, clock, options),
        state(*book.find(kName)) {}

  Admission admit(NanoUsd amount, std::string_view session = {},
                  std::optional<NanoUsd> downgrade = std::nullopt) {
    return book.admit(state, AdmissionRequest{amount, downgrade, session});
  }
  WindowView window(WindowKind kind = WindowKind::daily) const {
    return book.view(kName)->windows[static_cast<std::size_t>(kind)];
  }
  void advance_and_roll(std::chrono::system_clock::duration by) {
    clock.advance(by);
    book.roll(clock.now());
  }

  FakeClock clock;
  config::ConfigSnapshot config;
  BudgetBook book;
  WorkflowBudget& state;
};

TEST(BudgetBook, AdmitsWhatFitsAndSettlesTheActualCost) {
  Fixture f(daily_budget(10 * kUsd));
  Admission admission = f.admit(4 * kUsd);
  ASSERT_EQ(admission.action, BudgetAction::admit);
  EXPECT_TRUE(admission.admitted());
  EXPECT_TRUE(admission.reservation.active());
  EXPECT_EQ(admission.reservation.amount(), 4 * kUsd);
  EXPECT_EQ(f.window().reserved, 4 * kUsd);
  EXPECT_EQ(f.book.remaining(f.state), 6 * kUsd);

  f.book.settle(admission.reservation, 1 * kUsd);
  EXPECT_FALSE(admission.reservation.active());
  const WindowView window = f.window();
  EXPECT_EQ(window.spent, 1 * kUsd);
  EXPECT_EQ(window.reserved, 0);
  EXPECT_EQ(window.remaining, 9 * kUsd);
  EXPECT_DOUBLE_EQ(window.utilization, 0.1);
  // A second settlement of the same handle does nothing.
  f.book.settle(admission.reservation, 5 * kUsd);
  EXPECT_EQ(f.window().spent, 1 * kUsd);
}

TEST(BudgetBook, BlockRefusesWhatDoesNotFitWithRetryAfterToTheWindowReset) {
  Fixture f(daily_budget(10 * kUsd));  // UTC; the clock is at 20:00
  Admission first = f.admit(4 * kUsd);
  Admission second = f.admit(4 * kUsd);
  Admission third = f.admit(4 * kUsd);
  EXPECT_EQ(first.action, BudgetAction::admit);
  EXPECT_EQ(second.action, BudgetAction::admit);
  ASSERT_EQ(third.action, BudgetAction::block);
  EXPECT_FALSE(third.admitted());
  EXPECT_FALSE(third.reservation.active());
  EXPECT_EQ(third.cause, RefusalCause::limit);
  EXPECT_EQ(third.window, WindowKind::daily);
  EXPECT_EQ(third.resets_at, utc("2026-03-11T00:00:00Z"));
  EXPECT_EQ(third.retry_after_seconds, 4 * 3600);
  EXPECT_EQ(f.window().reserved, 8 * kUsd);  // the refusal left nothing behind
  EXPECT_EQ(f.window().first_refusal, BudgetAction::block);
  // Exactly the limit fits.
  Admission exact = f.admit(2 * kUsd);
  EXPECT_EQ(exact.action, BudgetAction::admit);
  f.book.settle(first.reservation, 4 * kUsd);
  f.book.settle(second.reservation, 4 * kUsd);
  f.book.settle(exact.reservation, 2 * kUsd);
  EXPECT_EQ(f.window().spent, 10 * kUsd);
  EXPECT_EQ(f.window().overshoot, 0);
}

TEST(BudgetBook, RetryAfterNamesTheLatestResetAmongFullWindows) {
  config::BudgetSpec budget = daily_budget(10 * kUsd);
  budget.monthly = 12 * kUsd;
  budget.timezone = "Europe/Berlin";
  Fixture f(budget, at("2026-03-10T20:00:00Z"));
  Admission spend = f.admit(9 * kUsd);
  f.book.settle(spend.reservation, 9 * kUsd);
  // Next day: the daily window is empty again but the month is nearly spent.
  f.advance_and_roll(hours(24));
  const Admission blocked = f.admit(4 * kUsd);
  ASSERT_EQ(blocked.action, BudgetAction::block);
  EXPECT_EQ(blocked.window, WindowKind::monthly);
  EXPECT_EQ(blocked.resets_at, utc("2026-03-31T22:00:00Z"));  // Berlin's April
  EXPECT_EQ(
      blocked.retry_after_seconds,
      std::chrono::duration_cast<seconds>(utc("2026-03-31T22:00:00Z") - f.clock.now()).count());
  // Both full: the later reset wins even though the daily window refused first.
  Admission day = f.admit(3 * kUsd);
  ASSERT_EQ(day.action, BudgetAction::admit);
  f.book.settle(day.reservation, 3 * kUsd);
  const Admission both = f.admit(8 * kUsd);
  EXPECT_EQ(both.window, WindowKind::daily);
  EXPECT_EQ(both.resets_at, utc("2026-03-31T22:00:00Z"));
}

TEST(BudgetBook, DowngradeServesTheCheaperRouteAgainstTheSameBudget) {
  Fixture f(daily_budget(10 * kUsd, config::OnExceeded::downgrade));
  Admission big = f.admit(9 * kUsd);
  ASSERT_EQ(big.action, BudgetAction::admit);
  Admission downgraded = f.admit(4 * kUsd, {}, 1 * kUsd);
  ASSERT_EQ(downgraded.action, BudgetAction::downgrade);
  EXPECT_EQ(downgraded.cause, RefusalCause::limit);
  EXPECT_EQ(downgraded.window, WindowKind::daily);
  EXPECT_TRUE(downgraded.admitted());
  EXPECT_EQ(downgraded.reservation.amount(), 1 * kUsd);
  EXPECT_EQ(f.window().reserved, 10 * kUsd);
  EXPECT_EQ(f.window().first_refusal, BudgetAction::downgrade);
  f.book.settle(downgraded.reservation, 1 * kUsd);
  f.book.settle(big.reservation, 9 * kUsd);
  EXPECT_EQ(f.window().spent, 10 * kUsd);
  EXPECT_EQ(f.window().reserved, 0);
}

TEST(BudgetBook, AlertServesBeyondTheLimitAndCountsTheOvershoot) {
  Fixture f(daily_budget(10 * kUsd, config::OnExceeded::alert));
  Admission a = f.admit(8 * kUsd);
  Admission b = f.admit(8 * kUsd);
  EXPECT_EQ(a.action, BudgetAction::admit);
  ASSERT_EQ(b.action, BudgetAction::alert);
  f.book.settle(a.reservation, 8 * kUsd);
  f.book.settle(b.reservation, 7 * kUsd);
  const WindowView window = f.window();
  EXPECT_EQ(window.spent, 15 * kUsd);
  EXPECT_EQ(window.overshoot, 5 * kUsd);
  EXPECT_EQ(window.overshoot_total, 5 * kUsd);
  EXPECT_EQ(window.remaining, -5 * kUsd);
  EXPECT_DOUBLE_EQ(window.utilization, 1.5);
}

TEST(BudgetBook, CeilingBlocksEveryActionBeyondLimitTimesCeiling) {
  config::BudgetSpec budget = daily_budget(10 * kUsd, config::OnExceeded::alert);
  budget.ceiling = 1.25;
  Fixture f(budget);
  std::vector<Admission> served;
  for (int i = 0; i < 5; ++i) served.push_back(f.admit(2 * kUsd));  // 10: the limit
  served.push_back(f.admit(2 * kUsd));                              // 12: alert
  for (const Admission& admission : served) ASSERT_TRUE(admission.admitted());
  EXPECT_EQ(served.back().action, BudgetAction::alert);
  const Admission blocked = f.admit(1 * kUsd);  // 13 > 12.5
  ASSERT_EQ(blocked.action, BudgetAction::block);
  EXPECT_EQ(blocked.cause, RefusalCause::ceiling);
  EXPECT_GT(blocked.retry_after_seconds, 0);
  EXPECT_EQ(f.admit(kUsd / 2).action, BudgetAction::alert);  // exactly 12.5
  EXPECT_EQ(f.window().ceiling_limit, 12'500'000'000);
}

TEST(BudgetBook, SessionCapAlwaysBlocksAndGivesTheWindowsBack) {
  config::BudgetSpec budget = daily_budget(100 * kUsd, config::OnExceeded::alert);
  budget.session_cap = 2 * kUsd;
  Fixture f(budget);
  Admission first = f.admit(1'500'000'000, "run-42");
  ASSERT_EQ(first.action, BudgetAction::admit);
  EXPECT_TRUE(first.reservation.has_session());
  const Admission second = f.admit(1 * kUsd, "run-42");
  ASSERT_EQ(second.action, BudgetAction::session_block);
  EXPECT_EQ(second.cause, RefusalCause::session_cap);
  EXPECT_EQ(second.retry_after_seconds, 0);
  EXPECT_EQ(f.window().reserved, 1'500'000'000);
  // Another session, and no session at all, are not affected.
  Admission other = f.admit(1 * kUsd, "run-43");
  EXPECT_EQ(other.action, BudgetAction::admit);
  Admission anonymous = f.admit(5 * kUsd);
  EXPECT_EQ(anonymous.action, BudgetAction::admit);
  EXPECT_FALSE(anonymous.reservation.has_session());
  f.book.settle(first.reservation, 500'000'000);
  // Settled below its reservation: room again in the session.
  Admission third = f.admit(1 * kUsd, "run-42");
  EXPECT_EQ(third.action, BudgetAction::admit);
  f.book.settle(third.reservation, 1 * kUsd);
  f.book.settle(other.reservation, 0);
  f.book.settle(anonymous.reservation, 0);

  const auto session = f.book.session_view(kName, "run-42");
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->cap, 2 * kUsd);
  EXPECT_EQ(session->spent, 1'500'000'000);
  EXPECT_EQ(session->reserved, 0);
  EXPECT_EQ(session->remaining, 500'000'000);
  const auto counts = f.book.view(kName)->sessions;
  EXPECT_EQ(counts.active, 2u);
  EXPECT_EQ(counts.capped, 1u);
  EXPECT_EQ(f.book.session_view(kName, "never-seen")->spent, 0);
}

TEST(BudgetBook, SessionSpendOutlivesWindowsAndExpiresAfterADayIdle) {
  config::BudgetSpec budget = daily_budget(100 * kUsd);
  budget.session_cap = 2 * kUsd;
  Fixture f(budget);
  Admission spend = f.admit(2 * kUsd, "agent");
  f.book.settle(spend.reservation, 2 * kUsd);
  f.advance_and_roll(hours(23));  // a new daily window, same session
  EXPECT_EQ(f.admit(1, "agent").action, BudgetAction::session_block);
  f.advance_and_roll(hours(24));  // a day since the last request: forgotten
  Admission fresh = f.admit(2 * kUsd, "agent");
  EXPECT_EQ(fresh.action, BudgetAction::admit);
  f.book.settle(fresh.reservation, 0);
}

TEST(BudgetBook, NewSessionsAreRefusedAtTheBound) {
  config::BudgetSpec budget = daily_budget(100 * kUsd);
  budget.session_cap = 2 * kUsd;
  Fixture f(budget, at("2026-03-10T20:00:00Z"), BudgetBookOptions{.max_sessions = 2});
  Admission a = f.admit(1, "a");
  Admission b = f.admit(1, "b");
  ASSERT_TRUE(a.admitted() && b.admitted());
  const Admission c = f.admit(1, "c");
  EXPECT_EQ(c.action, BudgetAction::session_block);
  EXPECT_EQ(c.cause, RefusalCause::session_table_full);
  EXPECT_EQ(f.window().reserved, 2);
  Admission known = f.admit(1, "a");  // known sessions keep working
  EXPECT_EQ(known.action, BudgetAction::admit);
  for (Admission* admission : {&a, &b, &known}) f.book.settle(admission->reservation, 1);
  f.advance_and_roll(hours(25));
  Admission later = f.admit(1, "c");
  EXPECT_EQ(later.action, BudgetAction::admit);
  f.book.settle(later.reservation, 1);
}

TEST(BudgetBook, RolloverOpensFreshWindowsAndOldReservationsSettleIntoTheirOwn) {
  Fixture f(daily_budget(10 * kUsd), at("2026-03-10T23:59:00Z"));
  Admission straddling = f.admit(6 * kUsd);
  ASSERT_EQ(straddling.action, BudgetAction::admit);
  f.advance_and_roll(std::chrono::minutes(2));
  const WindowView fresh = f.window();
  EXPECT_EQ(fresh.bounds.start, utc("2026-03-11T00:00:00Z"));
  EXPECT_EQ(fresh.spent, 0);
  EXPECT_EQ(fresh.reserved, 0);
  // The new window admits up to its full limit although the old request is still out.
  Admission today = f.admit(10 * kUsd);
  EXPECT_EQ(today.action, BudgetAction::admit);
  f.book.settle(straddling.reservation, 5 * kUsd);
  const auto view = f.book.view(kName);
  const WindowView& previous = *view->previous[0];
  EXPECT_EQ(previous.bounds.start, utc("2026-03-10T00:00:00Z"));
  EXPECT_EQ(previous.spent, 5 * kUsd);
  EXPECT_EQ(previous.reserved, 0);
  EXPECT_EQ(view->windows[0].reserved, 10 * kUsd);
  f.book.settle(today.reservation, 10 * kUsd);
  EXPECT_EQ(f.window().spent, 10 * kUsd);
  EXPECT_EQ(f.window().reserved, 0);
}

TEST(BudgetBook, RolloverWaitsWhileEverySpareSlotHoldsReservations) {
  Fixture f(daily_budget(10 * kUsd));
  std::vector<Admission> stuck;
  for (int day = 0; day < 4; ++day) {
    stuck.push_back(f.admit(1 * kUsd));
    f.advance_and_roll(hours(24));
  }
  // Four windows each hold a request: the fourth rollover found no free slot.
  EXPECT_EQ(f.book.deferred_rollovers(), 1u);
  EXPECT_EQ(f.window().bounds.start, utc("2026-03-13T00:00:00Z"));
  f.book.settle(stuck.front().reservation, 1 * kUsd);
  f.book.roll(f.clock.now());
  EXPECT_EQ(f.window().bounds.start, utc("2026-03-14T00:00:00Z"));
  for (Admission& admission : stuck) f.book.settle(admission.reservation, 0);
}

TEST(BudgetBook, OverridesReplaceTheLimitWhileActive) {
  config::BudgetSpec budget = daily_budget(200 * kUsd);
  budget.timezone = "Europe/Berlin";
  config::WorkflowPolicy policy = workflow(std::string(kName), budget);
  config::OverrideSpec launch;
  launch.name = "holiday-launch";
  launch.from = utc("2026-12-01T00:00:00Z");
  launch.until = utc("2026-12-01T12:00:00Z");  // ends within the Berlin day it began in
  launch.daily = 600 * kUsd;
  launch.reason = "Holiday launch traffic";
  launch.approved_by = "vp-platform";
  policy.overrides = {launch};
  FakeClock clock(at("2026-11-30T23:59:59Z"));
  BudgetBook book(config_of({policy}), clock);
  WorkflowBudget& state = *book.find(kName);

  EXPECT_EQ(book.view(kName)->windows[0].limit, 200 * kUsd);
  EXPECT_FALSE(book.view(kName)->active_override);
  clock.advance(seconds(1));
  book.roll(clock.now());
  auto view = book.view(kName);
  EXPECT_EQ(view->windows[0].limit, 600 * kUsd);
  EXPECT_EQ(view->windows[0].override_name, "holiday-launch");
  ASSERT_TRUE(view->active_override);
  EXPECT_EQ(view->active_override->name, "holiday-launch");
  EXPECT_FALSE(view->windows[1].limit);  // no monthly limit either way

  Admission launch_day = book.admit(state, {400 * kUsd, std::nullopt, {}});
  EXPECT_EQ(launch_day.action, BudgetAction::admit);
  book.settle(launch_day.reservation, 400 * kUsd);

  clock.set(at("2026-12-01T12:00:00Z"));
  book.roll(clock.now());
  view = book.view(kName);
  EXPECT_EQ(view->windows[0].limit, 200 * kUsd);
  EXPECT_TRUE(view->windows[0].override_name.empty());
  EXPECT_FALSE(view->active_override);
  EXPECT_EQ(book.admit(state, {1, std::nullopt, {}}).action, BudgetAction::block);
}

TEST(BudgetBook, ReloadKeepsStateByNameAndAppliesNewRules) {
  Fixture f(daily_budget(10 * kUsd));
  Admission spend = f.admit(4 * kUsd);
  f.book.settle(spend.reservation, 4 * kUsd);

  config::BudgetSpec tighter = daily_budget(5 * kUsd);
  tighter.timezone = "America/New_York";
  f.book.apply(
      config_of({workflow(std::string(kName), tighter), workflow("new-one", daily_budget(kUsd))}));
  ASSERT_EQ(f.book.find(kName), &f.state);  // same state object
  WindowView window = f.window();
  EXPECT_EQ(window.spent, 4 * kUsd);
  EXPECT_EQ(window.limit, 5 * kUsd);
  // 20:00 UTC is 16:00 in New York: the current day is re-cut in the new zone.
  EXPECT_EQ(window.bounds.start, utc("2026-03-10T04:00:00Z"));
  EXPECT_EQ(f.admit(2 * kUsd).action, BudgetAction::block);
  ASSERT_NE(f.book.find("new-one"), nullptr);
  EXPECT_EQ(f.book.views().size(), 2u);

  f.book.apply(config_of({workflow("new-one", daily_budget(kUsd))}));
  EXPECT_EQ(f.book.find(kName), nullptr);
  EXPECT_EQ(f.book.views().size(), 1u);
  f.book.apply(config_of({workflow(std::string(kName), tighter)}));
  ASSERT_EQ(f.book.find(kName), &f.state);
  EXPECT_EQ(f.window().spent, 4 * kUsd);  // came back with its spend
}

TEST(BudgetBook, WorkflowWithoutBudgetIsTrackedButNeverLimited) {
  FakeClock clock(at("2026-03-10T20:00:00Z"));
  BudgetBook book(config_of({workflow("free", std::nullopt)}), clock);
  Admission admission = book.admit(*book.find("free"), {1'000 * kUsd, std::nullopt, "s"});
  EXPECT_EQ(admission.action, BudgetAction::admit);
  EXPECT_FALSE(admission.reservation.has_session());
  EXPECT_FALSE(book.remaining(*book.find("free")));
  book.settle(admission.reservation, 3 * kUsd);
  const auto view = book.view("free");
  EXPECT_FALSE(view->has_budget);
  EXPECT_FALSE(view->windows[0].limit);
  EXPECT_EQ(view->windows[0].spent, 3 * kUsd);
  EXPECT_FALSE(book.session_view("free", "s"));
}

TEST(BudgetBook, RestoresSpendAndSessionsFromTheLedger) {
  config::BudgetSpec budget = daily_budget(10 * kUsd);
  budget.monthly = 100 * kUsd;
  budget.session_cap = 2 * kUsd;
  Fixture f(budget);
  EXPECT_TRUE(
      f.book.restore_spend(kName, WindowKind::daily, utc("2026-03-10T00:00:00Z"), 7 * kUsd));
  EXPECT_TRUE(
      f.book.restore_spend(kName, WindowKind::monthly, utc("2026-03-01T00:00:00Z"), 70 * kUsd));
  EXPECT_FALSE(f.book.restore_spend(kName, WindowKind::daily, utc("2026-03-09T00:00:00Z"), kUsd));
  EXPECT_FALSE(
      f.book.restore_spend("unknown", WindowKind::daily, utc("2026-03-10T00:00:00Z"), kUsd));
  EXPECT_TRUE(f.book.restore_session(kName, "run-42", 2 * kUsd, f.clock.now() - hours(1)));
  EXPECT_EQ(f.window().spent, 7 * kUsd);
  EXPECT_EQ(f.window(WindowKind::monthly).spent, 70 * kUsd);
  EXPECT_EQ(f.admit(4 * kUsd).action, BudgetAction::block);
  EXPECT_EQ(f.admit(1 * kUsd, "run-42").action, BudgetAction::session_block);
  Admission other = f.admit(1 * kUsd, "run-43");
  EXPECT_EQ(other.action, BudgetAction::admit);
  f.book.settle(other.reservation, 0);
}

TEST(BudgetBook, AdmissionAndSettlementAllocateNothing) {
  config::BudgetSpec budget = daily_budget(1'000 * kUsd);
  budget.monthly = 10'000 * kUsd;
  budget.session_cap = 100 * kUsd;
  Fixture f(budget);
  Admission warm = f.admit(kUsd, "warm");
  f.book.settle(warm.reservation, kUsd);
  const std::size_t before = metering::testing::allocations_on_this_thread();
  for (int i = 0; i < 100; ++i) {
    Admission admission = f.admit(kUsd, i % 2 ? std::string_view("run-1") : std::string_view{});
    f.book.settle(admission.reservation, kUsd / 2);
    (void)f.book.remaining(f.state);
  }
  const Admission blocked = f.admit(100'000 * kUsd);
  const std::size_t after = metering::testing::allocations_on_this_thread();
  EXPECT_EQ(blocked.action, BudgetAction::block);
  EXPECT_EQ(after, before);
}

TEST(BudgetAction, LabelsMatchTheLedgerAndMetrics) {
  EXPECT_EQ(budget_action_label(BudgetAction::admit), "none");
  EXPECT_EQ(budget_action_label(BudgetAction::downgrade), "downgraded");
  EXPECT_EQ(budget_action_label(BudgetAction::alert), "alerted");
  EXPECT_EQ(budget_action_label(BudgetAction::block), "blocked");
  EXPECT_EQ(budget_action_label(BudgetAction::session_block), "session_blocked");
  EXPECT_EQ(to_string(RefusalCause::session_table_full), "session_table_full");
}

// Hundreds of threads race for a budget that fits a fraction of their requests. Every
// request settles at its reservation, so exactly limit ÷ amount can be admitted.
TEST(BudgetBookConcurrency, AdmitsExactlyWhatFitsAndNeverOvershoots) {
  constexpr int kThreads = 256;
  constexpr int kRequestsPerThread = 40;
  constexpr NanoUsd kAmount = 3 * kUsd;
  constexpr NanoUsd kLimit = 3'000 * kUsd;  // fits 1000 of 10 240
  config::BudgetSpec budget = daily_budget(kLimit);
  budget.monthly = kLimit * 2;
  Fixture f(budget);
  std::atomic<int> admitted{0};
  std::atomic<int> blocked{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kRequestsPerThread; ++i) {
        Admission admission = f.admit(kAmount);
        if (admission.admitted()) {
          ++admitted;
          ASSERT_GE(f.book.remaining(f.state).value_or(-1), 0);
          f.book.settle(admission.reservation, kAmount);
        } else {
          ++blocked;
        }
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), kLimit / kAmount);
  EXPECT_EQ(admitted.load() + blocked.load(), kThreads * kRequestsPerThread);
  const WindowView window = f.window();
  EXPECT_EQ(window.spent, kLimit);
  EXPECT_EQ(window.reserved, 0);
  EXPECT_EQ(window.overshoot_total, 0);
  EXPECT_EQ(f.window(WindowKind::monthly).reserved, 0);
}

// A fault storm: requests settle with their actual cost, with zero (a failure before
// any token was billed), or not at all until the end (a slow stream), from many threads,
// with sessions; rollovers and overrides move underneath. Nothing is lost: every ledger
// ends with no reservation and the spend is exactly what was settled.
TEST(BudgetBookConcurrency, FaultStormLeavesNoReservationBehind) {
  constexpr int kThreads = 64;
  constexpr int kRequestsPerThread = 500;
  config::BudgetSpec budget = daily_budget(200 * kUsd, config::OnExceeded::downgrade);
  budget.monthly = 1'000 * kUsd;
  budget.ceiling = 1.5;
  budget.session_cap = 5 * kUsd;
  Fixture f(budget, at("2026-03-10T23:59:00Z"), BudgetBookOptions{.max_sessions = 128});
  std::atomic<NanoUsd> settled{0};
  std::atomic<bool> go{false};
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 random(static_cast<std::uint64_t>(t));
      std::vector<Reservation> slow;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const NanoUsd amount = static_cast<NanoUsd>(random() % (2 * kUsd));
        const std::string session = "s" + std::to_string(random() % 300);
        Admission admission =
            f.admit(amount, random() % 2 ? std::string_view(session) : "", amount / 4);
        if (!admission.admitted()) continue;
        const NanoUsd reserved = admission.reservation.amount();
        NanoUsd actual = 0;
        switch (random() % 4) {
          case 0:
            actual = 0;
            break;  // failed upstream
          case 1:
            actual = reserved;
            break;  // used it all
          case 2:
            actual = static_cast<NanoUsd>(random() % (reserved + 1));
            break;
          case 3:
            slow.push_back(admission.reservation);
            continue;  // settles later
        }
        f.book.settle(admission.reservation, actual);
        settled += actual;
      }
      for (Reservation& reservation : slow) {
        settled += reservation.amount();
        f.book.settle(reservation, reservation.amount());
      }
      --running;
    });
  }
  go = true;
  // The control thread meanwhile: midnight passes, time moves on, sessions expire.
  while (running.load() > 0) {
    f.advance_and_roll(std::chrono::minutes(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& thread : threads) thread.join();
  f.book.roll(f.clock.now());
  const auto view = f.book.view(kName);
  for (std::size_t kind = 0; kind < kWindowKindCount; ++kind) {
    EXPECT_EQ(view->windows[kind].reserved, 0);
    if (view->previous[kind]) {
      EXPECT_EQ(view->previous[kind]->reserved, 0);
    }
  }
  // Every settlement lands in the month (the clock stays in March).
  EXPECT_EQ(view->windows[1].spent, settled.load());
  f.book.sessions().for_each(
      [](const SessionTable::Entry& entry) { EXPECT_EQ(entry.reserved, 0); });
}

}  // namespace
}  // namespace spendwall::policies
