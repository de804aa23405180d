#pragma once

#include <string_view>

namespace spendwall::config {

/// The text of config/quickstart.yaml, embedded at build time so `spendwall serve`
/// runs with no config file (simulated provider, no keys, no network).
std::string_view quickstart_yaml() noexcept;

}  // namespace spendwall::config
