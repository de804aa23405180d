#pragma once

#include <gmock/gmock.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"

/// Builders and matchers shared by the config tests.
namespace spendwall::config::testing {

inline constexpr std::string_view kTestFile = "test.yaml";

/// A valid `sha256:` key hash; `n` makes distinct ones.
inline std::string key_hash(int n) {
  std::string hex(64, '0');
  const std::string digits = std::to_string(n);
  hex.replace(hex.size() - digits.size(), digits.size(), digits);
  return "sha256:" + hex;
}

/// The environment as a fixed map, so tests do not depend on the process's.
inline EnvLookup env_of(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    const auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

/// A complete config whose last section is the one under test, so positions inside
/// that section are `line(n)` for its n-th line plus a literal column.
class ConfigDoc {
 public:
  /// `sections` starts with its own key line (`routes:`); a leading newline is dropped.
  /// The default sections named in `replaced` are left out.
  ConfigDoc(std::initializer_list<std::string_view> replaced, std::string_view sections) {
    for (const auto& [default_name, default_text] : default_sections()) {
      if (std::find(replaced.begin(), replaced.end(), default_name) == replaced.end()) {
        text_ += default_text;
      }
    }
    prefix_lines_ = static_cast<int>(std::count(text_.begin(), text_.end(), '\n'));
    if (sections.starts_with('\n')) sections.remove_prefix(1);
    text_ += sections;
  }

  ConfigDoc(std::string_view replaced, std::string_view section) : ConfigDoc({replaced}, section) {}

  /// A config with only the default sections.
  ConfigDoc() : ConfigDoc({}, "") {}

  const std::string& text() const { return text_; }
  /// The file line of line `n` (from 1) of the section under test.
  int line(int n) const { return prefix_lines_ + n; }

 private:
  static std::vector<std::pair<std::string, std::string>> default_sections() {
    return {
        {"version", "version: 1\n"},
        {"providers", "providers:\n  sim: { kind: simulated }\n"},
        {"prices",
         "prices:\n"
         "  sim/small: { input: 0.15, output: 0.60 }\n"
         "  sim/large: { input: 3, output: 15 }\n"},
        {"routes",
         "routes:\n"
         "  chat:\n"
         "    targets: [ { provider: sim, model: large } ]\n"
         "    fallbacks: [ { provider: sim, model: small } ]\n"
         "  cheap:\n"
         "    targets: [ { provider: sim, model: small } ]\n"
         "    fallbacks: [ { provider: sim, model: large } ]\n"},
        {"workflows",
         "workflows:\n"
         "  app:\n"
         "    owner: team\n"
         "    keys: [ \"" +
             key_hash(1) +
             "\" ]\n"
             "    routes: [\"*\"]\n"
             "    budget: { daily: 10 }\n"},
    };
  }

  std::string text_;
  int prefix_lines_ = 0;
};

inline LoadResult load_text(std::string_view text, const EnvLookup& env = env_of({}),
                            const std::string& directory = ".") {
  return load_config_text(text, std::string(kTestFile), directory, env);
}

inline LoadResult load_doc(const ConfigDoc& doc, const EnvLookup& env = env_of({}),
                           const std::string& directory = ".") {
  return load_text(doc.text(), env, directory);
}

inline std::vector<std::string> formatted(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& diagnostic : result.diagnostics) lines.push_back(diagnostic.format());
  return lines;
}

inline std::vector<std::string> errors(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& diagnostic : result.diagnostics) {
    if (diagnostic.severity == Severity::error) lines.push_back(diagnostic.format());
  }
  return lines;
}

inline std::vector<std::string> warnings(const LoadResult& result) {
  std::vector<std::string> lines;
  for (const auto& diagnostic : result.diagnostics) {
    if (diagnostic.severity == Severity::warning) lines.push_back(diagnostic.format());
  }
  return lines;
}

/// `FILE:LINE:COL: error: …` containing `fragment`.
inline ::testing::Matcher<std::string> error_at(int line, int column, const std::string& fragment,
                                                std::string_view file = kTestFile) {
  return ::testing::AllOf(::testing::StartsWith(std::string(file) + ":" + std::to_string(line) +
                                                ":" + std::to_string(column) + ": error: "),
                          ::testing::HasSubstr(fragment));
}

inline ::testing::Matcher<std::string> warning_at(int line, int column, const std::string& fragment,
                                                  std::string_view file = kTestFile) {
  return ::testing::AllOf(::testing::StartsWith(std::string(file) + ":" + std::to_string(line) +
                                                ":" + std::to_string(column) + ": warning: "),
                          ::testing::HasSubstr(fragment));
}

/// A fresh folder under the system temp folder, removed with the object.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ =
        std::filesystem::temp_directory_path() /
        ("spendwall-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }

  /// Writes `content` to `relative` (folders created); returns the full path.
  std::string write(const std::string& relative, std::string_view content) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace spendwall::config::testing
