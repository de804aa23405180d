#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/loader.hpp"

/// Reading one YAML file into config structs: positions, diagnostics, `${VAR}`
/// substitution, typed scalars and table-driven mappings.
/// Thread-safety: a Reader belongs to one load; nothing is shared between loads.
namespace spendwall::config::detail {

/// yaml-cpp counts from 0; diagnostics count from 1.
SourceMark mark_of(const YAML::Node& node) noexcept;

/// `LINE:COL`, for messages that point at a second place.
std::string format_position(SourceMark mark);

class Reader;

/// What the checks spanning sections see once every section is parsed.
struct WholeConfig {
  const ConfigSnapshot& config;
  /// False when a section or an included price file could not be read: a name missing
  /// from it would only echo that error, so such names are not reported.
  bool prices_complete = true;
  bool providers_complete = true;
  bool routes_complete = true;
};

using ReferenceCheck = std::function<void(Reader&, const WholeConfig&)>;

/// Diagnostics of one file, the environment and the folder relative paths resolve against.
class Reader {
 public:
  Reader(std::string file, std::string directory, const EnvLookup& env);

  const std::string& file() const noexcept { return file_; }
  std::size_t error_count() const noexcept { return error_count_; }

  void error(SourceMark at, std::string message);
  void warning(SourceMark at, std::string message);

  /// `text` with every `${NAME}` replaced from the environment; reports an unset or
  /// malformed reference at `at` and returns nullopt.
  std::optional<std::string> substitute(std::string_view text, SourceMark at);

  /// `path` if absolute, else `path` under the config folder.
  std::string resolve(std::string_view path) const;

  /// Runs `check` once the whole config is parsed (names may be defined further down).
  void check_when_complete(ReferenceCheck check) { deferred_.push_back(std::move(check)); }
  void run_deferred_checks(const WholeConfig& whole);

  /// Diagnostics in file order.
  std::vector<Diagnostic> take_sorted_diagnostics();

 private:
  std::string file_;
  std::string directory_;
  const EnvLookup& env_;
  std::vector<Diagnostic> diagnostics_;
  std::size_t error_count_ = 0;
  std::vector<ReferenceCheck> deferred_;
};

/// One key/value pair of a mapping, key already checked to be a unique scalar.
struct Entry {
  std::string key;
  SourceMark key_mark;
  YAML::Node node;

  Entry(std::string key_text, SourceMark mark, YAML::Node value)
      : key(std::move(key_text)), key_mark(mark), node(std::move(value)) {}
  // Copies and moves only construct: assigning a YAML::Node overwrites the node it refers
  // to, inside the parsed tree.
  Entry(const Entry&) = default;
  Entry(Entry&&) = default;
  Entry& operator=(const Entry&) = delete;
  Entry& operator=(Entry&&) = delete;
};

/// A YAML value with what the messages about it need.
struct Value {
  Reader& reader;
  YAML::Node node;
  std::string_view key;    ///< the key it sits under ("listen"; a list's key for its items)
  SourceMark key_mark;     ///< where a missing value or missing key is reported
  std::string_view owner;  ///< "provider 'openai'": what the key belongs to

  bool is_null() const { return !node.IsDefined() || node.IsNull(); }
  /// The value's position; the key's when the value is empty (yaml-cpp then points
  /// at whatever follows).
  SourceMark mark() const { return is_null() ? key_mark : mark_of(node); }
  /// Reports `key: message` at the value.
  void error(std::string_view message) const;

  /// The value of one of this mapping's keys (same owner).
  Value child(const Entry& entry) const;
  /// One item of this list (same key and owner).
  Value item(const YAML::Node& item_node) const;
  /// This value, named `what` in the messages about its own keys.
  Value described_as(std::string_view what) const;
};

/// Reports a value that is neither empty nor a mapping; false then.
bool expect_mapping(const Value& value);

/// The pairs of a mapping in file order. An empty value is an empty mapping. Reports a
/// non-mapping, non-scalar keys and duplicate keys (the later one is dropped).
std::vector<Entry> entries(const Value& map);

/// The items of a list in file order (an empty value is an empty list).
std::vector<Value> items(const Value& list);

/// Reports a key of a mapping no field table knows, suggesting the nearest known key.
void report_unknown_key(const Value& map, const Entry& entry,
                        std::span<const std::string_view> known_keys);

/// Checks a name defined by a mapping key (provider, route, workflow): non-empty, no
/// whitespace, and free of `/` and `*`, which mean provider/model and "every route".
bool check_name(Reader& reader, const Entry& entry, std::string_view what);

// Scalars. Each reports its own problem at the value and returns nullopt.

std::optional<std::string> as_string(const Value& value);
std::optional<std::string> as_nonempty_string(const Value& value);
std::optional<std::string> as_http_url(const Value& value);
std::optional<std::string> as_listen_address(const Value& value);
std::optional<std::string> as_timezone(const Value& value);
/// A path resolved against the config folder that names an existing file.
std::optional<std::string> as_existing_file(const Value& value);
std::optional<std::uint64_t> as_unsigned_in(const Value& value, std::uint64_t min,
                                            std::uint64_t max);
std::optional<double> as_number(const Value& value);
std::optional<double> as_fraction(const Value& value);     ///< (0, 1]
std::optional<double> as_probability(const Value& value);  ///< [0, 1]
std::optional<double> as_positive_number(const Value& value);
std::optional<double> as_at_least_one(const Value& value);
std::optional<Duration> as_duration(const Value& value);
std::optional<Duration> as_positive_duration(const Value& value);
std::optional<std::uint64_t> as_positive_size(const Value& value);
std::optional<NanoUsd> as_usd(const Value& value);
std::optional<NanoUsd> as_positive_usd(const Value& value);
std::optional<std::chrono::sys_seconds> as_timestamp(const Value& value);
std::optional<std::chrono::sys_days> as_date(const Value& value);
/// A mapping of HTTP header names to values.
std::optional<std::vector<std::pair<std::string, std::string>>> as_headers(const Value& value);

template <class Integer, std::uint64_t Min, std::uint64_t Max>
std::optional<Integer> as_integer(const Value& value) {
  static_assert(Max <= std::numeric_limits<Integer>::max());
  const auto number = as_unsigned_in(value, Min, Max);
  if (!number) return std::nullopt;
  return static_cast<Integer>(*number);
}

/// One of the first `Count` enumerators of `Enum`, spelled as `to_string` spells it.
template <class Enum, std::size_t Count>
std::optional<Enum> as_enum(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  std::string expected;
  for (std::size_t i = 0; i < Count; ++i) {
    const auto candidate = static_cast<Enum>(i);
    if (to_string(candidate) == *text) return candidate;
    expected += i == 0 ? "" : (i + 1 == Count ? " or " : ", ");
    expected += to_string(candidate);
  }
  value.error("'" + *text + "' is not one of " + expected);
  return std::nullopt;
}

// Mappings, one table of fields per struct.

/// A key of a mapping and how its value lands in `Spec`.
template <class Spec>
struct Field {
  std::string_view key;
  /// Reads the value into the spec; false when it reported a problem.
  bool (*read)(const Value& value, Spec& spec) = nullptr;
  bool required = false;
  /// Read before the other keys, because it decides which of them apply (a provider's
  /// `kind`, a ledger's `backend`) or because they are checked against it.
  bool read_first = false;
  /// Why the key does not apply to this spec (another kind), or empty when it does.
  std::string_view (*inapplicable)(const Spec& spec) = nullptr;
};

template <class Member>
struct MemberPointerTraits;
template <class Class, class Type>
struct MemberPointerTraits<Type Class::*> {
  using ClassType = Class;
};

/// Field reader that converts the value with `Convert` and stores it in `Member`.
template <auto Member, auto Convert>
bool set(const Value& value, typename MemberPointerTraits<decltype(Member)>::ClassType& spec) {
  auto converted = Convert(value);
  if (!converted) return false;
  spec.*Member = std::move(*converted);
  return true;
}

/// The keys a mapping had, with their positions and whether their values were good.
class PresentKeys {
 public:
  struct Site {
    std::string key;
    SourceMark key_mark;
    SourceMark value_mark;
    bool valid = false;
  };

  void add(Site site) { sites_.push_back(std::move(site)); }
  const Site* find(std::string_view key) const noexcept;
  bool has(std::string_view key) const noexcept { return find(key) != nullptr; }
  bool valid(std::string_view key) const noexcept;

 private:
  std::vector<Site> sites_;
};

/// Reads the mapping `map` into `spec` with the table `fields`: unknown, duplicate,
/// inapplicable and missing required keys are reported; every known key is read.
template <class Spec>
PresentKeys read_fields(const Value& map, std::span<const Field<Spec>> fields, Spec& spec) {
  if (!expect_mapping(map)) return {};
  const auto find_field = [&](std::string_view key) -> const Field<Spec>* {
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](const Field<Spec>& field) { return field.key == key; });
    return it == fields.end() ? nullptr : &*it;
  };

  std::vector<std::pair<const Field<Spec>*, Entry>> known;
  for (auto& entry : entries(map)) {
    if (const auto* field = find_field(entry.key)) {
      known.emplace_back(field, std::move(entry));
    } else {
      std::vector<std::string_view> keys;
      for (const auto& candidate : fields) keys.push_back(candidate.key);
      report_unknown_key(map, entry, keys);
    }
  }

  PresentKeys present;
  // When a deciding key is missing or bad, which keys apply is unknown: say nothing
  // about them rather than guess.
  bool applicability_known = true;
  for (const auto& field : fields) {
    if (field.read_first && field.required &&
        std::none_of(known.begin(), known.end(),
                     [&](const auto& pair) { return pair.first == &field; })) {
      applicability_known = false;
    }
  }
  const auto read_entry = [&](const Field<Spec>& field, const Entry& entry) {
    const Value value = map.child(entry);
    if (field.inapplicable && !applicability_known) {
      present.add({entry.key, entry.key_mark, value.mark(), false});
      return;
    }
    if (field.inapplicable) {
      if (const auto why = field.inapplicable(spec); !why.empty()) {
        map.reader.error(entry.key_mark, "'" + entry.key + "' " + std::string(why));
        present.add({entry.key, entry.key_mark, value.mark(), false});
        return;
      }
    }
    const bool valid = field.read(value, spec);
    if (field.read_first && !valid) applicability_known = false;
    present.add({entry.key, entry.key_mark, value.mark(), valid});
  };
  // Two passes rather than a reorder: assigning a YAML::Node rewrites the tree it
  // refers to, so entries must not be moved around.
  for (const auto& [field, entry] : known) {
    if (field->read_first) read_entry(*field, entry);
  }
  for (const auto& [field, entry] : known) {
    if (!field->read_first) read_entry(*field, entry);
  }

  for (const auto& field : fields) {
    if (!field.required || present.has(field.key)) continue;
    if (field.inapplicable && (!applicability_known || !field.inapplicable(spec).empty())) continue;
    map.reader.error(map.key_mark,
                     std::string(map.owner) + " is missing '" + std::string(field.key) + "'");
  }
  return present;
}

template <class Spec, std::size_t N>
PresentKeys read_fields(const Value& map, const std::array<Field<Spec>, N>& fields, Spec& spec) {
  return read_fields(map, std::span<const Field<Spec>>(fields), spec);
}

}  // namespace spendwall::config::detail
