// The YAML config loader (and the price files it includes), which must report every problem
// as a diagnostic and never throw or crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using spendwall::fuzz::require;
  // Every ${VAR} is set, except names starting with UNSET_, so both paths are reachable.
  static const spendwall::config::EnvLookup env =
      [](std::string_view name) -> std::optional<std::string> {
    if (name.starts_with("UNSET_")) return std::nullopt;
    return "env-" + std::string(name);
  };
  // Relative price-file includes resolve against the test data, as in the seed configs.
  const auto result = spendwall::config::load_config_text(
      spendwall::fuzz::as_text(data, size), "fuzz.yaml", SPENDWALL_FUZZ_CONFIG_DIR, env);
  require(result.ok() == (result.error_count() == 0),
          "a config loads exactly when it has no error");
  for (const auto& diagnostic : result.diagnostics) {
    require(!diagnostic.message.empty(), "a diagnostic says what is wrong");
    (void)diagnostic.format();
  }
  return 0;
}
