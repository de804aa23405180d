#include "metering/ledger/sqlite_ledger.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include "metering/json_writer.hpp"
#include "metering/ledger/sqlite_schema.hpp"

namespace spendwall::metering::ledger {
namespace {

using Clock = std::chrono::steady_clock;

/// Bytes of spool read into one transaction at most; a backlog takes several.
constexpr std::uint64_t kMaxBatchBytes = std::uint64_t{8} << 20;
/// Expired records are deleted this many at a time, so that the store stays responsive.
constexpr std::int64_t kPruneBatchRows = 10'000;
constexpr auto kPruneInterval = std::chrono::hours(1);
constexpr auto kPruneRetryInterval = std::chrono::minutes(1);
constexpr int kBusyTimeoutMs = 5000;

// The columns of `requests` in the order bind_record() binds and read_record() reads them.
constexpr std::string_view kRecordColumns =
    "id, started_at_us, finished_at_us, workflow, route, provider, model, endpoint, stream, "
    "status, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
    "reasoning_tokens, usage_source, cost_nano_usd, latency_ms, ttft_ms, fallbacks, "
    "budget_action, session, attempts, tags, outcome, outcome_score, outcome_note, outcome_at_us";
constexpr std::size_t kRecordColumnCount = 28;

std::string insert_record_sql() {
  std::string sql = "INSERT INTO requests (";
  sql += kRecordColumns;
  sql += ") VALUES (?";
  for (std::size_t i = 1; i < kRecordColumnCount; ++i) sql += ", ?";
  // A replayed line finds its record already there: exactly once, whatever the offsets say.
  sql += ") ON CONFLICT (id) DO NOTHING";
  return sql;
}

std::string select_record_sql() {
  std::string sql = "SELECT ";
  sql += kRecordColumns;
  sql += " FROM requests WHERE id = ?";
  return sql;
}

std::optional<double> finite_or_null(double value) {
  return std::isfinite(value) ? std::optional<double>(value) : std::nullopt;
}

void bind_record(SqliteStatement& insert, const RequestRecord& record, std::string& json_buffer) {
  insert.bind(record.id)
      .bind(to_unix_micros(record.started_at))
      .bind(to_unix_micros(record.finished_at))
      .bind(record.workflow)
      .bind(record.route)
      .bind(record.provider)
      .bind(record.model)
      .bind(endpoint_label(record.endpoint))
      .bind(std::int64_t{record.stream})
      .bind(std::int64_t{record.status})
      // Token counts are far below 2^63 (kMaxTokenCount); the casts keep the bits anyway.
      .bind(static_cast<std::int64_t>(record.tokens.input))
      .bind(static_cast<std::int64_t>(record.tokens.cached_input))
      .bind(static_cast<std::int64_t>(record.tokens.cache_write))
      .bind(static_cast<std::int64_t>(record.tokens.output))
      .bind(static_cast<std::int64_t>(record.tokens.reasoning))
      .bind(to_string(record.usage_source))
      .bind(record.cost)
      .bind(finite_or_null(record.latency_ms))
      .bind(record.ttft_ms)
      .bind(std::int64_t{record.fallbacks})
      .bind(to_string(record.budget_action))
      .bind(record.session);
  json_buffer.clear();
  JsonWriter attempts(json_buffer);
  write_attempts(record.attempts, attempts);
  insert.bind(json_buffer);  // bound as a copy: the buffer can be reused at once
  json_buffer.clear();
  JsonWriter tags(json_buffer);
  write_tags(record.tags, tags);
  insert.bind(json_buffer);
  if (record.outcome) {
    insert.bind(record.outcome->outcome)
        .bind(record.outcome->score)
        .bind(record.outcome->note)
        .bind(to_unix_micros(record.outcome->at));
  } else {
    insert.bind_null().bind_null().bind_null().bind_null();
  }
}

/// False when the attempts or tags text is unreadable (the rest is still filled in).
bool read_record(SqliteStatement& row, RecordJsonReader& reader, RequestRecord& record) {
  record.id = row.column_text();
  record.started_at = from_unix_micros(row.column_int64());
  record.finished_at = from_unix_micros(row.column_int64());
  record.workflow = row.column_text();
  record.route = row.column_text();
  record.provider = row.column_text();
  record.model = row.column_text();
  record.endpoint = classify_path(row.column_text());
  record.stream = row.column_int64() != 0;
  record.status = static_cast<unsigned>(row.column_int64());
  record.tokens.input = static_cast<std::uint64_t>(row.column_int64());
  record.tokens.cached_input = static_cast<std::uint64_t>(row.column_int64());
  record.tokens.cache_write = static_cast<std::uint64_t>(row.column_int64());
  record.tokens.output = static_cast<std::uint64_t>(row.column_int64());
  record.tokens.reasoning = static_cast<std::uint64_t>(row.column_int64());
  record.usage_source = parse_usage_source(row.column_text()).value_or(UsageSource::reported);
  record.cost = row.column_int64();
  record.latency_ms =
      row.column_optional_double().value_or(std::numeric_limits<double>::quiet_NaN());
  record.ttft_ms = row.column_optional_double();
  record.fallbacks = static_cast<std::uint32_t>(row.column_int64());
  record.budget_action = parse_budget_action(row.column_text()).value_or(BudgetAction::none);
  record.session = row.column_optional_text();
  bool readable = reader.read_attempts(row.column_text(), record.attempts);
  readable = reader.read_tags(row.column_text(), record.tags) && readable;
  auto outcome_name = row.column_optional_text();
  const auto score = row.column_optional_double();
  auto note = row.column_optional_text();
  const auto at = row.column_optional_int64();
  record.outcome.reset();
  if (outcome_name) {
    record.outcome =
        Outcome{std::move(*outcome_name), score, std::move(note), from_unix_micros(at.value_or(0))};
  }
  return readable;
}

/// Makes what the kernel holds of `path` durable. A missing file has nothing to sync.
bool fsync_file(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;
    error = "cannot open " + path + ": " + std::system_category().message(errno);
    return false;
  }
  const bool synced = ::fsync(fd) == 0;
  if (!synced) error = "cannot fsync " + path + ": " + std::system_category().message(errno);
  ::close(fd);
  return synced;
}

/// Reads bytes [offset, end) of `fd` into `out`. False on an I/O error or an early end.
bool read_range(int fd, std::uint64_t offset, std::uint64_t end, std::string& out) {
  out.resize(end - offset);
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

SqliteLedger::SqliteLedger(Settings settings)
    : settings_(std::move(settings)), spool_folder_(settings_.path + ".spool") {}

std::unique_ptr<SqliteLedger> SqliteLedger::open(Settings settings, std::string& error) {
  if (settings.path.empty()) {
    error = "ledger.path is empty";
    return nullptr;
  }
  std::unique_ptr<SqliteLedger> ledger(new SqliteLedger(std::move(settings)));
  if (!ledger->open_store(error) || !ledger->recover_spool(error)) return nullptr;
  return ledger;
}

SqliteLedger::~SqliteLedger() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ingest_thread_.joinable()) ingest_thread_.join();
  for (auto& [name, cursor] : cursors_) ::close(cursor.fd);
}

bool SqliteLedger::open_store(std::string& error) {
  std::error_code failure;
  const std::filesystem::path db_path(settings_.path);
  if (db_path.has_parent_path())
    std::filesystem::create_directories(db_path.parent_path(), failure);
  if (!failure) std::filesystem::create_directories(spool_folder_, failure);
  if (failure) {
    error = "cannot create the ledger folders for " + settings_.path + ": " + failure.message();
    return false;
  }
  lock_ = SpoolLock::acquire(spool_folder_, error);
  if (!lock_ || !db_.open(settings_.path, error)) return false;

  sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
  SqliteStatement journal_mode;
  if (!db_.prepare(journal_mode, "PRAGMA journal_mode = WAL", error)) return false;
  if (journal_mode.step() != SQLITE_ROW || journal_mode.column_text() != "wal") {
    error = db_.error_message("cannot put the ledger " + settings_.path + " in WAL mode");
    return false;
  }
  journal_mode.reset();
  if (!db_.execute("PRAGMA synchronous = NORMAL", error) || !migrate_schema(db_, error)) {
    error = "ledger " + settings_.path + ": " + error;
    return false;
  }

  const std::pair<SqliteStatement*, std::string> statements[] = {
      {&insert_record_, insert_record_sql()},
      {&select_record_, select_record_sql()},
      {&select_offset_, "SELECT ingested_bytes FROM spool_offsets WHERE segment = ?"},
      {&upsert_offset_,
       "INSERT INTO spool_offsets (segment, ingested_bytes) VALUES (?, ?) "
       "ON CONFLICT (segment) DO UPDATE SET ingested_bytes = excluded.ingested_bytes"},
      {&delete_offset_, "DELETE FROM spool_offsets WHERE segment = ?"},
      {&select_ownership_, "SELECT workflow, outcome IS NOT NULL FROM requests WHERE id = ?"},
      {&update_outcome_,
       "UPDATE requests SET outcome = ?, outcome_score = ?, outcome_note = ?, outcome_at_us = ? "
       "WHERE id = ?"},
      {&select_totals_, "SELECT COUNT(*), COALESCE(SUM(cost_nano_usd), 0) FROM requests"},
      {&select_workflow_totals_,
       "SELECT COUNT(*), COALESCE(SUM(cost_nano_usd), 0) FROM requests "
       "WHERE workflow = ? AND started_at_us >= ?"},
      {&delete_expired_,
       "DELETE FROM requests WHERE rowid IN "
       "(SELECT rowid FROM requests WHERE started_at_us < ? LIMIT ?)"},
      // rowid grows with each insert, so it orders records by ingestion.
      {&select_spend_,
       "SELECT rowid, workflow, route, provider, model, cost_nano_usd, fallbacks, finished_at_us, "
       "CASE WHEN fallbacks > 0 THEN attempts END "
       "FROM requests "
       "WHERE rowid > ? AND finished_at_us >= ? ORDER BY rowid LIMIT ?"},
      {&select_session_records_,
       "SELECT workflow, session, cost_nano_usd, started_at_us FROM requests "
       "WHERE session IS NOT NULL AND (workflow, session) IN "
       "  (SELECT workflow, session FROM requests "
       "   WHERE session IS NOT NULL AND started_at_us >= ?) "
       "ORDER BY workflow, session, started_at_us"},
      {&insert_exception_,
       "INSERT INTO exceptions (id, at_us, workflow, kind, budget_window, dedupe_key, event) "
       "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"},
      {&insert_delivery_,
       "INSERT INTO exception_deliveries (exception_id, sink, state, attempts, next_attempt_us) "
       "VALUES (?, ?, 'pending', 0, ?) ON CONFLICT DO NOTHING"},
      {&select_exception_keys_, "SELECT dedupe_key FROM exceptions"},
      {&select_exceptions_,
       "SELECT id, at_us, workflow, kind, budget_window, dedupe_key, event FROM exceptions "
       "WHERE at_us >= ? ORDER BY at_us, rowid"},
      {&select_pending_,
       "SELECT d.exception_id, d.sink, d.attempts, d.next_attempt_us, e.event "
       "FROM exception_deliveries d JOIN exceptions e ON e.id = d.exception_id "
       "WHERE d.state = 'pending' ORDER BY e.at_us, e.rowid, d.sink"},
      {&update_delivery_,
       "UPDATE exception_deliveries SET state = ?, attempts = ?, next_attempt_us = ? "
       "WHERE exception_id = ? AND sink = ?"},
  };
  for (const auto& [statement, sql] : statements) {
    if (!db_.prepare(*statement, sql, error)) {
      error = "ledger " + settings_.path + ": " + error;
      return false;
    }
  }
  return true;
}

bool SqliteLedger::recover_spool(std::string& error) {
  // New segments must not reuse the name of one the folder or the offsets still know.
  std::uint64_t last_sequence = 0;
  const auto note_sequence = [&last_sequence](std::string_view file_name) {
    if (const auto name = parse_segment_file_name(file_name)) {
      last_sequence = std::max(last_sequence, name->sequence);
    }
  };
  std::vector<std::string> stale_offsets;
  {
    SqliteStatement segments;
    if (!db_.prepare(segments, "SELECT segment FROM spool_offsets", error)) return false;
    while (segments.step() == SQLITE_ROW) {
      const std::string name(segments.column_text());
      note_sequence(name);
      std::error_code ignored;
      if (!std::filesystem::exists(spool_folder_ / name, ignored)) stale_offsets.push_back(name);
    }
  }
  std::error_code failure;
  for (std::filesystem::directory_iterator it(spool_folder_, failure), end; !failure && it != end;
       it.increment(failure)) {
    note_sequence(it->path().filename().string());
  }
  if (failure) {
    error = "cannot list " + spool_folder_.string() + ": " + failure.message();
    return false;
  }
  spool_ = std::make_shared<Spool>(spool_folder_, std::move(lock_), last_sequence + 1,
                                   settings_.options.segment_bytes, counters_);

  const std::lock_guard lock(mutex_);
  forget_offsets(stale_offsets);
  if (!drain() || !sync()) {
    error = "cannot ingest the ledger spool " + spool_folder_.string() + ": " + last_failure_;
    return false;
  }
  return true;
}

void SqliteLedger::start() {
  const std::lock_guard lock(mutex_);
  if (ingest_thread_.joinable()) return;
  stopping_ = false;
  last_sync_ = Clock::now();
  ingest_thread_ = std::thread([this] { ingest_loop(); });
}

void SqliteLedger::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ingest_thread_.joinable()) ingest_thread_.join();
  const std::lock_guard lock(mutex_);
  drain();
  sync();
}

void SqliteLedger::ingest_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, settings_.options.ingest_interval, [this] { return stopping_; });
    if (stopping_) break;
    // One batch at a time, letting queries in between when there is a backlog.
    while (!stopping_ && ingest_batch() == BatchResult::more) {
      lock.unlock();
      lock.lock();
    }
    if (Clock::now() - last_sync_ >= settings_.sync_interval) sync();
    prune_expired();
  }
}

std::unique_ptr<LedgerWriter> SqliteLedger::writer_for_worker(unsigned worker) {
  return std::make_unique<AppendLog>(spool_, worker);
}

bool SqliteLedger::flush() {
  const std::lock_guard lock(mutex_);
  return drain();
}

std::optional<RequestRecord> SqliteLedger::find(std::string_view id) {
  const std::lock_guard lock(mutex_);
  if (auto record = select_record(id)) return record;
  // Appended moments ago and not ingested yet?
  drain();
  return select_record(id);
}

Totals SqliteLedger::totals() {
  const std::lock_guard lock(mutex_);
  drain();
  StatementUse query(select_totals_);
  if (query->step() != SQLITE_ROW) {
    report(db_.error_message("ledger totals query failed"));
    return {};
  }
  Totals totals;
  totals.records = static_cast<std::uint64_t>(query->column_int64());
  totals.cost = query->column_int64();
  return totals;
}

Totals SqliteLedger::totals_since(std::string_view workflow,
                                  std::chrono::system_clock::time_point since) {
  const std::lock_guard lock(mutex_);
  drain();
  StatementUse query(select_workflow_totals_);
  query->bind(workflow).bind(to_unix_micros(since));
  if (query->step() != SQLITE_ROW) {
    report(db_.error_message("ledger workflow totals query failed"));
    return {};
  }
  Totals totals;
  totals.records = static_cast<std::uint64_t>(query->column_int64());
  totals.cost = query->column_int64();
  return totals;
}

OutcomeResult SqliteLedger::set_outcome(std::string_view id, std::string_view workflow,
                                        const Outcome& outcome, bool replace) {
  const std::lock_guard lock(mutex_);
  bool drained = false;
  for (;;) {
    StatementUse query(select_ownership_);
    query->bind(id);
    const int status = query->step();
    if (status == SQLITE_ROW) {
      if (query->column_text() != workflow) return OutcomeResult::not_yours;
      if (query->column_int64() != 0 && !replace) return OutcomeResult::exists;
      break;
    }
    if (status != SQLITE_DONE) {
      note_failure(db_.error_message("ledger outcome query failed"));
      return OutcomeResult::failed;
    }
    if (drained) return OutcomeResult::not_found;
    drain();  // the request may have finished moments ago
    drained = true;
  }
  StatementUse update(update_outcome_);
  update->bind(outcome.outcome)
      .bind(outcome.score)
      .bind(outcome.note)
      .bind(to_unix_micros(outcome.at))
      .bind(id);
  if (update->step() != SQLITE_DONE) {
    note_failure(db_.error_message("cannot record the outcome of " + std::string(id)));
    return OutcomeResult::failed;
  }
  unsynced_ = true;
  return OutcomeResult::ok;
}

std::vector<SpendRow> SqliteLedger::spend_after(std::int64_t after_sequence,
                                                std::chrono::system_clock::time_point since,
                                                std::size_t limit) {
  const std::lock_guard lock(mutex_);
  std::vector<SpendRow> rows;
  StatementUse query(select_spend_);
  query->bind(after_sequence).bind(to_unix_micros(since)).bind(static_cast<std::int64_t>(limit));
  int status = SQLITE_ROW;
  while ((status = query->step()) == SQLITE_ROW) {
    SpendRow& row = rows.emplace_back();
    row.sequence = query->column_int64();
    row.workflow = query->column_text();
    row.route = query->column_text();
    row.provider = query->column_text();
    row.model = query->column_text();
    row.cost = query->column_int64();
    row.fallbacks = static_cast<std::uint32_t>(query->column_int64());
    row.at = from_unix_micros(query->column_int64());
    if (const auto attempts = query->column_optional_text()) {
      // Unreadable attempts only cost the surge its reasons, not the row.
      if (reader_.read_attempts(*attempts, scratch_attempts_)) {
        row.failed_attempts = failure_classes(scratch_attempts_);
      }
    }
  }
  if (status != SQLITE_DONE) report(db_.error_message("ledger spend query failed"));
  return rows;
}

std::vector<SessionSpendRow> SqliteLedger::session_records(
    std::chrono::system_clock::time_point active_since) {
  const std::lock_guard lock(mutex_);
  drain();
  std::vector<SessionSpendRow> rows;
  StatementUse query(select_session_records_);
  query->bind(to_unix_micros(active_since));
  int status = SQLITE_ROW;
  while ((status = query->step()) == SQLITE_ROW) {
    SessionSpendRow& row = rows.emplace_back();
    row.workflow = query->column_text();
    row.session = query->column_text();
    row.cost = query->column_int64();
    row.started_at = from_unix_micros(query->column_int64());
  }
  if (status != SQLITE_DONE) report(db_.error_message("ledger session query failed"));
  return rows;
}

StoreResult SqliteLedger::store_exception(const StoredException& event,
                                          const std::vector<std::string>& sinks) {
  const std::lock_guard lock(mutex_);
  if (!begin_transaction()) return StoreResult::failed;
  bool inserted = false;
  {
    StatementUse insert(insert_exception_);
    insert->bind(event.id)
        .bind(to_unix_micros(event.at))
        .bind(event.workflow)
        .bind(event.kind)
        .bind(event.window)
        .bind(event.dedupe_key)
        .bind(event.event_json);
    if (insert->step() != SQLITE_DONE) {
      note_failure(db_.error_message("cannot store exception " + event.id));
      rollback();
      return StoreResult::failed;
    }
    inserted = db_.changes() > 0;
  }
  // A duplicate keeps the outbox rows of its first raising.
  for (std::size_t i = 0; inserted && i < sinks.size(); ++i) {
    const std::string& sink = sinks[i];
    StatementUse insert(insert_delivery_);
    insert->bind(event.id).bind(sink).bind(to_unix_micros(event.at));
    if (insert->step() != SQLITE_DONE) {
      note_failure(db_.error_message("cannot queue exception " + event.id + " for " + sink));
      rollback();
      return StoreResult::failed;
    }
  }
  std::string error;
  if (!db_.execute("COMMIT", error)) {
    note_failure("cannot commit exception " + event.id + ": " + error);
    rollback();
    return StoreResult::failed;
  }
  unsynced_ = true;
  return inserted ? StoreResult::stored : StoreResult::duplicate;
}

std::vector<std::string> SqliteLedger::exception_keys() {
  const std::lock_guard lock(mutex_);
  std::vector<std::string> keys;
  StatementUse query(select_exception_keys_);
  int status = SQLITE_ROW;
  while ((status = query->step()) == SQLITE_ROW) keys.emplace_back(query->column_text());
  if (status != SQLITE_DONE) report(db_.error_message("ledger exception keys query failed"));
  return keys;
}

std::vector<StoredException> SqliteLedger::exceptions_since(
    std::chrono::system_clock::time_point since) {
  const std::lock_guard lock(mutex_);
  std::vector<StoredException> events;
  StatementUse query(select_exceptions_);
  query->bind(to_unix_micros(since));
  int status = SQLITE_ROW;
  while ((status = query->step()) == SQLITE_ROW) {
    StoredException& event = events.emplace_back();
    event.id = query->column_text();
    event.at = from_unix_micros(query->column_int64());
    event.workflow = query->column_text();
    event.kind = query->column_text();
    event.window = query->column_text();
    event.dedupe_key = query->column_text();
    event.event_json = query->column_text();
  }
  if (status != SQLITE_DONE) report(db_.error_message("ledger exceptions query failed"));
  return events;
}

std::vector<PendingDelivery> SqliteLedger::pending_deliveries() {
  const std::lock_guard lock(mutex_);
  std::vector<PendingDelivery> pending;
  StatementUse query(select_pending_);
  int status = SQLITE_ROW;
  while ((status = query->step()) == SQLITE_ROW) {
    PendingDelivery& row = pending.emplace_back();
    row.delivery.exception_id = query->column_text();
    row.delivery.sink = query->column_text();
    row.delivery.attempts = static_cast<std::uint32_t>(query->column_int64());
    row.delivery.next_attempt_at = from_unix_micros(query->column_int64());
    row.event_json = query->column_text();
  }
  if (status != SQLITE_DONE) report(db_.error_message("ledger outbox query failed"));
  return pending;
}

bool SqliteLedger::update_delivery(const Delivery& delivery) {
  const std::lock_guard lock(mutex_);
  StatementUse update(update_delivery_);
  update->bind(to_string(delivery.state))
      .bind(static_cast<std::int64_t>(delivery.attempts))
      .bind(to_unix_micros(delivery.next_attempt_at))
      .bind(delivery.exception_id)
      .bind(delivery.sink);
  if (update->step() != SQLITE_DONE) {
    note_failure(db_.error_message("cannot update the delivery of " + delivery.exception_id));
    return false;
  }
  unsynced_ = true;
  return true;
}

bool SqliteLedger::drain() {
  for (;;) {
    switch (ingest_batch()) {
      case BatchResult::caught_up:
        return true;
      case BatchResult::failed:
        return false;
      case BatchResult::more:
        break;
    }
  }
}

SqliteLedger::BatchResult SqliteLedger::ingest_batch() {
  if (!keep_spool_folder()) return BatchResult::failed;
  discover_segments();
  // Taken after the listing: a segment listed and not being written now has had its
  // last write, so reading it to its end reads everything it will ever hold.
  const std::vector<std::uint64_t> being_written = spool_->segments_being_written();

  std::uint64_t budget = kMaxBatchBytes;
  bool in_transaction = false;
  struct Advance {
    const std::string* segment;
    SegmentCursor* cursor;
    std::uint64_t offset;
  };
  std::vector<Advance> advanced;
  for (auto& [name, cursor] : cursors_) {
    if (budget == 0) break;
    cursor.finished =
        !std::binary_search(being_written.begin(), being_written.end(), cursor.sequence);
    std::uint64_t new_offset = cursor.offset;
    if (!ingest_segment(name, cursor, budget, in_transaction, new_offset)) {
      rollback();
      return BatchResult::failed;
    }
    if (new_offset != cursor.offset) advanced.push_back({&name, &cursor, new_offset});
  }
  if (!advanced.empty()) {
    // The offsets commit with the records they cover: exactly once across crashes.
    if (!in_transaction && !begin_transaction()) return BatchResult::failed;
    for (const Advance& advance : advanced) {
      if (!store_offset(*advance.segment, advance.offset)) {
        rollback();
        return BatchResult::failed;
      }
    }
    std::string ignored;
    if (!db_.execute("COMMIT", ignored)) {
      note_failure(db_.error_message("cannot commit ledger records"));
      rollback();
      return BatchResult::failed;
    }
    for (const Advance& advance : advanced) advance.cursor->offset = advance.offset;
    unsynced_ = true;
  }
  for (auto& [name, cursor] : cursors_) {
    cursor.fully_ingested = cursor.finished && cursor.offset >= cursor.size;
  }
  note_success();
  return budget == 0 ? BatchResult::more : BatchResult::caught_up;
}

bool SqliteLedger::ingest_segment(const std::string& name, SegmentCursor& cursor,
                                  std::uint64_t& budget, bool& in_transaction,
                                  std::uint64_t& new_offset) {
  struct stat status {};
  if (::fstat(cursor.fd, &status) != 0) {
    report("cannot stat ledger spool segment " + name + ": " +
           std::system_category().message(errno));
    return true;  // skipped this time; the database is fine
  }
  cursor.size = static_cast<std::uint64_t>(status.st_size);
  if (cursor.size <= cursor.offset) return true;

  std::uint64_t end = std::min(cursor.size, cursor.offset + budget);
  if (!read_range(cursor.fd, cursor.offset, end, read_buffer_)) {
    report("cannot read ledger spool segment " + name);
    return true;
  }
  auto last_newline = read_buffer_.rfind('\n');
  if (last_newline == std::string::npos && end < cursor.size) {
    // One line longer than the budget: take it whole.
    end = cursor.size;
    if (!read_range(cursor.fd, cursor.offset, end, read_buffer_)) {
      report("cannot read ledger spool segment " + name);
      return true;
    }
    last_newline = read_buffer_.rfind('\n');
  }
  const std::size_t complete = last_newline == std::string::npos ? 0 : last_newline + 1;
  if (complete > 0 && !in_transaction) {
    if (!begin_transaction()) return false;
    in_transaction = true;
  }
  for (std::size_t start = 0; start < complete;) {
    const std::size_t line_end = read_buffer_.find('\n', start);
    const std::string_view line(read_buffer_.data() + start, line_end - start);
    if (!insert_line(line, name, cursor.offset + start)) return false;
    start = line_end + 1;
  }
  new_offset = cursor.offset + complete;
  // A read the budget cut short leaves the rest for the next batch.
  budget = end < cursor.size ? 0 : budget - std::min(budget, end - cursor.offset);
  if (cursor.finished && end == cursor.size && new_offset < cursor.size) {
    // Its writer is gone, so this partial line will never be completed: the process died
    // or the disk filled in the middle of writing it.
    report("torn last line of ledger spool segment " + name + " skipped (" +
           std::to_string(cursor.size - new_offset) + " bytes)");
    counters_->control_shard().write_error();
    new_offset = cursor.size;
  }
  return true;
}

bool SqliteLedger::insert_line(std::string_view line, const std::string& segment,
                               std::uint64_t offset) {
  if (!reader_.read_record(line, scratch_record_)) {
    report("unreadable ledger spool line skipped: " + segment + " at byte " +
           std::to_string(offset));
    counters_->control_shard().write_error();
    return true;
  }
  StatementUse insert(insert_record_);
  bind_record(*insert, scratch_record_, json_buffer_);
  if (insert->step() != SQLITE_DONE) {
    note_failure(db_.error_message("cannot insert ledger record " + scratch_record_.id));
    return false;
  }
  return true;
}

bool SqliteLedger::store_offset(const std::string& segment, std::uint64_t offset) {
  StatementUse upsert(upsert_offset_);
  upsert->bind(segment).bind(static_cast<std::int64_t>(offset));
  if (upsert->step() != SQLITE_DONE) {
    note_failure(db_.error_message("cannot store the ledger spool offset of " + segment));
    return false;
  }
  return true;
}

std::uint64_t SqliteLedger::stored_offset(const std::string& segment) {
  StatementUse query(select_offset_);
  query->bind(segment);
  return query->step() == SQLITE_ROW ? static_cast<std::uint64_t>(query->column_int64()) : 0;
}

void SqliteLedger::forget_offsets(const std::vector<std::string>& segments) {
  if (segments.empty() || !begin_transaction()) return;
  for (const std::string& segment : segments) {
    StatementUse remove(delete_offset_);
    remove->bind(segment);
    if (remove->step() != SQLITE_DONE) {
      // Harmless: the next open forgets offsets of segments that are gone.
      report(db_.error_message("cannot forget the spool offset of " + segment));
      rollback();
      return;
    }
  }
  std::string ignored;
  if (!db_.execute("COMMIT", ignored)) rollback();
}

bool SqliteLedger::keep_spool_folder() {
  struct stat status {};
  if (::stat(spool_folder_.c_str(), &status) == 0) return true;
  // Someone removed the folder. Segments still open keep their data (the writers and the
  // cursors hold descriptors), but new ones need the folder back.
  counters_->control_shard().write_error();
  std::error_code failure;
  std::filesystem::create_directories(spool_folder_, failure);
  std::string error;
  std::unique_ptr<SpoolLock> lock = failure ? nullptr : SpoolLock::acquire(spool_folder_, error);
  if (!lock) {
    note_failure("the ledger spool folder " + spool_folder_.string() +
                 " is gone and cannot be made again: " + (failure ? failure.message() : error));
    return false;
  }
  spool_->replace_lock(std::move(lock));
  report("the ledger spool folder " + spool_folder_.string() + " was removed; made it again");
  spool_->advance_generation();
  return true;
}

void SqliteLedger::discover_segments() {
  std::error_code failure;
  for (std::filesystem::directory_iterator it(spool_folder_, failure), end; !failure && it != end;
       it.increment(failure)) {
    std::string name = it->path().filename().string();
    const auto parsed = parse_segment_file_name(name);
    if (!parsed || cursors_.contains(name)) continue;
    const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      report("cannot open ledger spool segment " + name + ": " +
             std::system_category().message(errno));
      continue;
    }
    SegmentCursor cursor;
    cursor.sequence = parsed->sequence;
    cursor.fd = fd;
    cursor.offset = stored_offset(name);
    cursors_.emplace(std::move(name), cursor);
  }
}

bool SqliteLedger::sync() {
  last_sync_ = Clock::now();
  const bool any_finished = std::any_of(cursors_.begin(), cursors_.end(), [](const auto& entry) {
    return entry.second.fully_ingested;
  });
  if (!unsynced_ && !any_finished) return true;

  if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) !=
      SQLITE_OK) {
    note_failure(db_.error_message("ledger checkpoint failed"));
    return false;
  }
  // A passive checkpoint copies only what no reader still needs (a running report may
  // pin the rest); syncing the log makes every commit durable whatever it copied.
  std::string error;
  if (!fsync_file(settings_.path + "-wal", error)) {
    note_failure(error);
    return false;
  }
  unsynced_ = false;

  // Only now may segments go: what they held is on disk in the database.
  std::vector<std::string> deleted;
  for (auto it = cursors_.begin(); it != cursors_.end();) {
    if (!it->second.fully_ingested) {
      ++it;
      continue;
    }
    const std::filesystem::path path = spool_folder_ / it->first;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      report("cannot delete ingested ledger spool segment " + path.string() + ": " +
             std::system_category().message(errno));
      ++it;
      continue;
    }
    ::close(it->second.fd);
    deleted.push_back(it->first);
    it = cursors_.erase(it);
  }
  forget_offsets(deleted);
  return true;
}

void SqliteLedger::prune_expired() {
  if (settings_.retention.count() <= 0) return;
  const auto now = Clock::now();
  if (now < next_prune_) return;
  const std::int64_t cutoff =
      to_unix_micros(std::chrono::system_clock::now() - settings_.retention);
  StatementUse prune(delete_expired_);
  prune->bind(cutoff).bind(kPruneBatchRows);
  if (prune->step() != SQLITE_DONE) {
    report(db_.error_message("cannot delete expired ledger records"));
    next_prune_ = now + kPruneRetryInterval;
    return;
  }
  unsynced_ = true;
  // A full batch means more are waiting: go on at the next cycle.
  next_prune_ = db_.changes() == kPruneBatchRows ? now : now + kPruneInterval;
}

bool SqliteLedger::begin_transaction() {
  std::string error;
  if (db_.execute("BEGIN IMMEDIATE", error)) return true;
  note_failure("cannot begin a ledger transaction: " + error);
  return false;
}

void SqliteLedger::rollback() {
  if (sqlite3_get_autocommit(db_.get()) != 0) return;  // nothing open
  std::string ignored;
  db_.execute("ROLLBACK", ignored);
}

std::optional<RequestRecord> SqliteLedger::select_record(std::string_view id) {
  StatementUse query(select_record_);
  query->bind(id);
  const int status = query->step();
  if (status != SQLITE_ROW) {
    if (status != SQLITE_DONE) report(db_.error_message("ledger record query failed"));
    return std::nullopt;
  }
  RequestRecord record;
  if (!read_record(*query, reader_, record)) {
    report("ledger record " + record.id + " has unreadable attempts or tags");
  }
  return record;
}

void SqliteLedger::report(const std::string& message) {
  if (settings_.options.on_error) settings_.options.on_error(message);
}

void SqliteLedger::note_failure(std::string message) {
  counters_->control_shard().write_error();
  writable_.store(false, std::memory_order_relaxed);
  last_failure_ = message;
  // One line when the store starts failing and one when it recovers, not one per retry.
  if (!failing_) report(std::move(message));
  failing_ = true;
}

void SqliteLedger::note_success() {
  writable_.store(true, std::memory_order_relaxed);
  if (failing_) {
    failing_ = false;
    report("the ledger store works again; the spool kept every record meanwhile");
  }
}

}  // namespace spendwall::metering::ledger
