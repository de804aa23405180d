#include "metering/report/ledger_reader.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <optional>
#include <set>
#include <system_error>

#include "config/units.hpp"
#include "metering/ledger/sqlite_handle.hpp"

namespace spendwall::metering::report {
namespace {

using ledger::SqliteStatement;
using Microseconds = std::chrono::sys_time<std::chrono::microseconds>;

constexpr std::int64_t kMicrosPerDay = std::int64_t{86'400} * 1'000'000;

std::int64_t to_micros(Seconds at) {
  return std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
}

/// The SQL expression of a group key. Fixed text: nothing from the user reaches the SQL.
std::string_view key_expression(GroupColumn column) {
  switch (column) {
    case GroupColumn::workflow:
      return "workflow";
    case GroupColumn::provider:
      return "provider";
    case GroupColumn::model:
      // A model name means little without its provider: prices and routes name both.
      return "CASE WHEN model = '' THEN '' ELSE provider || '/' || model END";
    case GroupColumn::route:
      return "route";
  }
  return "workflow";
}

std::string group_key(std::string_view value) {
  return value.empty() ? std::string(kNoneKey) : std::string(value);
}

bool prepare(sqlite3* db, SqliteStatement& statement, std::string_view sql, std::string& error) {
  if (statement.prepare(db, sql, error)) return true;
  error = "cannot query the ledger: " + error;
  return false;
}

/// Steps through every row, calling `on_row` for each; false with `error` on failure.
template <class OnRow>
bool for_each_row(sqlite3* db, SqliteStatement& statement, std::string& error, OnRow on_row) {
  for (;;) {
    const int rc = statement.step();
    if (rc == SQLITE_DONE) return true;
    if (rc != SQLITE_ROW) {
      error = std::string("cannot read the ledger: ") + sqlite3_errmsg(db);
      return false;
    }
    on_row(statement);
  }
}

std::uint64_t column_count(SqliteStatement& statement) {
  const std::int64_t value = statement.column_int64();
  return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

/// An exception's time as the table may hold it: `at_us` Unix microseconds, or `at` as
/// RFC 3339 text (the admin-api.md shape, possibly with fractional seconds) or Unix seconds.
/// `text` is the value as SQLite renders it in text, whatever its `type`.
std::optional<Microseconds> parse_exception_time(std::string_view type, std::string_view text,
                                                 bool in_micros) {
  if (type == "integer") {
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (in_micros) return Microseconds(std::chrono::microseconds(number));
    return Microseconds(std::chrono::seconds(number));
  }
  if (type != "text" || in_micros) return std::nullopt;
  if (auto at = config::parse_timestamp(text)) return Microseconds(*at);
  // parse_timestamp takes whole seconds only: read a fraction apart.
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto digits_end = text.find_first_not_of("0123456789", dot + 1);
  if (digits_end == std::string_view::npos) digits_end = text.size();
  std::string whole(text.substr(0, dot));
  whole += text.substr(digits_end);
  const auto at = config::parse_timestamp(whole);
  if (!at || digits_end == dot + 1) return std::nullopt;
  std::string micros(text.substr(dot + 1, std::min<std::size_t>(digits_end - dot - 1, 6)));
  micros.resize(6, '0');
  return Microseconds(*at) + std::chrono::microseconds(std::stoll(micros));
}

}  // namespace

LedgerReader::~LedgerReader() {
  if (db_ == nullptr) return;
  if (in_transaction_) {
    std::string ignored;
    run("COMMIT", ignored);
  }
  sqlite3_close_v2(db_);
}

bool LedgerReader::run(std::string_view sql, std::string& error) {
  const std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return true;
  error = message == nullptr ? "unknown SQLite error" : message;
  sqlite3_free(message);
  return false;
}

bool LedgerReader::open(const std::string& path, std::string& error) {
  std::error_code exists_error;
  if (!std::filesystem::exists(path, exists_error)) {
    error = "the ledger database " + path +
            " does not exist yet (it is created when `spendwall serve` first starts)";
    return false;
  }
  // Read-only: the report must never create, migrate or lock out the proxy's database.
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    error = "cannot open the ledger database " + path + ": " +
            (db_ == nullptr ? "out of memory" : sqlite3_errmsg(db_));
    return false;
  }
  // WAL readers do not wait for the writer, but a checkpoint or the WAL's recovery can
  // hold them back for a moment.
  sqlite3_busy_timeout(db_, 5'000);
  std::string detail;
  if (!run("BEGIN", detail)) {
    error = "cannot read the ledger database " + path + ": " + detail;
    return false;
  }
  in_transaction_ = true;

  SqliteStatement probe;
  if (!probe.prepare(
          db_, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'requests'",
          detail) ||
      probe.step() != SQLITE_ROW) {
    error = "cannot read the ledger database " + path + ": " +
            (detail.empty() ? std::string(sqlite3_errmsg(db_)) : detail);
    return false;
  }
  if (probe.column_int64() == 0) {
    error = path + " is not a Spendwall ledger (it has no requests table)";
    return false;
  }
  return true;
}

bool LedgerReader::read_traffic(GroupColumn column, const Period& period, TrafficByKey& out,
                                std::string& error) {
  const std::string key(key_expression(column));
  const std::string where = " FROM requests WHERE started_at_us >= ? AND started_at_us < ?";
  SqliteStatement totals;
  if (!prepare(db_, totals,
               "SELECT " + key +
                   ", count(*), sum(input_tokens), sum(cached_input_tokens), "
                   "sum(cache_write_tokens), sum(output_tokens), sum(reasoning_tokens), "
                   "sum(cost_nano_usd), sum(fallbacks > 0), sum(usage_source = 'estimated')" +
                   where + " GROUP BY 1",
               error)) {
    return false;
  }
  totals.bind(to_micros(period.since)).bind(to_micros(period.until));
  const bool totals_read = for_each_row(db_, totals, error, [&](SqliteStatement& row) {
    Traffic& traffic = out[group_key(row.column_text())];
    traffic.requests += column_count(row);
    traffic.tokens.input += column_count(row);
    traffic.tokens.cached_input += column_count(row);
    traffic.tokens.cache_write += column_count(row);
    traffic.tokens.output += column_count(row);
    traffic.tokens.reasoning += column_count(row);
    traffic.spend += row.column_int64();
    traffic.with_fallbacks += column_count(row);
    traffic.estimated += column_count(row);
  });
  if (!totals_read) return false;

  SqliteStatement outcomes;
  if (!prepare(db_, outcomes,
               "SELECT " + key + ", outcome, count(*)" + where +
                   " AND outcome IS NOT NULL GROUP BY 1, 2",
               error)) {
    return false;
  }
  outcomes.bind(to_micros(period.since)).bind(to_micros(period.until));
  return for_each_row(db_, outcomes, error, [&](SqliteStatement& row) {
    Traffic& traffic = out[group_key(row.column_text())];
    const std::string outcome(row.column_text());
    traffic.outcomes[outcome] += column_count(row);
  });
}

bool LedgerReader::read_workflow_spend(std::string_view workflow, Seconds from, Seconds until,
                                       config::NanoUsd& out, std::string& error) {
  SqliteStatement spend;
  if (!prepare(db_, spend,
               "SELECT coalesce(sum(cost_nano_usd), 0) FROM requests "
               "WHERE workflow = ? AND started_at_us >= ? AND started_at_us < ?",
               error)) {
    return false;
  }
  spend.bind(workflow).bind(to_micros(from)).bind(to_micros(until));
  out = 0;
  return for_each_row(db_, spend, error, [&](SqliteStatement& row) { out = row.column_int64(); });
}

bool LedgerReader::read_daily_spend(const Period& period, std::vector<DailySpend>& out,
                                    std::string& error) {
  SqliteStatement daily;
  if (!prepare(db_, daily,
               "SELECT workflow, started_at_us / " + std::to_string(kMicrosPerDay) +
                   ", sum(cost_nano_usd) FROM requests "
                   "WHERE started_at_us >= ? AND started_at_us < ? GROUP BY 1, 2",
               error)) {
    return false;
  }
  daily.bind(to_micros(period.since)).bind(to_micros(period.until));
  return for_each_row(db_, daily, error, [&](SqliteStatement& row) {
    DailySpend entry;
    entry.workflow = group_key(row.column_text());
    entry.day = row.column_int64();
    entry.spend = row.column_int64();
    out.push_back(std::move(entry));
  });
}

void LedgerReader::read_exceptions(std::vector<ExceptionEntry>& out, std::string& warning) {
  // The table is written by the exception detector's store, whose exact columns this
  // reader does not pin down: it takes the admin-api.md fields by name wherever they are.
  std::set<std::string, std::less<>> columns;
  {
    SqliteStatement info;
    std::string error;
    if (!info.prepare(db_, "PRAGMA table_info(exceptions)", error)) {
      warning = "the exceptions table could not be read: " + error;
      return;
    }
    const bool listed = for_each_row(db_, info, error, [&](SqliteStatement& row) {
      row.column_int64();  // cid
      columns.emplace(row.column_text());
    });
    if (!listed) {
      warning = "the exceptions table could not be read: " + error;
      return;
    }
  }
  if (columns.empty()) return;  // no table: nothing raised yet, or an older ledger

  std::string event_column;
  for (std::string_view candidate : {"event", "json", "body", "payload"}) {
    if (columns.contains(candidate)) {
      event_column = candidate;
      break;
    }
  }
  const auto field = [&](std::string_view name) -> std::string {
    if (columns.contains(name)) return "\"" + std::string(name) + "\"";
    if (!event_column.empty()) {
      return "json_extract(\"" + event_column + "\", '$." + std::string(name) + "')";
    }
    return "NULL";
  };
  const bool has_micros = columns.contains("at_us");
  const std::string time = has_micros ? std::string("at_us") : field("at");
  const std::string sql = "SELECT " + field("id") + ", " + field("kind") + ", " +
                          field("workflow") + ", " + field("owner") + ", " + field("next_action") +
                          ", typeof(" + time + "), " + time + " FROM exceptions";

  SqliteStatement select;
  std::string error;
  std::vector<ExceptionEntry> entries;
  const bool read = prepare(db_, select, sql, error) &&
                    for_each_row(db_, select, error, [&](SqliteStatement& row) {
                      ExceptionEntry entry;
                      entry.id = row.column_optional_text().value_or("");
                      entry.kind = row.column_optional_text().value_or("");
                      entry.workflow = row.column_optional_text().value_or("");
                      entry.owner = row.column_optional_text().value_or("");
                      entry.next_action = row.column_optional_text().value_or("");
                      const std::string type(row.column_text());
                      const auto at = parse_exception_time(type, row.column_text(), has_micros);
                      if (at) {
                        entry.at = *at;
                        entries.push_back(std::move(entry));
                      }
                    });
  if (!read) {
    warning = "the exceptions table could not be read: " + error;
    return;
  }
  out = std::move(entries);
}

}  // namespace spendwall::metering::report
