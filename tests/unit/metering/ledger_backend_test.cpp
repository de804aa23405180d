#include "metering/ledger/ledger.hpp"

#include <gtest/gtest.h>

#include <memory>
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

INSTANTIATE_TEST_SUITE_P(Backends, LedgerBackendTest,
                         ::testing::Values(config::LedgerBackend::memory,
                                           config::LedgerBackend::sqlite),
                         [](const ::testing::TestParamInfo<config::LedgerBackend>& instance) {
                           return std::string(config::to_string(instance.param));
                         });

TEST(LedgerFactoryTest, PostgresIsNotInThisBuild) {
  config::LedgerSpec spec;
  spec.backend = config::LedgerBackend::postgres;
  std::string error;
  EXPECT_EQ(open_ledger(spec, error), nullptr);
  EXPECT_EQ(error, "ledger backend postgres is not available in this build");
}

}  // namespace
}  // namespace spendwall::metering::ledger
