#pragma once

#include <cstddef>

/// Counts heap allocations made by the current thread through the global operator new,
/// so tests can check that a hot path allocates nothing once warmed up.
/// Thread-safety: per-thread counters.
namespace spendwall::metering::testing {

/// Allocations made by this thread since the program started.
std::size_t allocations_on_this_thread() noexcept;

}  // namespace spendwall::metering::testing
