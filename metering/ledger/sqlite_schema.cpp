#include "metering/ledger/sqlite_schema.hpp"

#include <sqlite3.h>

#include <array>
#include <string_view>

namespace spendwall::metering::ledger {
namespace {

// kMigrations[v] takes the schema from version v to v + 1. Never edit a released step:
// append a new one.
constexpr std::array<std::string_view, kSchemaVersion> kMigrations{
    // 1: requests (one row per ledger record) and the spool's ingestion offsets.
    R"sql(
CREATE TABLE requests (
  id TEXT PRIMARY KEY NOT NULL,
  started_at_us INTEGER NOT NULL,   -- Unix microseconds
  finished_at_us INTEGER NOT NULL,
  workflow TEXT NOT NULL,
  route TEXT NOT NULL,              -- '' until resolved
  provider TEXT NOT NULL,           -- '' until a target was chosen
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,           -- '/v1/chat/completions', ...
  stream INTEGER NOT NULL,          -- 0 or 1
  status INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  usage_source TEXT NOT NULL,       -- reported | estimated
  cost_nano_usd INTEGER NOT NULL,   -- exact; 10^9 per USD
  latency_ms REAL,                  -- NULL when it could not be measured
  ttft_ms REAL,
  fallbacks INTEGER NOT NULL,
  budget_action TEXT NOT NULL,      -- none | blocked | downgraded | alerted | session_blocked
  session TEXT,
  attempts TEXT NOT NULL,           -- JSON array, as in GET /admin/requests/{id}
  tags TEXT NOT NULL,               -- JSON object
  outcome TEXT,                     -- NULL until feedback arrives
  outcome_score REAL,
  outcome_note TEXT,
  outcome_at_us INTEGER
);
CREATE INDEX requests_by_time ON requests (started_at_us);
CREATE INDEX requests_by_workflow ON requests (workflow, started_at_us);
CREATE INDEX requests_by_provider_model ON requests (provider, model, started_at_us);
CREATE INDEX requests_by_route ON requests (route, started_at_us);
CREATE TABLE spool_offsets (
  segment TEXT PRIMARY KEY NOT NULL,  -- file name in the spool folder
  ingested_bytes INTEGER NOT NULL     -- its prefix already in requests (whole lines)
) WITHOUT ROWID;
)sql",
    // 2: budget exceptions (PRODUCT.md §5) and their delivery outbox, so that a threshold
    // fires once across restarts and an undelivered event is retried after one.
    R"sql(
CREATE TABLE exceptions (
  id TEXT PRIMARY KEY NOT NULL,     -- exc_...
  at_us INTEGER NOT NULL,           -- Unix microseconds
  workflow TEXT NOT NULL,
  kind TEXT NOT NULL,               -- threshold | exceeded | spike | ...
  budget_window TEXT NOT NULL,      -- daily | monthly
  dedupe_key TEXT NOT NULL UNIQUE,  -- workflow|kind|window|start|discriminator
  event TEXT NOT NULL               -- the admin-api.md event JSON
);
CREATE INDEX exceptions_by_time ON exceptions (at_us);
CREATE TABLE exception_deliveries (
  exception_id TEXT NOT NULL REFERENCES exceptions (id),
  sink TEXT NOT NULL,               -- alerts.sinks[].name
  state TEXT NOT NULL,              -- pending | delivered | failed
  attempts INTEGER NOT NULL,
  next_attempt_us INTEGER NOT NULL,
  PRIMARY KEY (exception_id, sink)
) WITHOUT ROWID;
CREATE INDEX exception_deliveries_pending ON exception_deliveries (state);
)sql",
    // 3: session spend is summed per session at start, so session caps survive a restart.
    R"sql(
CREATE INDEX requests_by_session ON requests (session, started_at_us) WHERE session IS NOT NULL;
)sql",
};

bool read_user_version(SqliteDatabase& db, int& version, std::string& error) {
  SqliteStatement query;
  if (!db.prepare(query, "PRAGMA user_version", error)) return false;
  if (query.step() != SQLITE_ROW) {
    error = db.error_message("cannot read the schema version");
    return false;
  }
  version = static_cast<int>(query.column_int64());
  return true;
}

}  // namespace

bool migrate_schema(SqliteDatabase& db, std::string& error) {
  int version = 0;
  if (!read_user_version(db, version, error)) return false;
  if (version > kSchemaVersion) {
    error = "the ledger database has schema version " + std::to_string(version) +
            ", newer than this build's " + std::to_string(kSchemaVersion);
    return false;
  }
  for (; version < kSchemaVersion; ++version) {
    std::string step = "BEGIN IMMEDIATE;\n";
    step += kMigrations[static_cast<std::size_t>(version)];
    step += "PRAGMA user_version = " + std::to_string(version + 1) + ";\nCOMMIT;";
    if (!db.execute(step, error)) {
      std::string ignored;
      db.execute("ROLLBACK", ignored);
      error = "schema migration to version " + std::to_string(version + 1) + " failed: " + error;
      return false;
    }
  }
  return true;
}

}  // namespace spendwall::metering::ledger
