#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "metering/sse.hpp"

/// Helpers shared by the translation tests: the recorded payloads in tests/data/api/translate,
/// structural JSON comparison and SSE framing of translated streams.
/// Thread-safety: pure functions.
namespace spendwall::api::testing {

inline std::string read_translate_data(std::string_view name) {
  const std::string path =
      std::string(SPENDWALL_TEST_DATA_DIR) + "/api/translate/" + std::string(name);
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("missing test data: " + path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// Where `actual` differs from `expected` ("" when equal), as a JSON path. Objects compare
/// regardless of member order, numbers by value whatever their spelling.
inline std::string json_difference(simdjson::dom::element actual, simdjson::dom::element expected,
                                   const std::string& path = "$") {
  using simdjson::dom::element_type;
  const auto is_number = [](element_type type) {
    return type == element_type::INT64 || type == element_type::UINT64 ||
           type == element_type::DOUBLE;
  };
  if (is_number(actual.type()) && is_number(expected.type())) {
    double a = 0;
    double b = 0;
    if (actual.get(a) != simdjson::SUCCESS || expected.get(b) != simdjson::SUCCESS || a != b) {
      return path + ": numbers differ";
    }
    return {};
  }
  if (actual.type() != expected.type()) return path + ": types differ";
  switch (actual.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object a = actual.get_object().value_unsafe();
      simdjson::dom::object b = expected.get_object().value_unsafe();
      if (a.size() != b.size()) return path + ": member counts differ";
      for (const auto& [key, value] : b) {
        simdjson::dom::element other;
        if (a[key].get(other) != simdjson::SUCCESS)
          return path + "." + std::string(key) + ": missing";
        std::string difference = json_difference(other, value, path + "." + std::string(key));
        if (!difference.empty()) return difference;
      }
      return {};
    }
    case element_type::ARRAY: {
      simdjson::dom::array a = actual.get_array().value_unsafe();
      simdjson::dom::array b = expected.get_array().value_unsafe();
      if (a.size() != b.size()) return path + ": lengths differ";
      auto it = a.begin();
      std::size_t index = 0;
      for (simdjson::dom::element value : b) {
        std::string difference =
            json_difference(*it, value, path + "[" + std::to_string(index) + "]");
        if (!difference.empty()) return difference;
        ++it;
        ++index;
      }
      return {};
    }
    case element_type::STRING:
      return actual.get_string().value_unsafe() == expected.get_string().value_unsafe()
                 ? std::string()
                 : path + ": strings differ";
    case element_type::BOOL:
      return actual.get_bool().value_unsafe() == expected.get_bool().value_unsafe()
                 ? std::string()
                 : path + ": booleans differ";
    default:
      return {};
  }
}

/// A gtest case name from a parameter's `name`.
template <class Case>
std::string param_name(const ::testing::TestParamInfo<Case>& info) {
  return std::string(info.param.name);
}

/// Whether two JSON texts hold the same value.
inline ::testing::AssertionResult json_equal(std::string_view actual, std::string_view expected) {
  simdjson::dom::parser actual_parser;
  simdjson::dom::parser expected_parser;
  simdjson::dom::element a;
  simdjson::dom::element b;
  if (actual_parser.parse(actual.data(), actual.size()).get(a) != simdjson::SUCCESS) {
    return ::testing::AssertionFailure() << "not JSON: " << actual;
  }
  if (expected_parser.parse(expected.data(), expected.size()).get(b) != simdjson::SUCCESS) {
    return ::testing::AssertionFailure() << "expected value is not JSON";
  }
  const std::string difference = json_difference(a, b);
  if (difference.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << difference << "\nactual:   " << actual << "\nexpected: " << expected;
}

/// One framed SSE event, copied.
struct SseEventCopy {
  std::string name;
  std::string data;
};

/// Frames a complete SSE text into its events.
inline std::vector<SseEventCopy> frame_events(std::string_view text) {
  metering::SseFramer framer(1 << 20);
  std::vector<SseEventCopy> events;
  framer.feed(text, [&](std::string_view name, std::string_view data, std::string_view) {
    events.push_back({std::string(name), std::string(data)});
  });
  return events;
}

}  // namespace spendwall::api::testing
