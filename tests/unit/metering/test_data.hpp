#pragma once

#include <simdjson.h>

#include <cctype>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

/// Access to the recorded payloads in tests/data/metering. Thread-safety: pure functions.
namespace spendwall::metering::testing {

inline std::string read_test_data(std::string_view name) {
  const std::string path = std::string(SPENDWALL_TEST_DATA_DIR) + "/metering/" + std::string(name);
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("missing test data: " + path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// A copy of `text` with the padding simdjson needs after it.
inline simdjson::padded_string padded(std::string_view text) {
  return simdjson::padded_string(text);
}

/// A gtest case name from a case label or a data file name: the part before the first '.',
/// with anything but letters and digits turned into '_'.
inline std::string case_name(std::string_view label) {
  std::string name(label.substr(0, label.find('.')));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

}  // namespace spendwall::metering::testing
