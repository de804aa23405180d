#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "policies/spend_ledger.hpp"

/// Spend of `x-spendwall-session` ids against their workflow's `session_cap` (PRODUCT.md §5):
/// a fixed-capacity, lock-free open-addressing table.
///
/// Layout: a power-of-two array of 64-bit keys (scanned together) beside an array of
/// cache-line slots holding each session's SpendLedger, in-flight count and last use. A key
/// lives in the first slot of its probe window (kProbeWindow slots from its hash) that was
/// claimable when it was inserted.
///
/// Why it needs no lock (the full argument is in docs/design/budgets.md):
/// - Lookups scan the whole window, so a key is found wherever it sits in it.
/// - Workers only claim slots (free → key, one CAS), so two first requests of one session
///   race for the same first claimable slot and the loser then finds the winner's key.
///   Duplicates could only come from a slot becoming claimable in the middle of an
///   insertion, and that never happens: a slot freed by expiry is tagged with the *next*
///   insertion epoch, and the epoch advances (a CAS on the word that also counts
///   insertions in progress) only at an instant when no insertion is running. All
///   concurrent insertions therefore share one epoch and one view of what is claimable.
/// - Expiry locks a slot by CAS-ing its in-flight count from 0 to a lock bit, so a
///   session with reservations outstanding is never freed, and a worker that finds the
///   lock bit backs off and looks again.
///
/// At the bound (`max_sessions` live sessions, or no claimable slot left in a key's probe
/// window) new sessions are refused: the BudgetBook answers `session_block` with cause
/// `session_table_full`. Evicting a live session instead would reset its spend and let a
/// flood of fresh ids lift the caps of running ones; refusing keeps every cap honest and is
/// counted (`refused()`), so the bound can be raised.
///
/// Thread-safety: `hold`, `unhold`, `ledger`, `mark_capped` run concurrently on workers,
/// lock-free and without allocation. `expire_idle`, `restore`, `find` and `for_each` are
/// for one control thread (the latter two read while workers write: figures may be a
/// moment old).
namespace spendwall::policies {

/// A seeded 64-bit hash of `text` (not cryptographic; the seed keeps clients from
/// aiming their ids at another session's slot).
std::uint64_t hash_text(std::string_view text, std::uint64_t seed) noexcept;

class SessionTable {
 public:
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  static constexpr std::uint32_t kNoOwner = UINT32_MAX;
  /// Slots a key may occupy, from its hash on. 16 keys are two cache lines.
  static constexpr std::size_t kProbeWindow = 16;

  /// Room for `max_sessions` live sessions, in twice as many slots (linear probing stays
  /// short below half load).
  explicit SessionTable(std::size_t max_sessions);
  ~SessionTable();
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  /// The table key of session `session_id` of the workflow whose name hashes to
  /// `workflow_hash`. Keys are 63-bit (two sessions collide with probability ~2^-63 per pair).
  static std::uint64_t key_of(std::uint64_t workflow_hash, std::string_view session_id,
                              std::uint64_t seed) noexcept;

  /// Finds or creates the session `key` (created for workflow ordinal `owner`) and holds
  /// it: it cannot expire until `unhold`. Records `now_seconds` as its last use. kNoSlot
  /// when it is new and the table is at its bound.
  std::uint32_t hold(std::uint64_t key, std::uint32_t owner, std::int64_t now_seconds) noexcept;
  void unhold(std::uint32_t slot) noexcept;
  SpendLedger& ledger(std::uint32_t slot) noexcept;
  /// Notes that the session was refused at its cap (for the `capped` count of views).
  void mark_capped(std::uint32_t slot) noexcept;

  /// Control thread: frees every session unused since `now_seconds - idle_seconds` and
  /// holding no reservation. Returns how many were freed.
  std::size_t expire_idle(std::int64_t now_seconds, std::int64_t idle_seconds);
  /// Control thread, at start: spend of a session settled before a restart. False when
  /// the table is at its bound.
  bool restore(std::uint64_t key, std::uint32_t owner, NanoUsd spent,
               std::int64_t last_used_seconds);

  /// The slot of `key`, or kNoSlot; nothing is held.
  std::uint32_t find(std::uint64_t key) const noexcept;
  /// Slots holding `key`: 0 or 1, anything more is a bug (a diagnostic for tests).
  std::size_t copies(std::uint64_t key) const noexcept;

  struct Entry {
    std::uint32_t owner = kNoOwner;
    NanoUsd spent = 0;
    NanoUsd reserved = 0;
    bool capped = false;
    std::int64_t last_used_seconds = 0;
  };
  Entry entry(std::uint32_t slot) const noexcept;
  /// Calls `visit(const Entry&)` for every live session.
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (std::uint32_t slot = 0; slot < capacity_; ++slot) {
      if (is_live(keys_[slot].load(std::memory_order_acquire))) visit(entry(slot));
    }
  }

  std::size_t size() const noexcept { return live_.load(std::memory_order_relaxed); }
  std::size_t max_sessions() const noexcept { return max_sessions_; }
  std::size_t capacity() const noexcept { return capacity_; }
  /// New sessions refused at the bound since start.
  std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

 private:
  struct Slot;
  struct Claim {
    std::uint32_t slot = kNoSlot;
    bool held = false;  ///< a fresh claim comes held; an existing key found on the way does not
  };

  static bool is_live(std::uint64_t key) noexcept;
  std::uint32_t home_of(std::uint64_t key) const noexcept;
  bool try_hold(std::uint32_t slot, std::uint64_t key) noexcept;
  Claim insert(std::uint64_t key, std::uint32_t owner, std::int64_t now_seconds) noexcept;

  std::size_t max_sessions_;
  std::uint32_t capacity_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> keys_;
  std::unique_ptr<Slot[]> slots_;
  /// Insertion epoch (high 32 bits) and insertions in progress (low 32 bits).
  std::atomic<std::uint64_t> insert_guard_{0};
  std::atomic<std::size_t> live_{0};
  std::atomic<std::uint64_t> refused_{0};
  bool frees_pending_ = false;  ///< control thread: slots freed since the epoch last advanced
};

}  // namespace spendwall::policies
