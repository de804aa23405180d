#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <variant>

/// Structured JSON-lines logging to stderr: one event per line, written with one
/// write(2) so lines from several threads never interleave.
/// Thread-safety: every function may be called from any thread.
namespace spendwall::proxy::log {

enum class Level { debug, info, warn, error };

/// JSON text written into the line as is (the caller vouches for it), e.g. an event
/// object that log readers should see as structure rather than as a string.
struct RawJson {
  std::string_view text;
};

/// One `"key": value` pair of an event. Strings are escaped; numbers written as is.
struct Field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, double, bool, RawJson> value;
};

void event(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void info(std::string_view message, std::initializer_list<Field> fields = {}) {
  event(Level::info, message, fields);
}
inline void warn(std::string_view message, std::initializer_list<Field> fields = {}) {
  event(Level::warn, message, fields);
}
inline void error(std::string_view message, std::initializer_list<Field> fields = {}) {
  event(Level::error, message, fields);
}

}  // namespace spendwall::proxy::log
