#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

/// Owning handles over the SQLite C API, with errors as values.
/// Thread-safety: none; the owner serialises every use of a connection and its statements.
namespace spendwall::metering::ledger {

/// A prepared statement. Parameters are bound in order, from 1; columns are read in
/// order, from 0, so that a statement's SQL and its binding code read the same way.
class SqliteStatement {
 public:
  SqliteStatement() = default;
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  ~SqliteStatement();

  /// False, with the connection's message in `error`, when `sql` does not compile.
  bool prepare(sqlite3* db, std::string_view sql, std::string& error);

  SqliteStatement& bind(std::string_view text);
  SqliteStatement& bind(const std::string& text) { return bind(std::string_view(text)); }
  SqliteStatement& bind(std::int64_t value);
  SqliteStatement& bind(double value);
  SqliteStatement& bind(const std::optional<std::string>& text);
  SqliteStatement& bind(const std::optional<double>& value);
  SqliteStatement& bind_null();

  /// SQLITE_ROW, SQLITE_DONE or an error code. Columns restart from 0 on each row.
  int step();
  /// Ready for new bindings and a new run.
  void reset();

  bool is_null() const;
  std::int64_t column_int64();
  double column_double();
  std::string_view column_text();
  std::optional<std::string> column_optional_text();
  std::optional<double> column_optional_double();
  std::optional<std::int64_t> column_optional_int64();

 private:
  sqlite3_stmt* statement_ = nullptr;
  int next_parameter_ = 1;
  int next_column_ = 0;
};

/// One use of a statement: reset on entry and on exit, so that no use inherits bindings
/// or leaves a read open (an unreset SELECT would pin the WAL against checkpoints).
class StatementUse {
 public:
  explicit StatementUse(SqliteStatement& statement) : statement_(statement) { statement_.reset(); }
  ~StatementUse() { statement_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  SqliteStatement& operator*() const noexcept { return statement_; }
  SqliteStatement* operator->() const noexcept { return &statement_; }

 private:
  SqliteStatement& statement_;
};

/// A connection.
class SqliteDatabase {
 public:
  SqliteDatabase() = default;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase();

  /// Opens (creating) the read-write database at `path`.
  bool open(const std::string& path, std::string& error);
  /// Runs one or more statements that return no rows.
  bool execute(std::string_view sql, std::string& error);
  bool prepare(SqliteStatement& statement, std::string_view sql, std::string& error) {
    return statement.prepare(db_, sql, error);
  }
  /// The connection's last error message, prefixed with `what`.
  std::string error_message(std::string_view what) const;
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  sqlite3* get() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace spendwall::metering::ledger
