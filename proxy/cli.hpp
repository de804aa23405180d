#pragma once

#include <span>
#include <string_view>

/// The `spendwall` command line (PRODUCT.md §8).
namespace spendwall::proxy::cli {

/// Runs the command named by `args` (without the program name) and returns the exit code.
int run(std::span<const std::string_view> args);

}  // namespace spendwall::proxy::cli
