#include "metering/ledger/sqlite_ledger.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger_test_support.hpp"
#include "metering/json_writer.hpp"
#include "metering/ledger/ledger.hpp"
#include "metering/ledger/record_json.hpp"

namespace spendwall::metering::ledger {
namespace {

namespace fs = std::filesystem;
using testing::full_record;
using testing::minimal_record;

std::string spool_line(const RequestRecord& record) {
  std::string line;
  JsonWriter json(line);
  write_record(record, json);
  line += '\n';
  return line;
}

config::NanoUsd cost_of_first(std::size_t count) {
  config::NanoUsd cost = 0;
  for (std::size_t i = 0; i < count; ++i) cost += full_record(i).cost;
  return cost;
}

void append_bytes(const fs::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

/// What a separate reader (`spendwall report`, an operator's sqlite3 shell) sees.
class ReadOnlyView {
 public:
  explicit ReadOnlyView(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }
  ~ReadOnlyView() { sqlite3_close_v2(db_); }
  ReadOnlyView(const ReadOnlyView&) = delete;
  ReadOnlyView& operator=(const ReadOnlyView&) = delete;

  /// The first column of the first row as text ("" for NULL or no row).
  std::string text(const std::string& sql) const {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

void execute_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
      << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close_v2(db);
}

class SqliteLedgerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Ledger> open_sqlite(std::uint64_t segment_bytes = std::uint64_t{8} << 20) {
    LedgerOptions options;
    options.segment_bytes = segment_bytes;
    options.on_error = [this](std::string_view message) {
      const std::lock_guard lock(messages_mutex_);
      messages_.emplace_back(message);
    };
    std::string error;
    auto ledger = open_ledger(spec_, error, std::move(options));
    EXPECT_NE(ledger, nullptr) << error;
    return ledger;
  }

  fs::path spool() const { return spec_.path + ".spool"; }

  std::vector<std::string> segments() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(spool())) {
      const std::string name = entry.path().filename().string();
      if (parse_segment_file_name(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  bool logged(std::string_view fragment) {
    const std::lock_guard lock(messages_mutex_);
    return std::any_of(messages_.begin(), messages_.end(), [fragment](const std::string& m) {
      return m.find(fragment) != std::string::npos;
    });
  }

  testing::TempDir dir_;
  config::LedgerSpec spec_ = testing::sqlite_spec(dir_);
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

TEST_F(SqliteLedgerTest, SchemaIsVersionedWithReportIndexes) {
  auto ledger = open_sqlite();
  ASSERT_NE(ledger, nullptr);
  const ReadOnlyView view(spec_.path);
  EXPECT_EQ(view.text("PRAGMA user_version"), "3");
  EXPECT_EQ(view.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(view.text("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
                      "WHERE type = 'index' AND name LIKE 'requests_by_%' ORDER BY name)"),
            "requests_by_provider_model,requests_by_route,requests_by_session,requests_by_time,"
            "requests_by_workflow");
  EXPECT_EQ(view.text("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master "
                      "WHERE type = 'table' AND name LIKE 'exception%' ORDER BY name)"),
            "exception_deliveries,exceptions");
}

TEST_F(SqliteLedgerTest, RefusesADatabaseFromANewerBuild) {
  execute_sql(spec_.path, "PRAGMA user_version = 99");
  std::string error;
  EXPECT_EQ(open_ledger(spec_, error), nullptr);
  EXPECT_NE(error.find("newer than this build"), std::string::npos) << error;
}

TEST_F(SqliteLedgerTest, OneProcessAtATime) {
  auto ledger = open_sqlite();
  ASSERT_NE(ledger, nullptr);
  std::string error;
  EXPECT_EQ(open_ledger(spec_, error), nullptr);
  EXPECT_NE(error.find("in use by another process"), std::string::npos) << error;
}

TEST_F(SqliteLedgerTest, AWriterStillAliveKeepsTheSpoolTaken) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  ledger.reset();
  std::string error;
  // Another ledger on this spool would take the live writer's segment for finished.
  EXPECT_EQ(open_ledger(spec_, error), nullptr);
  EXPECT_NE(error.find("in use by another process"), std::string::npos) << error;
  ASSERT_TRUE(writer->append(full_record(0)));
  writer.reset();
  ledger = open_sqlite();
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->find("req_0"), full_record(0));
}

TEST_F(SqliteLedgerTest, AppendReachesTheSpoolAtOnceAndTheDatabaseOnIngest) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(4);
  const RequestRecord record = full_record(1);
  ASSERT_TRUE(writer->append(record));

  ASSERT_EQ(segments().size(), 1u);
  EXPECT_TRUE(segments()[0].starts_with("w4-"));
  std::string contents;
  {
    std::ifstream file(spool() / segments()[0], std::ios::binary);
    contents.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(contents, spool_line(record));
  const ReadOnlyView view(spec_.path);
  EXPECT_EQ(view.text("SELECT COUNT(*) FROM requests"), "0");

  ASSERT_TRUE(ledger->flush());
  EXPECT_EQ(view.text("SELECT COUNT(*) FROM requests"), "1");
  EXPECT_EQ(ledger->find("req_1"), record);
}

TEST_F(SqliteLedgerTest, EveryFieldHasAColumn) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  const RequestRecord record = full_record(1);
  ASSERT_TRUE(writer->append(record));
  ASSERT_TRUE(writer->append(minimal_record("req_min")));
  ASSERT_TRUE(ledger->flush());

  const ReadOnlyView view(spec_.path);
  const auto column = [&view](std::string_view name, std::string_view id = "req_1") {
    return view.text("SELECT " + std::string(name) + " FROM requests WHERE id = '" +
                     std::string(id) + "'");
  };
  EXPECT_EQ(column("started_at_us"), std::to_string(to_unix_micros(record.started_at)));
  EXPECT_EQ(column("finished_at_us"), std::to_string(to_unix_micros(record.finished_at)));
  EXPECT_EQ(column("workflow || '|' || route || '|' || provider || '|' || model || '|' || "
                   "endpoint || '|' || stream || '|' || status"),
            "search|chat|openai|gpt-4o|/v1/chat/completions|1|200");
  EXPECT_EQ(column("input_tokens || ',' || cached_input_tokens || ',' || cache_write_tokens || "
                   "',' || output_tokens || ',' || reasoning_tokens"),
            "1201,300,17,250,40");
  EXPECT_EQ(column("usage_source || '|' || budget_action || '|' || fallbacks || '|' || session"),
            "reported|downgraded|1|run-42");
  EXPECT_EQ(column("cost_nano_usd"), std::to_string(record.cost));
  EXPECT_EQ(column("latency_ms || '|' || ttft_ms"), "812.4|190.2");
  EXPECT_EQ(column("json_extract(attempts, '$[0].result') || '|' || json_array_length(attempts)"),
            "rate_limited|2");
  EXPECT_EQ(column("json_extract(tags, '$.tenant')"), "acme.eu");
  EXPECT_EQ(column("outcome || '|' || outcome_score || '|' || outcome_at_us"),
            "accepted|0.9|" + std::to_string(to_unix_micros(record.outcome->at)));
  EXPECT_EQ(column("quote(ttft_ms) || quote(session) || quote(outcome) || quote(outcome_note)",
                   "req_min"),
            "NULLNULLNULLNULL");
  EXPECT_EQ(column("attempts || tags", "req_min"), "[]{}");
}

TEST_F(SqliteLedgerTest, AReportReadsWhileTheLedgerRuns) {
  auto ledger = open_sqlite();
  ledger->start();
  auto writer = ledger->writer_for_worker(0);
  const ReadOnlyView view(spec_.path);
  for (std::size_t i = 0; i < 50; ++i) ASSERT_TRUE(writer->append(full_record(i)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (view.text("SELECT COUNT(*) FROM requests") != "50" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(view.text("SELECT SUM(cost_nano_usd) FROM requests"),
            std::to_string(cost_of_first(50)));
  ledger->stop();
}

TEST_F(SqliteLedgerTest, DestroyedWithoutStopLosesNothing) {
  constexpr std::size_t kRecords = 500;
  {
    auto ledger = open_sqlite();
    ledger->start();
    auto writer = ledger->writer_for_worker(0);
    for (std::size_t i = 0; i < kRecords; ++i) ASSERT_TRUE(writer->append(full_record(i)));
    ledger.reset();  // no stop(): whatever was not ingested stays in the spool
  }
  auto reopened = open_sqlite();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->totals(), (Totals{kRecords, cost_of_first(kRecords)}));
  for (std::size_t i = 0; i < kRecords; i += 37) {
    EXPECT_EQ(reopened->find("req_" + std::to_string(i)), full_record(i));
  }
  EXPECT_TRUE(segments().empty()) << "recovery deletes what it ingested";
}

TEST_F(SqliteLedgerTest, KilledProcessLosesNothing) {
  constexpr std::size_t kRecords = 3000;
  const RequestRecord first = full_record(0);  // fixes the records' times for the child too
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The proxy: ingesting in the background while workers append, then kill -9.
    std::string error;
    auto ledger = open_ledger(spec_, error);
    if (!ledger) ::_exit(2);
    ledger->start();
    auto writer = ledger->writer_for_worker(0);
    for (std::size_t i = 0; i < kRecords; ++i) {
      if (!writer->append(full_record(i))) ::_exit(3);
      if (i == kRecords / 2) std::this_thread::sleep_for(std::chrono::milliseconds(120));
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  auto ledger = open_sqlite();
  ASSERT_NE(ledger, nullptr);
  EXPECT_EQ(ledger->totals(), (Totals{kRecords, cost_of_first(kRecords)}));
  EXPECT_EQ(ledger->find("req_0"), first);
  EXPECT_EQ(ledger->find("req_2999"), full_record(2999));
}

TEST_F(SqliteLedgerTest, ReplayAfterOffsetsRollBackAddsNoDuplicates) {
  {
    auto ledger = open_sqlite();
    auto writer = ledger->writer_for_worker(0);
    for (std::size_t i = 0; i < 10; ++i) ASSERT_TRUE(writer->append(full_record(i)));
    ASSERT_TRUE(ledger->flush());
    writer.reset();
    ledger.reset();  // not synced since: the segment stays
  }
  ASSERT_EQ(segments().size(), 1u);
  const std::string segment = segments()[0];
  EXPECT_EQ(ReadOnlyView(spec_.path).text("SELECT ingested_bytes FROM spool_offsets"),
            std::to_string(fs::file_size(spool() / segment)));
  execute_sql(spec_.path, "UPDATE spool_offsets SET ingested_bytes = 0");

  auto ledger = open_sqlite();
  EXPECT_EQ(ledger->totals(), (Totals{10, cost_of_first(10)}));
  EXPECT_TRUE(segments().empty());
  EXPECT_EQ(ReadOnlyView(spec_.path).text("SELECT COUNT(*) FROM spool_offsets"), "0");
}

TEST_F(SqliteLedgerTest, TheSameSegmentIngestedTwiceAddsNoDuplicates) {
  {
    auto ledger = open_sqlite();
    auto writer = ledger->writer_for_worker(0);
    for (std::size_t i = 0; i < 10; ++i) ASSERT_TRUE(writer->append(full_record(i)));
    ASSERT_TRUE(ledger->flush());
  }
  ASSERT_EQ(segments().size(), 1u);
  fs::copy_file(spool() / segments()[0], spool() / "w5-000000777777.jsonl");

  auto ledger = open_sqlite();
  EXPECT_EQ(ledger->totals(), (Totals{10, cost_of_first(10)}));
  // New segments are numbered past every one seen, the copy's included.
  auto writer = ledger->writer_for_worker(0);
  ASSERT_TRUE(writer->append(full_record(10)));
  ASSERT_EQ(segments().size(), 1u);
  EXPECT_EQ(segments()[0], "w0-000000777778.jsonl");
}

TEST_F(SqliteLedgerTest, ATornLastLineWaitsUntilItIsComplete) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  ASSERT_TRUE(writer->append(full_record(0)));
  const fs::path segment = spool() / segments()[0];
  const std::string line = spool_line(full_record(1));

  append_bytes(segment, std::string_view(line).substr(0, line.size() / 2));
  ASSERT_TRUE(ledger->flush());
  EXPECT_EQ(ledger->find("req_1"), std::nullopt);
  EXPECT_EQ(ledger->totals(), (Totals{1, cost_of_first(1)}));

  append_bytes(segment, std::string_view(line).substr(line.size() / 2));
  EXPECT_EQ(ledger->find("req_1"), full_record(1));
  EXPECT_EQ(ledger->totals(), (Totals{2, cost_of_first(2)}));
  EXPECT_EQ(ledger->write_errors(), 0u);
}

TEST_F(SqliteLedgerTest, ATornLineOfAFinishedSegmentIsSkippedAndCounted) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  ASSERT_TRUE(writer->append(full_record(0)));
  const std::string line = spool_line(full_record(1));
  append_bytes(spool() / segments()[0], std::string_view(line).substr(0, 100));
  writer.reset();  // its writer is gone: the line will never be completed

  ASSERT_TRUE(ledger->flush());
  EXPECT_EQ(ledger->totals(), (Totals{1, cost_of_first(1)}));
  EXPECT_EQ(ledger->write_errors(), 1u);
  EXPECT_TRUE(logged("torn last line"));
  ledger->stop();
  EXPECT_TRUE(segments().empty());
}

TEST_F(SqliteLedgerTest, AnUnreadableLineIsSkippedAndCounted) {
  auto ledger = open_sqlite();
  append_bytes(
      spool() / "w9-000000000500.jsonl",
      spool_line(full_record(0)) + "{\"id\":\"req_x\"}\nnot json\n" + spool_line(full_record(1)));
  EXPECT_EQ(ledger->totals(), (Totals{2, cost_of_first(2)}));
  EXPECT_EQ(ledger->write_errors(), 2u);
  EXPECT_TRUE(logged("unreadable ledger spool line skipped: w9-000000000500.jsonl at byte"));
}

TEST_F(SqliteLedgerTest, SegmentsRotateAndIngestedOnesAreDeleted) {
  constexpr std::uint64_t kSegmentBytes = 4096;
  {
    auto ledger = open_sqlite(kSegmentBytes);
    auto writer = ledger->writer_for_worker(0);
    for (std::size_t i = 0; i < 40; ++i) ASSERT_TRUE(writer->append(full_record(i)));
    // A line that would take a segment past kSegmentBytes begins the next one.
    std::size_t expected_segments = 0;
    std::uint64_t segment_size = 0;
    for (std::size_t i = 0; i < 40; ++i) {
      const std::size_t line_size = spool_line(full_record(i)).size();
      if (expected_segments == 0 || segment_size + line_size > kSegmentBytes) {
        ++expected_segments;
        segment_size = 0;
      }
      segment_size += line_size;
    }
    EXPECT_GT(expected_segments, 5u);
    EXPECT_EQ(segments().size(), expected_segments);
    for (const std::string& name : segments()) {
      EXPECT_LE(fs::file_size(spool() / name), kSegmentBytes) << name;
    }

    ASSERT_TRUE(ledger->flush());
    EXPECT_EQ(ledger->totals(), (Totals{40, cost_of_first(40)}));
    ledger->stop();  // syncs, then deletes what is ingested and finished
    ASSERT_EQ(segments().size(), 1u) << "the segment being written stays";
    EXPECT_EQ(ReadOnlyView(spec_.path).text("SELECT COUNT(*) FROM spool_offsets"), "1");
  }
  auto ledger = open_sqlite(kSegmentBytes);
  EXPECT_TRUE(segments().empty());
  EXPECT_EQ(ReadOnlyView(spec_.path).text("SELECT COUNT(*) FROM spool_offsets"), "0");
  EXPECT_EQ(ledger->totals(), (Totals{40, cost_of_first(40)}));
}

TEST_F(SqliteLedgerTest, TheBackgroundThreadIngestsSyncsAndDeletes) {
  spec_.sync_interval = std::chrono::milliseconds(100);
  auto ledger = open_sqlite(2048);
  ledger->start();
  auto writer = ledger->writer_for_worker(0);
  for (std::size_t i = 0; i < 20; ++i) ASSERT_TRUE(writer->append(full_record(i)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (segments().size() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(segments().size(), 1u);
  EXPECT_EQ(ReadOnlyView(spec_.path).text("SELECT COUNT(*) FROM requests"), "20");
  ledger->stop();
}

TEST_F(SqliteLedgerTest, ARemovedSpoolFolderIsCountedAndMadeAgain) {
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  ASSERT_TRUE(writer->append(full_record(0)));
  ASSERT_TRUE(ledger->flush());
  ASSERT_TRUE(writer->append(full_record(1)));

  fs::remove_all(spool());
  // The open segment has lost its name but still takes lines; a new one cannot be made.
  ASSERT_TRUE(writer->append(full_record(2)));
  auto fresh = ledger->writer_for_worker(1);
  EXPECT_FALSE(fresh->append(full_record(3)));
  EXPECT_NE(fresh->last_error().find("cannot create ledger spool segment"), std::string::npos)
      << fresh->last_error();
  EXPECT_EQ(ledger->write_errors(), 1u);
  EXPECT_EQ(ledger->records_written(), 3u);

  ASSERT_TRUE(ledger->flush());  // makes the folder again; the orphaned lines are read
  EXPECT_EQ(ledger->write_errors(), 2u) << "the removal itself is counted";
  EXPECT_TRUE(logged("was removed"));
  EXPECT_TRUE(fs::is_directory(spool()));
  ASSERT_TRUE(fresh->append(full_record(3)));
  ASSERT_TRUE(writer->append(full_record(4)));
  EXPECT_EQ(segments().size(), 2u) << "the old writer moved to a new segment";
  EXPECT_EQ(ledger->totals(), (Totals{5, cost_of_first(5)}));
  EXPECT_TRUE(ledger->writable());

  // The lock is taken again too.
  std::string error;
  EXPECT_EQ(open_ledger(spec_, error), nullptr);
}

TEST_F(SqliteLedgerTest, ExpiredRecordsAreDeleted) {
  spec_.retention = std::chrono::hours(24);
  auto ledger = open_sqlite();
  auto writer = ledger->writer_for_worker(0);
  RequestRecord old = minimal_record("req_old");
  old.started_at -= std::chrono::hours(72);
  ASSERT_TRUE(writer->append(old));
  ASSERT_TRUE(writer->append(minimal_record("req_new")));
  ASSERT_TRUE(ledger->flush());
  ledger->start();
  const ReadOnlyView view(spec_.path);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (view.text("SELECT COUNT(*) FROM requests") != "1" &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(view.text("SELECT id FROM requests"), "req_new");
  ledger->stop();
}

TEST_F(SqliteLedgerTest, FolderAndDatabaseAreCreated) {
  spec_.path = (dir_.path() / "nested" / "deeper" / "spendwall.db").string();
  auto ledger = open_sqlite();
  ASSERT_NE(ledger, nullptr);
  EXPECT_TRUE(fs::exists(spec_.path));
  EXPECT_TRUE(fs::is_directory(spec_.path + ".spool"));
}

}  // namespace
}  // namespace spendwall::metering::ledger
