#include "policies/session_table.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace spendwall::policies {
namespace {

constexpr std::int64_t kDay = 24 * 3600;
constexpr std::uint64_t kSeed = 42;

std::uint64_t key(std::string_view session) { return SessionTable::key_of(1, session, kSeed); }

TEST(SessionTable, HoldFindsTheSameSessionAgain) {
  SessionTable table(16);
  const std::uint32_t first = table.hold(key("run-1"), 3, 100);
  ASSERT_NE(first, SessionTable::kNoSlot);
  const std::uint32_t again = table.hold(key("run-1"), 3, 101);
  EXPECT_EQ(again, first);
  const std::uint32_t other = table.hold(key("run-2"), 3, 101);
  EXPECT_NE(other, first);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.find(key("run-1")), first);
  EXPECT_EQ(table.entry(first).owner, 3u);
  EXPECT_EQ(table.entry(first).last_used_seconds, 101);
  table.unhold(first);
  table.unhold(again);
  table.unhold(other);
}

TEST(SessionTable, KeysDependOnWorkflowSeedAndId) {
  EXPECT_NE(SessionTable::key_of(1, "run", kSeed), SessionTable::key_of(2, "run", kSeed));
  EXPECT_NE(SessionTable::key_of(1, "run", kSeed), SessionTable::key_of(1, "run", kSeed + 1));
  EXPECT_NE(SessionTable::key_of(1, "run-1", kSeed), SessionTable::key_of(1, "run-2", kSeed));
  EXPECT_EQ(SessionTable::key_of(1, "run", kSeed) >> 63, 0u);
}

TEST(SessionTable, RefusesNewSessionsAtTheBoundAndKeepsServingKnownOnes) {
  SessionTable table(4);
  for (int i = 0; i < 4; ++i) {
    const auto slot = table.hold(key("s" + std::to_string(i)), 0, 0);
    ASSERT_NE(slot, SessionTable::kNoSlot);
    table.unhold(slot);
  }
  EXPECT_EQ(table.hold(key("s4"), 0, 0), SessionTable::kNoSlot);
  EXPECT_EQ(table.refused(), 1u);
  const auto known = table.hold(key("s2"), 0, 0);
  EXPECT_NE(known, SessionTable::kNoSlot);
  table.unhold(known);
  EXPECT_EQ(table.size(), 4u);
}

TEST(SessionTable, IdleSessionsExpireAndFreeTheirRoom) {
  SessionTable table(2);
  const auto a = table.hold(key("a"), 0, 1000);
  const auto b = table.hold(key("b"), 0, 1000);
  table.ledger(a).reserve(5, 100, true);
  table.ledger(a).settle(5, 5);
  table.unhold(a);
  EXPECT_EQ(table.hold(key("c"), 0, 1000), SessionTable::kNoSlot);
  // b still holds a reservation: never expired, however old.
  EXPECT_EQ(table.expire_idle(1000 + kDay - 1, kDay), 0u);
  EXPECT_EQ(table.expire_idle(1000 + kDay, kDay), 1u);
  EXPECT_EQ(table.find(key("a")), SessionTable::kNoSlot);
  EXPECT_NE(table.find(key("b")), SessionTable::kNoSlot);
  const auto c = table.hold(key("c"), 0, 1000 + kDay);
  ASSERT_NE(c, SessionTable::kNoSlot);
  EXPECT_EQ(table.ledger(c).spent(), 0);
  // A returning session starts over.
  table.unhold(c);
  EXPECT_EQ(table.expire_idle(1000 + 2 * kDay, kDay), 1u);  // c
  const auto again = table.hold(key("a"), 0, 1000 + 2 * kDay);
  ASSERT_NE(again, SessionTable::kNoSlot);
  EXPECT_EQ(table.ledger(again).spent(), 0);
  table.unhold(again);
  table.unhold(b);
}

TEST(SessionTable, RestoreRebuildsSpend) {
  SessionTable table(8);
  ASSERT_TRUE(table.restore(key("run-42"), 7, 310'000'000, 5000));
  const auto slot = table.find(key("run-42"));
  ASSERT_NE(slot, SessionTable::kNoSlot);
  EXPECT_EQ(table.entry(slot).spent, 310'000'000);
  EXPECT_EQ(table.entry(slot).last_used_seconds, 5000);
  EXPECT_EQ(table.entry(slot).owner, 7u);
}

// Many first requests of the same new sessions at once: each session ends up in exactly
// one slot, and every thread got that slot.
TEST(SessionTable, ConcurrentFirstRequestsShareOneEntry) {
  constexpr int kThreads = 32;
  constexpr int kSessions = 400;
  SessionTable table(1024);
  std::vector<std::vector<std::uint32_t>> seen(kThreads, std::vector<std::uint32_t>(kSessions));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int s = 0; s < kSessions; ++s) {
        const int session = (s + t * 7) % kSessions;
        seen[t][session] = table.hold(key("s" + std::to_string(session)), 0, 0);
        table.unhold(seen[t][session]);
      }
    });
  }
  go = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(table.size(), static_cast<std::size_t>(kSessions));
  for (int s = 0; s < kSessions; ++s) {
    EXPECT_EQ(table.copies(key("s" + std::to_string(s))), 1u);
    for (int t = 1; t < kThreads; ++t) ASSERT_EQ(seen[t][s], seen[0][s]) << "session " << s;
  }
}

// Expiry sweeps racing with insertions and reservations: no session is ever stored twice,
// no reservation is lost, and every ledger returns to no reservation.
TEST(SessionTable, ExpiryRacingInsertionsNeverDuplicates) {
  constexpr int kThreads = 8;
  constexpr int kSessions = 48;  // all in a few probe windows: maximal contention
  SessionTable table(64);
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> clock{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      while (!stop.load(std::memory_order_relaxed)) {
        const auto k = key("s" + std::to_string(random() % kSessions));
        const auto slot = table.hold(k, 0, clock.load());
        if (slot == SessionTable::kNoSlot) continue;
        ASSERT_LE(table.copies(k), 1u);
        table.ledger(slot).reserve(3, 1'000'000, true);
        table.ledger(slot).settle(3, random() % 4);
        table.unhold(slot);
      }
    });
  }
  std::size_t expired = 0;
  for (int sweep = 0; sweep < 3000; ++sweep) {
    clock.fetch_add(2);
    expired += table.expire_idle(clock.load(), 1);  // anything not used this instant
  }
  stop = true;
  for (auto& worker : workers) worker.join();
  EXPECT_GT(expired, 0u);
  std::size_t live = 0;
  for (int s = 0; s < kSessions; ++s) {
    const auto k = key("s" + std::to_string(s));
    ASSERT_LE(table.copies(k), 1u);
    if (const auto slot = table.find(k); slot != SessionTable::kNoSlot) {
      ++live;
      EXPECT_EQ(table.entry(slot).reserved, 0);
    }
  }
  EXPECT_EQ(live, table.size());
}

}  // namespace
}  // namespace spendwall::policies
