#include "metering/ledger/sqlite_handle.hpp"

#include <sqlite3.h>

#include <utility>

namespace spendwall::metering::ledger {

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)),
      next_parameter_(other.next_parameter_),
      next_column_(other.next_column_) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(statement_);
    statement_ = std::exchange(other.statement_, nullptr);
    next_parameter_ = other.next_parameter_;
    next_column_ = other.next_column_;
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(statement_); }

bool SqliteStatement::prepare(sqlite3* db, std::string_view sql, std::string& error) {
  sqlite3_finalize(statement_);
  statement_ = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &statement_, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db);
    return false;
  }
  reset();
  return true;
}

SqliteStatement& SqliteStatement::bind(std::string_view text) {
  // A null pointer would bind NULL; an empty text is still a text.
  const char* data = text.data() == nullptr ? "" : text.data();
  sqlite3_bind_text64(statement_, next_parameter_++, data, text.size(), SQLITE_TRANSIENT,
                      SQLITE_UTF8);
  return *this;
}

SqliteStatement& SqliteStatement::bind(std::int64_t value) {
  sqlite3_bind_int64(statement_, next_parameter_++, value);
  return *this;
}

SqliteStatement& SqliteStatement::bind(double value) {
  sqlite3_bind_double(statement_, next_parameter_++, value);
  return *this;
}

SqliteStatement& SqliteStatement::bind(const std::optional<std::string>& text) {
  return text ? bind(std::string_view(*text)) : bind_null();
}

SqliteStatement& SqliteStatement::bind(const std::optional<double>& value) {
  return value ? bind(*value) : bind_null();
}

SqliteStatement& SqliteStatement::bind_null() {
  sqlite3_bind_null(statement_, next_parameter_++);
  return *this;
}

int SqliteStatement::step() {
  next_column_ = 0;
  return sqlite3_step(statement_);
}

void SqliteStatement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
  next_parameter_ = 1;
  next_column_ = 0;
}

bool SqliteStatement::is_null() const {
  return sqlite3_column_type(statement_, next_column_) == SQLITE_NULL;
}

std::int64_t SqliteStatement::column_int64() {
  return sqlite3_column_int64(statement_, next_column_++);
}

double SqliteStatement::column_double() {
  return sqlite3_column_double(statement_, next_column_++);
}

std::string_view SqliteStatement::column_text() {
  // The text pointer first, then its size: that is the order SQLite documents.
  const auto* text = sqlite3_column_text(statement_, next_column_);
  const auto size = static_cast<std::size_t>(sqlite3_column_bytes(statement_, next_column_));
  ++next_column_;
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text), size);
}

std::optional<std::string> SqliteStatement::column_optional_text() {
  if (is_null()) {
    ++next_column_;
    return std::nullopt;
  }
  return std::string(column_text());
}

std::optional<double> SqliteStatement::column_optional_double() {
  if (is_null()) {
    ++next_column_;
    return std::nullopt;
  }
  return column_double();
}

std::optional<std::int64_t> SqliteStatement::column_optional_int64() {
  if (is_null()) {
    ++next_column_;
    return std::nullopt;
  }
  return column_int64();
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

bool SqliteDatabase::open(const std::string& path, std::string& error) {
  // Every use is serialised by the owner, so SQLite's own connection mutex is not needed.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    error = db_ == nullptr ? "out of memory" : error_message("cannot open " + path);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  sqlite3_extended_result_codes(db_, 1);
  return true;
}

bool SqliteDatabase::execute(std::string_view sql, std::string& error) {
  const std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    error = message == nullptr ? "unknown SQLite error" : message;
    sqlite3_free(message);
    return false;
  }
  return true;
}

std::string SqliteDatabase::error_message(std::string_view what) const {
  std::string message(what);
  message += ": ";
  message += sqlite3_errmsg(db_);
  return message;
}

std::int64_t SqliteDatabase::changes() const { return sqlite3_changes64(db_); }

}  // namespace spendwall::metering::ledger
