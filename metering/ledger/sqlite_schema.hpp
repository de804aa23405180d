#pragma once

#include <string>

#include "metering/ledger/sqlite_handle.hpp"

/// The ledger database's schema, versioned with `PRAGMA user_version` and migrated in code.
/// `spendwall report` reads these tables directly.
/// Thread-safety: migrate_schema() runs on a connection its caller owns.
namespace spendwall::metering::ledger {

/// The version this build writes.
inline constexpr int kSchemaVersion = 3;

/// Brings `db` to kSchemaVersion, each step in its own transaction. Refuses, with an
/// error, a database written by a newer build.
bool migrate_schema(SqliteDatabase& db, std::string& error);

}  // namespace spendwall::metering::ledger
