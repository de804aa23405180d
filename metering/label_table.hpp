#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"

/// Interning of metric label values (workflow, route, provider and model names) to small
/// stable ids, so that the request path keys its counters by integers instead of strings.
namespace spendwall::metering {

/// A label value interned in a LabelTable.
using LabelId = std::uint16_t;

/// The empty string: a label the request never resolved (metrics.md: unresolved labels
/// are "").
inline constexpr LabelId kUnresolvedLabel = 0;
/// "other": where samples go once a per-worker metric table or this table is full.
inline constexpr LabelId kOtherLabel = 1;
inline constexpr std::string_view kOtherLabelValue = "other";

/// Process-wide, append-only map between label value strings and ids.
///
/// An id never changes and is never reused, so counters keyed by ids keep accumulating
/// under the same labels across config reloads that reorder, add or drop names. Ids are
/// handed out in first-interned order; with 16-bit ids the table holds 65,536 values,
/// and once full every new value interns to kOtherLabel (config sets are small; only a
/// long history of renames could get there).
///
/// Thread-safety: every member is safe to call from any thread; all of them take a mutex,
/// so call them when a config snapshot is built or at scrape time, never per request.
class LabelTable {
 public:
  static constexpr std::size_t kMaxLabels = std::size_t{1} << 16;

  LabelTable();
  LabelTable(const LabelTable&) = delete;
  LabelTable& operator=(const LabelTable&) = delete;

  /// The id of `value`, assigning the next free one on first sight.
  LabelId intern(std::string_view value);

  /// Interns every workflow, route, provider and model name of `snapshot`, in config
  /// order, so their ids exist before the first request needs them.
  void intern_names_of(const config::ConfigSnapshot& snapshot);

  /// The value of `id`; "other" for an id never handed out. The view stays valid for the
  /// table's lifetime (values are never moved or freed).
  std::string_view name(LabelId id) const;

  /// Every interned value, indexed by id: one lock for a whole scrape.
  std::vector<std::string_view> names() const;

  std::size_t size() const;

 private:
  LabelId intern_locked(std::string_view value);

  mutable std::mutex mutex_;
  std::deque<std::string> values_;                     ///< a deque never moves its elements
  std::unordered_map<std::string_view, LabelId> ids_;  ///< views into values_
};

}  // namespace spendwall::metering
