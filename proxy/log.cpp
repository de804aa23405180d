#include "proxy/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "proxy/api/json_writer.hpp"

namespace spendwall::proxy::log {
namespace {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

void append_timestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis % 1000));
  out += text;
}

void append_quoted(std::string_view text, std::string& out) {
  out += '"';
  api::json_escape(text, out);
  out += '"';
}

}  // namespace

void event(Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(256);
  line += "{\"ts\":\"";
  append_timestamp(line);
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":";
  append_quoted(message, line);
  for (const Field& field : fields) {
    line += ',';
    append_quoted(field.key, line);
    line += ':';
    std::visit(
        [&line](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            append_quoted(value, line);
          } else if constexpr (std::is_same_v<T, RawJson>) {
            line += value.text;
          } else if constexpr (std::is_same_v<T, bool>) {
            line += value ? "true" : "false";
          } else {
            line += std::to_string(value);
          }
        },
        field.value);
  }
  line += "}\n";
  // A single write keeps concurrent lines whole; a short write to stderr is not retried.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace spendwall::proxy::log
