#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>

/// The per-worker storage behind every labelled metric: fixed-capacity open-addressing
/// tables keyed by packed label ids, written by one thread and read by the scraper.
namespace spendwall::metering {

/// Adds `delta` to a cell only its owning thread writes. A relaxed load and store instead
/// of `fetch_add`: with a single writer there is nothing to lose, and it avoids a locked
/// instruction per increment. Unsigned arithmetic wraps, so a signed delta cast to
/// uint64_t (a gauge going down) sums exactly once read back as int64_t.
inline void add_owned(std::atomic<std::uint64_t>& cell, std::uint64_t delta) noexcept {
  cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

/// An array of `T` starting on a cache line and padded to whole lines, so that no two
/// workers' shards ever share a line.
template <class T>
class CacheAlignedArray {
 public:
  static constexpr std::size_t kCacheLine = 64;

  explicit CacheAlignedArray(std::size_t size) : size_(size) {
    const std::size_t bytes = (size * sizeof(T) + kCacheLine - 1) / kCacheLine * kCacheLine;
    data_.reset(static_cast<T*>(::operator new (bytes, std::align_val_t{kCacheLine})));
    std::uninitialized_value_construct_n(data_.get(), size);
  }
  ~CacheAlignedArray() {
    if (data_) std::destroy_n(data_.get(), size_);
  }
  CacheAlignedArray(const CacheAlignedArray&) = delete;
  CacheAlignedArray& operator=(const CacheAlignedArray&) = delete;

  T& operator[](std::size_t i) noexcept { return data_.get()[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_.get()[i]; }
  std::size_t size() const noexcept { return size_; }

 private:
  struct Free {
    void operator()(T* p) const noexcept { ::operator delete (p, std::align_val_t{kCacheLine}); }
  };
  std::size_t size_;
  std::unique_ptr<T, Free> data_;
};

/// A fixed-capacity map from a packed key (`KeyWords` 64-bit words of label ids and small
/// enums) to `ValueCount` counter cells, owned by one worker thread.
///
/// Layout: slots are filled densely in insertion order and published by a release store
/// of their count, so the scraper reads `[0, published)` without a lock and sees each
/// slot's key, written once before publication. The hash index that finds a slot by key
/// is touched by the owner only. Everything is allocated in the constructor.
///
/// Overflow: once `capacity` keys are in use, every new key is counted under
/// `overflow_key` (by convention the key whose labels all render "other"), held in one
/// extra reserved slot. Nothing is dropped, nothing allocates, and the "other" series make
/// the overflow visible. If the overflow key was already in use as a regular key, the
/// samples merge into it, which is right: it is the same series.
///
/// Thread-safety: `find_or_insert()` and writes to its cells belong to the owning thread;
/// `for_each()` may run concurrently on any thread.
template <std::size_t KeyWords, std::size_t ValueCount>
class KeyedCounterTable {
 public:
  using Key = std::array<std::uint64_t, KeyWords>;
  using Cells = std::array<std::atomic<std::uint64_t>, ValueCount>;

  KeyedCounterTable(std::size_t capacity, const Key& overflow_key)
      : capacity_(capacity),
        overflow_key_(overflow_key),
        slots_(capacity + 1),
        // Load factor at most 2/3 keeps linear probes short, and an empty entry always
        // remains to end a probe.
        index_(std::bit_ceil(capacity + 2 + (capacity + 1) / 2)) {}

  /// The cells of `key`, inserting it on first use, or the overflow cells when full.
  Cells& find_or_insert(const Key& key) noexcept {
    const Probe probe = find(key);
    if (probe.slot != nullptr) return probe.slot->cells;
    if (size_ < capacity_) return publish(key, probe.index_position);
    const Probe overflow = find(overflow_key_);
    if (overflow.slot != nullptr) return overflow.slot->cells;
    return publish(overflow_key_, overflow.index_position);  // takes the reserved slot
  }

  /// Calls `visit(const Key&, const Cells&)` for every published slot.
  template <class Visit>
  void for_each(Visit&& visit) const {
    const std::size_t published = published_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < published; ++i) visit(slots_[i].key, slots_[i].cells);
  }

  std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Slot {
    Key key{};
    Cells cells{};
  };
  struct Probe {
    Slot* slot;                  ///< the key's slot, or null when absent
    std::size_t index_position;  ///< where the key is or would go in index_
  };

  static std::uint64_t hash(const Key& key) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15u;
    for (std::uint64_t word : key) {  // splitmix64 finaliser per word
      h ^= word;
      h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9u;
      h = (h ^ (h >> 27)) * 0x94d049bb133111ebu;
      h ^= h >> 31;
    }
    return h;
  }

  Probe find(const Key& key) noexcept {
    const std::size_t mask = index_.size() - 1;
    for (std::size_t i = static_cast<std::size_t>(hash(key)) & mask;; i = (i + 1) & mask) {
      const std::uint32_t entry = index_[i];
      if (entry == 0) return {nullptr, i};
      Slot& slot = slots_[entry - 1];
      if (slot.key == key) return {&slot, i};
    }
  }

  Cells& publish(const Key& key, std::size_t index_position) noexcept {
    Slot& slot = slots_[size_];
    slot.key = key;
    index_[index_position] = static_cast<std::uint32_t>(++size_);
    published_.store(size_, std::memory_order_release);
    return slot.cells;
  }

  std::size_t capacity_;
  Key overflow_key_;
  CacheAlignedArray<Slot> slots_;           ///< capacity_ regular slots plus the reserved one
  CacheAlignedArray<std::uint32_t> index_;  ///< slot number + 1, or 0 for empty; owner only
  std::size_t size_ = 0;                    ///< slots in use; owner only
  alignas(64) std::atomic<std::size_t> published_{0};
};

}  // namespace spendwall::metering
