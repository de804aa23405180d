#include "policies/session_table.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace spendwall::policies {
namespace {

/// A key word with this bit set is a free slot; its low bits hold the insertion epoch
/// from which on it may be claimed. Live keys have the bit clear.
constexpr std::uint64_t kFreeBit = std::uint64_t{1} << 63;
/// In a slot's in-flight count: the slot is being expired and must not be held.
constexpr std::uint64_t kLockedBit = std::uint64_t{1} << 63;
constexpr int kEpochShift = 32;

constexpr std::uint64_t free_key(std::uint64_t epoch) noexcept { return kFreeBit | epoch; }

constexpr bool claimable(std::uint64_t key, std::uint64_t epoch) noexcept {
  return (key & kFreeBit) != 0 && (key & ~kFreeBit) <= epoch;
}

/// splitmix64's finaliser: every input bit moves every output bit.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

struct alignas(64) SessionTable::Slot {
  SpendLedger ledger;
  std::atomic<std::uint64_t> holders{0};  ///< reservations in flight, plus kLockedBit
  std::atomic<std::int64_t> last_used_seconds{0};
  std::atomic<std::uint32_t> owner{kNoOwner};
  std::atomic<bool> capped{false};
};

std::uint64_t hash_text(std::string_view text, std::uint64_t seed) noexcept {
  std::uint64_t hash = mix(seed ^ (text.size() * 0x9e3779b97f4a7c15ull));
  std::size_t at = 0;
  for (; at + 8 <= text.size(); at += 8) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, text.data() + at, 8);
    hash = mix(hash ^ chunk);
  }
  if (at < text.size()) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, text.data() + at, text.size() - at);
    hash = mix(hash ^ tail ^ 0xff);
  }
  return hash;
}

SessionTable::SessionTable(std::size_t max_sessions)
    : max_sessions_(std::max<std::size_t>(max_sessions, 1)),
      capacity_(static_cast<std::uint32_t>(
          std::bit_ceil(std::max<std::size_t>(2 * max_sessions_, 4 * kProbeWindow)))),
      keys_(std::make_unique<std::atomic<std::uint64_t>[]>(capacity_)),
      slots_(std::make_unique<Slot[]>(capacity_)) {
  for (std::uint32_t slot = 0; slot < capacity_; ++slot) {
    keys_[slot].store(free_key(0), std::memory_order_relaxed);
  }
}

SessionTable::~SessionTable() = default;

std::uint64_t SessionTable::key_of(std::uint64_t workflow_hash, std::string_view session_id,
                                   std::uint64_t seed) noexcept {
  return hash_text(session_id, seed ^ workflow_hash) & ~kFreeBit;
}

bool SessionTable::is_live(std::uint64_t key) noexcept { return (key & kFreeBit) == 0; }

std::uint32_t SessionTable::home_of(std::uint64_t key) const noexcept {
  return static_cast<std::uint32_t>(key) & (capacity_ - 1);
}

std::uint32_t SessionTable::find(std::uint64_t key) const noexcept {
  const std::uint32_t home = home_of(key);
  for (std::uint32_t step = 0; step < kProbeWindow; ++step) {
    const std::uint32_t slot = (home + step) & (capacity_ - 1);
    if (keys_[slot].load(std::memory_order_acquire) == key) return slot;
  }
  return kNoSlot;
}

std::size_t SessionTable::copies(std::uint64_t key) const noexcept {
  std::size_t found = 0;
  const std::uint32_t home = home_of(key);
  for (std::uint32_t step = 0; step < kProbeWindow; ++step) {
    if (keys_[(home + step) & (capacity_ - 1)].load(std::memory_order_acquire) == key) ++found;
  }
  return found;
}

bool SessionTable::try_hold(std::uint32_t slot, std::uint64_t key) noexcept {
  const std::uint64_t before = slots_[slot].holders.fetch_add(1, std::memory_order_acquire);
  if ((before & kLockedBit) != 0 || keys_[slot].load(std::memory_order_acquire) != key) {
    // Being expired, or expired and reused since the key was read: look again.
    unhold(slot);
    return false;
  }
  return true;
}

void SessionTable::unhold(std::uint32_t slot) noexcept {
  slots_[slot].holders.fetch_sub(1, std::memory_order_release);
}

SpendLedger& SessionTable::ledger(std::uint32_t slot) noexcept { return slots_[slot].ledger; }

void SessionTable::mark_capped(std::uint32_t slot) noexcept {
  slots_[slot].capped.store(true, std::memory_order_relaxed);
}

std::uint32_t SessionTable::hold(std::uint64_t key, std::uint32_t owner,
                                 std::int64_t now_seconds) noexcept {
  for (;;) {
    std::uint32_t slot = find(key);
    if (slot == kNoSlot) {
      const Claim claim = insert(key, owner, now_seconds);
      if (claim.slot == kNoSlot) return kNoSlot;
      if (claim.held) return claim.slot;
      slot = claim.slot;
    }
    if (try_hold(slot, key)) {
      slots_[slot].last_used_seconds.store(now_seconds, std::memory_order_relaxed);
      return slot;
    }
  }
}

SessionTable::Claim SessionTable::insert(std::uint64_t key, std::uint32_t owner,
                                         std::int64_t now_seconds) noexcept {
  // Counting this insertion in progress pins the epoch: it cannot advance, so no slot
  // becomes claimable until every insertion that started under it has finished.
  const std::uint64_t epoch = insert_guard_.fetch_add(1, std::memory_order_acquire) >> kEpochShift;
  const std::uint32_t home = home_of(key);
  Claim claim;
  bool counted = false;
  for (;;) {
    std::uint32_t candidate = kNoSlot;
    std::uint64_t candidate_key = 0;
    for (std::uint32_t step = 0; step < kProbeWindow && claim.slot == kNoSlot; ++step) {
      const std::uint32_t slot = (home + step) & (capacity_ - 1);
      const std::uint64_t seen = keys_[slot].load(std::memory_order_acquire);
      if (seen == key) {
        claim.slot = slot;  // inserted meanwhile by a concurrent first request
      } else if (candidate == kNoSlot && claimable(seen, epoch)) {
        candidate = slot;
        candidate_key = seen;
      }
    }
    if (claim.slot != kNoSlot || candidate == kNoSlot) break;
    if (!counted) {
      if (live_.fetch_add(1, std::memory_order_relaxed) >= max_sessions_) {
        live_.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
      counted = true;
    }
    // Hold before claiming, so that the sweep cannot take the new entry back before its
    // last use is written.
    Slot& target = slots_[candidate];
    target.holders.fetch_add(1, std::memory_order_acquire);
    if (keys_[candidate].compare_exchange_strong(candidate_key, key, std::memory_order_acq_rel)) {
      target.owner.store(owner, std::memory_order_relaxed);
      target.last_used_seconds.store(now_seconds, std::memory_order_relaxed);
      claim = {candidate, true};
      counted = false;  // the count now belongs to the entry
      break;
    }
    unhold(candidate);  // another key took it first: scan again
  }
  if (counted) live_.fetch_sub(1, std::memory_order_relaxed);
  if (claim.slot == kNoSlot) refused_.fetch_add(1, std::memory_order_relaxed);
  insert_guard_.fetch_sub(1, std::memory_order_release);
  return claim;
}

std::size_t SessionTable::expire_idle(std::int64_t now_seconds, std::int64_t idle_seconds) {
  // Only this thread advances the epoch, so it stays put during the sweep.
  const std::uint64_t epoch = insert_guard_.load(std::memory_order_acquire) >> kEpochShift;
  const std::int64_t idle_before = now_seconds - idle_seconds;
  std::size_t freed = 0;
  for (std::uint32_t slot = 0; slot < capacity_; ++slot) {
    if (!is_live(keys_[slot].load(std::memory_order_acquire))) continue;
    Slot& entry = slots_[slot];
    if (entry.last_used_seconds.load(std::memory_order_relaxed) > idle_before) continue;
    std::uint64_t no_holders = 0;
    if (!entry.holders.compare_exchange_strong(no_holders, kLockedBit, std::memory_order_acquire)) {
      continue;  // a reservation is in flight: not idle after all
    }
    // Locked: no worker can hold it now. Re-read the last use, written under a hold.
    if (entry.last_used_seconds.load(std::memory_order_relaxed) <= idle_before) {
      entry.ledger.reset();
      entry.owner.store(kNoOwner, std::memory_order_relaxed);
      entry.capped.store(false, std::memory_order_relaxed);
      // Claimable only from the next epoch: insertions running now keep their view.
      keys_[slot].store(free_key(epoch + 1), std::memory_order_release);
      live_.fetch_sub(1, std::memory_order_relaxed);
      frees_pending_ = true;
      ++freed;
    }
    entry.holders.fetch_and(~kLockedBit, std::memory_order_release);
  }
  if (frees_pending_) {
    // Succeeds only at an instant with no insertion in progress; else the next sweep retries.
    std::uint64_t quiet = epoch << kEpochShift;
    if (insert_guard_.compare_exchange_strong(quiet, (epoch + 1) << kEpochShift,
                                              std::memory_order_acq_rel)) {
      frees_pending_ = false;
    }
  }
  return freed;
}

bool SessionTable::restore(std::uint64_t key, std::uint32_t owner, NanoUsd spent,
                           std::int64_t last_used_seconds) {
  const std::uint32_t slot = hold(key, owner, last_used_seconds);
  if (slot == kNoSlot) return false;
  slots_[slot].ledger.restore(spent);
  unhold(slot);
  return true;
}

SessionTable::Entry SessionTable::entry(std::uint32_t slot) const noexcept {
  const Slot& source = slots_[slot];
  return Entry{source.owner.load(std::memory_order_relaxed), source.ledger.spent(),
               source.ledger.reserved(), source.capped.load(std::memory_order_relaxed),
               source.last_used_seconds.load(std::memory_order_relaxed)};
}

}  // namespace spendwall::policies
