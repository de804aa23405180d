#include "metering/ledger/ledger.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger_test_support.hpp"

// What every backend promises, run on each: the memory backend must behave as the SQLite
// one does, or tests written against it prove nothing.
namespace spendwall::metering::ledger {
namespace {

using testing::full_record;
using testing::minimal_record;

class LedgerBackendTest : public ::testing::TestWithParam<config::LedgerBackend> {
 protected:
  void SetUp() override {
    config::LedgerSpec spec = testing::sqlite_spec(dir_);
    spec.backend = GetParam();
    std::string error;
    ledger_ = open_ledger(spec, error);
    ASSERT_NE(ledger_, nullptr) << error;
  }

  testing::TempDir dir_;
  std::unique_ptr<Ledger> ledger_;
};

TEST_P(LedgerBackendTest, AppendedRecordsAreFound) {
  auto writer = ledger_->writer_for_worker(0);
  const RequestRecord full = full_record(1);
  const RequestRecord minimal = minimal_record("req_min");
  ASSERT_TRUE(writer->append(full));
  ASSERT_TRUE(writer->append(minimal));
  // Found without an explicit flush: a query looks in the spool when the store misses.
  EXPECT_EQ(ledger_->find("req_1"), full);
  EXPECT_EQ(ledger_->find("req_min"), minimal);
  EXPECT_EQ(ledger_->find("req_unknown"), std::nullopt);
  EXPECT_EQ(ledger_->records_written(), 2u);
  EXPECT_EQ(ledger_->write_errors(), 0u);
  EXPECT_TRUE(ledger_->writable());
}

TEST_P(LedgerBackendTest, TheFirstRecordOfAnIdWins) {
  auto writer = ledger_->writer_for_worker(0);
  RequestRecord record = full_record(1);
  ASSERT_TRUE(writer->append(record));
  ASSERT_TRUE(ledger_->flush());
  record.cost += 1;
  ASSERT_TRUE(writer->append(record));
  ASSERT_TRUE(ledger_->flush());
  EXPECT_EQ(ledger_->totals(), (Totals{1, full_record(1).cost}));
}

TEST_P(LedgerBackendTest, TotalsAreExactUnderConcurrentWriters) {
  ledger_->start();
  constexpr unsigned kWorkers = 3;
  constexpr std::size_t kPerWorker = 400;
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < kWorkers; ++w) {
    workers.emplace_back([this, w] {
      auto writer = ledger_->writer_for_worker(w);
      for (std::size_t i = 0; i < kPerWorker; ++i) {
        EXPECT_TRUE(writer->append(full_record(w * kPerWorker + i)));
      }
    });
  }
  for (auto& worker : workers) worker.join();

  config::NanoUsd expected_cost = 0;
  for (std::size_t i = 0; i < kWorkers * kPerWorker; ++i) expected_cost += full_record(i).cost;
  EXPECT_EQ(ledger_->totals(), (Totals{kWorkers * kPerWorker, expected_cost}));
  EXPECT_EQ(ledger_->records_written(), kWorkers * kPerWorker);
  ledger_->stop();
  EXPECT_EQ(ledger_->totals(), (Totals{kWorkers * kPerWorker, expected_cost}));
}

TEST_P(LedgerBackendTest, SetOutcomeAnswersEachCase) {
  auto writer = ledger_->writer_for_worker(0);
  RequestRecord record = minimal_record("req_1");
  ASSERT_TRUE(writer->append(record));
  const Outcome accepted{"accepted", 0.9, "good", testing::recent_time()};
  const Outcome rejected{"rejected", std::nullopt, std::nullopt, testing::recent_time()};

  EXPECT_EQ(ledger_->set_outcome("req_2", "support-assistant", accepted, false),
            OutcomeResult::not_found);
  EXPECT_EQ(ledger_->set_outcome("req_1", "search", accepted, false), OutcomeResult::not_yours);
  // Not flushed yet: the outcome still finds its request.
  EXPECT_EQ(ledger_->set_outcome("req_1", "support-assistant", accepted, false), OutcomeResult::ok);
  EXPECT_EQ(ledger_->set_outcome("req_1", "support-assistant", rejected, false),
            OutcomeResult::exists);
  record.outcome = accepted;
  EXPECT_EQ(ledger_->find("req_1"), record);

  EXPECT_EQ(ledger_->set_outcome("req_1", "support-assistant", rejected, true), OutcomeResult::ok);
  record.outcome = rejected;
  EXPECT_EQ(ledger_->find("req_1"), record);
}

TEST_P(LedgerBackendTest, WritersMayOutliveTheLedger) {
  auto writer = ledger_->writer_for_worker(0);
  ledger_.reset();
  EXPECT_TRUE(writer->append(full_record(0)));
}

StoredException exception_event(std::string id, std::string key,
                                std::chrono::system_clock::time_point at) {
  return {std::move(id),
          at,
          "support-assistant",
          "threshold",
          "daily",
          std::move(key),
          R"({"id":"x","kind":"threshold"})"};
}

TEST_P(LedgerBackendTest, SpendIsReadBackInIngestionOrderFromACursor) {
  auto writer = ledger_->writer_for_worker(0);
  for (std::size_t i = 0; i < 5; ++i) ASSERT_TRUE(writer->append(full_record(i)));
  ASSERT_TRUE(ledger_->flush());
  auto first = ledger_->spend_after(0, {}, 3);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].workflow, full_record(0).workflow);
  EXPECT_EQ(first[0].provider, "openai");
  EXPECT_EQ(first[0].model, "gpt-4o");
  EXPECT_EQ(first[0].route, full_record(0).route);
  EXPECT_EQ(first[0].fallbacks, full_record(0).fallbacks);
  EXPECT_EQ(first[0].cost, full_record(0).cost);
  EXPECT_EQ(first[0].at, full_record(0).finished_at);
  auto rest = ledger_->spend_after(first.back().sequence, {}, 10);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[1].cost, full_record(4).cost);
  EXPECT_TRUE(ledger_->spend_after(rest.back().sequence, {}, 10).empty());
  // `since` leaves out requests that finished before it.
  EXPECT_EQ(ledger_->spend_after(0, full_record(3).finished_at, 10).size(), 2u);
}

TEST_P(LedgerBackendTest, SpendRowsNameTheFailureClassesOfARequestThatFellBack) {
  RequestRecord fell_back = full_record(0);
  fell_back.attempts = {{"openai-eu", "gpt-4o", "rate_limited", 429, 40.1},
                        {"openai-us", "gpt-4o", "timeout", 0, 30000.0},
                        {"anthropic", "claude", "ok", 200, 772.0}};
  fell_back.fallbacks = 2;
  RequestRecord direct = full_record(1);
  direct.attempts = {{"openai", "gpt-4o", "ok", 200, 772.0}};
  direct.fallbacks = 0;
  auto writer = ledger_->writer_for_worker(0);
  ASSERT_TRUE(writer->append(fell_back));
  ASSERT_TRUE(writer->append(direct));
  ASSERT_TRUE(ledger_->flush());
  auto rows = ledger_->spend_after(0, {}, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].failed_attempts,
            (std::vector{config::FailureClass::rate_limited, config::FailureClass::timeout}));
  EXPECT_TRUE(rows[1].failed_attempts.empty());
}

TEST_P(LedgerBackendTest, SessionRecordsCoverEverySessionActiveSinceTheCut) {
  using std::chrono::hours;
  auto record = [](std::string id, std::string workflow, std::optional<std::string> session,
                   std::chrono::system_clock::time_point at, config::NanoUsd cost) {
    RequestRecord r = minimal_record(std::move(id));
    r.workflow = std::move(workflow);
    r.session = std::move(session);
    r.started_at = at;
    r.finished_at = at;
    r.cost = cost;
    return r;
  };
  const auto cut = testing::recent_time();
  auto writer = ledger_->writer_for_worker(0);
  // run-1: active since the cut, with an older record that still counts.
  ASSERT_TRUE(writer->append(record("a", "agents", "run-1", cut - hours(30), 5)));
  ASSERT_TRUE(writer->append(record("b", "agents", "run-1", cut + hours(1), 7)));
  // run-2: nothing since the cut.
  ASSERT_TRUE(writer->append(record("c", "agents", "run-2", cut - hours(2), 11)));
  // No session at all.
  ASSERT_TRUE(writer->append(record("d", "agents", std::nullopt, cut + hours(1), 13)));
  // The same id in another workflow is another session.
  ASSERT_TRUE(writer->append(record("e", "other", "run-1", cut + hours(2), 17)));
  // run-3 is active in `agents` only: `other`'s old run-3 stays out.
  ASSERT_TRUE(writer->append(record("f", "agents", "run-3", cut + hours(1), 19)));
  ASSERT_TRUE(writer->append(record("g", "other", "run-3", cut - hours(3), 23)));
  // Not flushed: records still in the spool count too.
  auto rows = ledger_->session_records(cut);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].workflow, "agents");
  EXPECT_EQ(rows[0].session, "run-1");
  EXPECT_EQ(rows[0].cost, 5);
  EXPECT_EQ(rows[0].started_at, cut - hours(30));
  EXPECT_EQ(rows[1].cost, 7);
  EXPECT_EQ(rows[2].session, "run-3");
  EXPECT_EQ(rows[2].cost, 19);
  EXPECT_EQ(rows[3].workflow, "other");
  EXPECT_EQ(rows[3].cost, 17);
}

TEST_P(LedgerBackendTest, ExceptionsAreStoredOncePerDedupeKey) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(ledger_->store_exception(exception_event("exc_1", "k1", now), {"slack", "log"}),
            StoreResult::stored);
  EXPECT_EQ(ledger_->store_exception(exception_event("exc_2", "k1", now), {"slack"}),
            StoreResult::duplicate);
  EXPECT_EQ(
      ledger_->store_exception(exception_event("exc_3", "k2", now + std::chrono::seconds(1)), {}),
      StoreResult::stored);
  auto keys = ledger_->exception_keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"k1", "k2"}));
  auto listed = ledger_->exceptions_since(now - std::chrono::hours(1));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, "exc_1");  // oldest first
  EXPECT_EQ(listed[1].id, "exc_3");
  EXPECT_EQ(listed[0].event_json, R"({"id":"x","kind":"threshold"})");
  EXPECT_EQ(listed[0].kind, "threshold");
  EXPECT_EQ(listed[0].window, "daily");
  EXPECT_EQ(ledger_->exceptions_since(now + std::chrono::milliseconds(500)).size(), 1u);
}

TEST_P(LedgerBackendTest, TheOutboxHoldsEachSinkUntilDeliveredOrGivenUp) {
  const auto now = std::chrono::system_clock::now();
  ASSERT_EQ(ledger_->store_exception(exception_event("exc_1", "k1", now), {"hook", "log"}),
            StoreResult::stored);
  auto pending = ledger_->pending_deliveries();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].delivery.exception_id, "exc_1");
  EXPECT_EQ(pending[0].delivery.attempts, 0u);
  EXPECT_EQ(pending[0].event_json, R"({"id":"x","kind":"threshold"})");

  Delivery retry = pending[0].delivery;
  retry.attempts = 1;
  retry.next_attempt_at = now + std::chrono::seconds(1);
  ASSERT_TRUE(ledger_->update_delivery(retry));
  Delivery done = pending[1].delivery;
  done.attempts = 1;
  done.state = DeliveryState::delivered;
  ASSERT_TRUE(ledger_->update_delivery(done));

  pending = ledger_->pending_deliveries();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].delivery.sink, retry.sink);
  EXPECT_EQ(pending[0].delivery.attempts, 1u);
  EXPECT_EQ(std::chrono::floor<std::chrono::microseconds>(pending[0].delivery.next_attempt_at),
            std::chrono::floor<std::chrono::microseconds>(retry.next_attempt_at));
  retry.state = DeliveryState::failed;
  ASSERT_TRUE(ledger_->update_delivery(retry));
  EXPECT_TRUE(ledger_->pending_deliveries().empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, LedgerBackendTest,
                         ::testing::Values(config::LedgerBackend::memory,
                                           config::LedgerBackend::sqlite),
                         [](const ::testing::TestParamInfo<config::LedgerBackend>& instance) {
                           return std::string(config::to_string(instance.param));
                         });

TEST(LedgerExceptionsTest, ExceptionsAndTheOutboxSurviveAReopen) {
  testing::TempDir dir;
  const config::LedgerSpec spec = testing::sqlite_spec(dir);
  const auto now = std::chrono::system_clock::now();
  std::string error;
  {
    auto ledger = open_ledger(spec, error);
    ASSERT_NE(ledger, nullptr) << error;
    ASSERT_EQ(ledger->store_exception(exception_event("exc_1", "k1", now), {"hook"}),
              StoreResult::stored);
  }
  auto reopened = open_ledger(spec, error);
  ASSERT_NE(reopened, nullptr) << error;
  EXPECT_EQ(reopened->exception_keys(), std::vector<std::string>{"k1"});
  EXPECT_EQ(reopened->store_exception(exception_event("exc_9", "k1", now), {"hook"}),
            StoreResult::duplicate);
  ASSERT_EQ(reopened->pending_deliveries().size(), 1u);
}

TEST(LedgerFactoryTest, PostgresIsNotInThisBuild) {
  config::LedgerSpec spec;
  spec.backend = config::LedgerBackend::postgres;
  std::string error;
  EXPECT_EQ(open_ledger(spec, error), nullptr);
  EXPECT_EQ(error, "ledger backend postgres is not available in this build");
}

}  // namespace
}  // namespace spendwall::metering::ledger
