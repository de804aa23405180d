#pragma once

#include <atomic>
#include <cstdint>

#include "config/config.hpp"

/// The counters of one budget: a workflow's calendar window or a session.
///
/// Thread-safety: every member function is lock-free and may run concurrently with any other,
/// except `reset`, whose caller must own the ledger exclusively (the control thread does,
/// while it holds a slot locked for reuse).
namespace spendwall::policies {

using config::NanoUsd;

/// `committed` is the one admission ledger (STYLE.md, Hot-path rules): settled spend plus
/// outstanding reservations, changed by single atomic read-modify-writes, so the
/// reservation CAS sees every earlier reservation and settlement and no interleaving of
/// admissions can carry it past a limit. `spent` and `reserved` are kept beside it for
/// views and overshoot; each is exact on its own, and at rest committed = spent + reserved.
///
/// Amounts are clamped to ≥ 0 by the callers (BudgetBook), so a limit can only be crossed
/// by a settlement larger than its reservation: the overshoot PRODUCT.md §5 bounds.
class SpendLedger {
 public:
  /// Reserves `amount`. With `enforce`, succeeds only if committed + amount ≤ `limit`
  /// (a compare-exchange loop); without it, always succeeds (observe-only budgets, windows
  /// without a limit).
  bool reserve(NanoUsd amount, NanoUsd limit, bool enforce) noexcept {
    if (enforce) {
      NanoUsd current = committed_.load(std::memory_order_relaxed);
      do {
        // Written so that nothing overflows, whatever the limit.
        if (amount > limit || current > limit - amount) return false;
      } while (
          !committed_.compare_exchange_weak(current, current + amount, std::memory_order_relaxed));
    } else {
      committed_.fetch_add(amount, std::memory_order_relaxed);
    }
    reserved_.fetch_add(amount, std::memory_order_relaxed);
    return true;
  }

  /// Gives back a reservation that will not be spent (the request was refused elsewhere).
  void release(NanoUsd amount) noexcept {
    committed_.fetch_sub(amount, std::memory_order_relaxed);
    reserved_.fetch_sub(amount, std::memory_order_relaxed);
  }

  /// Replaces a reservation of `reserved_amount` by the actual cost. Returns the settled
  /// spend just before this settlement (the caller derives overshoot from it).
  NanoUsd settle(NanoUsd reserved_amount, NanoUsd actual) noexcept {
    committed_.fetch_add(actual - reserved_amount, std::memory_order_relaxed);
    const NanoUsd before = spent_.fetch_add(actual, std::memory_order_relaxed);
    reserved_.fetch_sub(reserved_amount, std::memory_order_relaxed);
    return before;
  }

  /// True when `amount` more would fit under `limit` now (no reservation is made).
  bool would_fit(NanoUsd amount, NanoUsd limit) const noexcept {
    const NanoUsd current = committed();
    return amount <= limit && current <= limit - amount;
  }

  NanoUsd committed() const noexcept { return committed_.load(std::memory_order_relaxed); }
  NanoUsd spent() const noexcept { return spent_.load(std::memory_order_relaxed); }
  NanoUsd reserved() const noexcept { return reserved_.load(std::memory_order_relaxed); }

  /// Spend settled before a restart (rebuilt from the durable ledger).
  void restore(NanoUsd spent) noexcept {
    committed_.fetch_add(spent, std::memory_order_relaxed);
    spent_.fetch_add(spent, std::memory_order_relaxed);
  }
  void reset() noexcept {
    committed_.store(0, std::memory_order_relaxed);
    spent_.store(0, std::memory_order_relaxed);
    reserved_.store(0, std::memory_order_relaxed);
  }

 private:
  std::atomic<NanoUsd> committed_{0};
  std::atomic<NanoUsd> spent_{0};
  std::atomic<NanoUsd> reserved_{0};
};

}  // namespace spendwall::policies
