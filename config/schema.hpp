#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

/// The config schema of config.md: one field table per struct, plus the rules that
/// need more than one value. Thread-safety: no shared state.
namespace spendwall::config::detail {

/// An entry of `include_prices`, before the file is read.
struct IncludedPriceFile {
  std::string path;  ///< resolved against the config folder
  SourceMark mark;   ///< the list item, where a missing file is reported
};

/// The main file as read, before included price files are merged in.
struct Draft {
  ConfigSnapshot snapshot;  ///< `prices` stays empty until the merge
  std::vector<PriceEntry> prices;
  std::vector<IncludedPriceFile> includes;
  /// False when a whole section could not be read (it was not a mapping): checks that
  /// look names up in it would only echo that error.
  bool providers_complete = true;
  bool routes_complete = true;
  bool prices_complete = true;
};

/// One file of `include_prices`, as read.
struct PriceFileDraft {
  PriceFileSpec spec;
  std::vector<PriceEntry> prices;
};

/// Stores `converted` into `target` when there is one; false otherwise (already reported).
template <class T>
bool assign(T& target, std::optional<T> converted) {
  if (!converted) return false;
  target = std::move(*converted);
  return true;
}

/// Reads the main file's root mapping.
void read_config(const Value& root, Draft& draft);

/// Reads an included price file's root mapping.
void read_price_file(const Value& root, PriceFileDraft& draft);

/// `prices` (of the main file or an included one): `provider/model: {input, ...}`.
bool read_price_table(const Value& section, std::vector<PriceEntry>& prices);

bool read_providers(const Value& section, ConfigSnapshot& config);
bool read_routes(const Value& section, ConfigSnapshot& config);
bool read_workflows(const Value& section, ConfigSnapshot& config);

/// Warns about providers that nothing can send a request to.
void warn_unused_providers(Reader& reader, const ConfigSnapshot& config);

}  // namespace spendwall::config::detail
