#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

/// YAML → validated `ConfigSnapshot`, with every problem reported at once.
/// Thread-safety: the functions are reentrant; they share no state.
namespace spendwall::config {

enum class Severity { error, warning };

/// One problem in a config, printed as `FILE:LINE:COL: error: message`.
struct Diagnostic {
  Severity severity = Severity::error;
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  std::string format() const;
};

/// Looks up an environment variable for `${VAR}` substitution.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process environment.
EnvLookup process_environment();

struct LoadResult {
  std::shared_ptr<const ConfigSnapshot> snapshot;  ///< null when any error was found
  std::vector<Diagnostic> diagnostics;             ///< errors and warnings, in file order

  bool ok() const noexcept { return snapshot != nullptr; }
  std::size_t error_count() const noexcept;
};

/// Loads `path` (and its included price files), validates the whole config and
/// returns either a snapshot or every error. Never throws.
LoadResult load_config_file(const std::string& path, const EnvLookup& env);

/// Same for YAML text already in memory. `display_name` is the FILE of diagnostics,
/// `directory` the folder relative paths resolve against.
LoadResult load_config_text(std::string_view text, const std::string& display_name,
                            const std::string& directory, const EnvLookup& env);

}  // namespace spendwall::config
