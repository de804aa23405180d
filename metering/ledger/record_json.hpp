#pragma once

#include <simdjson.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metering/json_writer.hpp"
#include "metering/request_record.hpp"

/// A ledger record as JSON: the `GET /admin/requests/{id}` document of admin-api.md, plus
/// the exact values that document rounds (`cost_nano_usd`, `started_at_us`,
/// `finished_at_us`, the outcome's `at_us`), so that the text alone rebuilds the record.
/// The same text is a spool line and the admin API's answer.
///
/// Times are kept to the microsecond: a record read back has its times truncated to whole
/// microseconds.
/// Thread-safety: the free functions are pure; a `RecordJsonReader` is single-threaded.
namespace spendwall::metering::ledger {

using TimePoint = std::chrono::system_clock::time_point;

/// Microseconds since the Unix epoch, rounded towards negative infinity.
std::int64_t to_unix_micros(TimePoint time) noexcept;
TimePoint from_unix_micros(std::int64_t micros) noexcept;

/// `2026-12-02T09:14:03.123456Z`: RFC 3339 in UTC with microseconds, rendered without
/// allocating.
class Rfc3339 {
 public:
  static constexpr std::size_t kLength = 27;
  explicit Rfc3339(TimePoint time) noexcept;
  std::string_view view() const noexcept { return {chars_.data(), chars_.size()}; }

 private:
  std::array<char, kLength> chars_{};
};

/// Writes `record` as one JSON object (no newline; strings are escaped, so the text never
/// holds one).
void write_record(const RequestRecord& record, JsonWriter& json);
/// The `attempts` array and the `tags` object alone, as the database stores them.
void write_attempts(const std::vector<AttemptRecord>& attempts, JsonWriter& json);
void write_tags(const std::vector<std::pair<std::string, std::string>>& tags, JsonWriter& json);

/// Reads the texts the functions above write, with one reused simdjson On-Demand parser
/// and padded buffer. Members may come in any order and unknown members are skipped;
/// every member write_record() writes must be present.
class RecordJsonReader {
 public:
  RecordJsonReader() = default;
  RecordJsonReader(const RecordJsonReader&) = delete;
  RecordJsonReader& operator=(const RecordJsonReader&) = delete;

  /// False, with `into` partly overwritten, when `json` is not a well-formed record.
  bool read_record(std::string_view json, RequestRecord& into);
  bool read_attempts(std::string_view json, std::vector<AttemptRecord>& into);
  bool read_tags(std::string_view json, std::vector<std::pair<std::string, std::string>>& into);

 private:
  simdjson::simdjson_result<simdjson::ondemand::document> iterate(std::string_view json);

  simdjson::ondemand::parser parser_;
  std::string padded_;  ///< the text plus SIMDJSON_PADDING; grown, never shrunk
};

}  // namespace spendwall::metering::ledger
