#include "config/yaml_reader.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "config/units.hpp"

namespace spendwall::config::detail {
namespace {

constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo/";

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return in_quotes(node.Scalar());
}

bool is_env_name(std::string_view name) noexcept {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() &&
         equals_ignoring_case(text.substr(0, prefix.size()), prefix);
}

/// Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`; typos
/// are mostly one of these.
std::size_t typo_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t replace = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + replace});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

/// RFC 9110 token characters, the only ones a header name may use.
bool is_token(std::string_view text) noexcept {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool has_control_char(std::string_view text) noexcept {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\t'; });
}

/// `1e3`, `2.5E-1`: a number in exponent notation, which money must not use.
bool is_exponent_notation(std::string_view text) noexcept {
  const auto e = text.find_first_of("eE");
  if (e == 0 || e == std::string_view::npos) return false;
  const auto mantissa = text.substr(0, e);
  auto exponent = text.substr(e + 1);
  if (!exponent.empty() && (exponent.front() == '+' || exponent.front() == '-'))
    exponent.remove_prefix(1);
  const auto decimal = [](char c) { return (c >= '0' && c <= '9') || c == '.'; };
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return std::all_of(mantissa.begin(), mantissa.end(), decimal) &&
         std::any_of(mantissa.begin(), mantissa.end(), digit) && !exponent.empty() &&
         std::all_of(exponent.begin(), exponent.end(), digit);
}

std::optional<double> number_where(const Value& value, bool (*accept)(double),
                                   std::string_view requirement) {
  const auto number = as_number(value);
  if (!number) return std::nullopt;
  if (!accept(*number)) {
    value.error(std::string(requirement));
    return std::nullopt;
  }
  return number;
}

}  // namespace

std::string format_position(SourceMark mark) {
  return std::to_string(mark.line) + ":" + std::to_string(mark.column);
}

SourceMark mark_of(const YAML::Node& node) noexcept {
  if (!node.IsDefined()) return {};
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// --- Reader ---

Reader::Reader(std::string file, std::string directory, const EnvLookup& env)
    : file_(std::move(file)), directory_(std::move(directory)), env_(env) {}

void Reader::error(SourceMark at, std::string message) {
  diagnostics_.push_back({Severity::error, file_, at.line, at.column, std::move(message)});
  ++error_count_;
}

void Reader::warning(SourceMark at, std::string message) {
  diagnostics_.push_back({Severity::warning, file_, at.line, at.column, std::move(message)});
}

std::optional<std::string> Reader::substitute(std::string_view text, SourceMark at) {
  std::string result;
  bool complete = true;
  std::size_t done = 0;
  while (true) {
    const auto start = text.find("${", done);
    result.append(
        text.substr(done, start == std::string_view::npos ? text.size() - done : start - done));
    if (start == std::string_view::npos) break;
    const auto end = text.find('}', start + 2);
    const auto name =
        text.substr(start + 2, end == std::string_view::npos ? text.size() : end - start - 2);
    if (end == std::string_view::npos || !is_env_name(name)) {
      error(at, "malformed variable reference '" +
                    std::string(text.substr(
                        start, end == std::string_view::npos ? text.size() : end - start + 1)) +
                    "' (expected ${NAME})");
      complete = false;
      if (end == std::string_view::npos) break;
    } else if (auto variable = env_ ? env_(name) : std::nullopt) {
      result += *variable;
    } else {
      error(at, "environment variable " + std::string(name) + " is not set");
      complete = false;
    }
    done = end + 1;
  }
  if (!complete) return std::nullopt;
  return result;
}

std::string Reader::resolve(std::string_view path) const {
  const std::filesystem::path given(path);
  if (given.is_absolute()) return given.lexically_normal().string();
  const std::filesystem::path base(directory_.empty() ? "." : directory_);
  return (base / given).lexically_normal().string();
}

void Reader::run_deferred_checks(const WholeConfig& whole) {
  for (const auto& check : deferred_) check(*this, whole);
  deferred_.clear();
}

std::vector<Diagnostic> Reader::take_sorted_diagnostics() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                   });
  return std::move(diagnostics_);
}

// --- Values and mappings ---

void Value::error(std::string_view message) const {
  reader.error(mark(),
               key.empty() ? std::string(message) : std::string(key) + ": " + std::string(message));
}

Value Value::child(const Entry& entry) const {
  return Value{reader, entry.node, entry.key, entry.key_mark, owner};
}

Value Value::item(const YAML::Node& item_node) const {
  return Value{reader, item_node, key, mark_of(item_node), owner};
}

Value Value::described_as(std::string_view what) const {
  return Value{reader, node, key, key_mark, what};
}

bool expect_mapping(const Value& value) {
  if (value.is_null() || value.node.IsMap()) return true;
  value.error("expected a mapping, got " + describe(value.node));
  return false;
}

std::vector<Entry> entries(const Value& map) {
  std::vector<Entry> result;
  if (map.is_null() || !expect_mapping(map)) return result;
  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    const SourceMark key_mark = mark_of(it->first);
    if (!it->first.IsScalar()) {
      map.reader.error(key_mark, "keys in " + std::string(map.owner) + " must be plain names");
      continue;
    }
    const std::string& key = it->first.Scalar();
    const auto earlier = std::find_if(result.begin(), result.end(),
                                      [&](const Entry& entry) { return entry.key == key; });
    if (earlier != result.end()) {
      map.reader.error(key_mark, "duplicate key " + in_quotes(key) + " (first defined at " +
                                     format_position(earlier->key_mark) + ")");
      continue;
    }
    result.push_back({key, key_mark, it->second});
  }
  return result;
}

std::vector<Value> items(const Value& list) {
  std::vector<Value> result;
  if (list.is_null()) return result;
  if (!list.node.IsSequence()) {
    list.error("expected a list, got " + describe(list.node));
    return result;
  }
  for (const auto& node : list.node) result.push_back(list.item(node));
  return result;
}

void report_unknown_key(const Value& map, const Entry& entry,
                        std::span<const std::string_view> known_keys) {
  std::string message = "unknown key " + in_quotes(entry.key) + " in " + std::string(map.owner);
  // A near miss is a typo worth naming; anything further gets the whole list.
  const std::size_t tolerance = std::max<std::size_t>(1, entry.key.size() / 3);
  std::string_view nearest;
  std::size_t nearest_distance = tolerance + 1;
  for (const auto known : known_keys) {
    if (const auto distance = typo_distance(entry.key, known); distance < nearest_distance) {
      nearest = known;
      nearest_distance = distance;
    }
  }
  if (!nearest.empty()) {
    message += " (did you mean " + in_quotes(nearest) + "?)";
  } else {
    message += " (expected one of: ";
    for (std::size_t i = 0; i < known_keys.size(); ++i) {
      message += (i == 0 ? "" : ", ") + std::string(known_keys[i]);
    }
    message += ")";
  }
  map.reader.error(entry.key_mark, std::move(message));
}

bool check_name(Reader& reader, const Entry& entry, std::string_view what) {
  const std::string_view name = entry.key;
  std::string problem;
  if (name.empty()) {
    problem = "must not be empty";
  } else if (std::any_of(name.begin(), name.end(), [](char c) {
               return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
             })) {
    problem = "must not contain spaces or control characters";
  } else if (name.find('/') != std::string_view::npos) {
    problem = "must not contain '/' (it separates provider and model)";
  } else if (name.find('*') != std::string_view::npos) {
    problem = "must not contain '*' (it means every route)";
  }
  if (problem.empty()) return true;
  reader.error(entry.key_mark, std::string(what) + " name " + in_quotes(name) + " " + problem);
  return false;
}

// --- Scalars ---

std::optional<std::string> as_string(const Value& value) {
  if (value.is_null()) {
    value.error("missing value");
    return std::nullopt;
  }
  if (!value.node.IsScalar()) {
    value.error("expected a single value, got " + describe(value.node));
    return std::nullopt;
  }
  return value.reader.substitute(value.node.Scalar(), value.mark());
}

std::optional<std::string> as_nonempty_string(const Value& value) {
  auto text = as_string(value);
  if (text && text->empty()) {
    value.error("must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> as_http_url(const Value& value) {
  auto text = as_nonempty_string(value);
  if (!text) return std::nullopt;
  std::string_view rest = *text;
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (starts_with_ignoring_case(rest, scheme)) {
      rest.remove_prefix(scheme.size());
      const auto host = rest.substr(0, rest.find_first_of("/?#"));
      const bool blank = std::any_of(text->begin(), text->end(),
                                     [](char c) { return static_cast<unsigned char>(c) <= ' '; });
      if (!host.empty() && !blank) return text;
      break;
    }
  }
  value.error(in_quotes(*text) + " is not an http:// or https:// URL");
  return std::nullopt;
}

std::optional<std::string> as_listen_address(const Value& value) {
  auto text = as_nonempty_string(value);
  if (!text) return std::nullopt;
  if (!parse_host_port(*text)) {
    value.error(in_quotes(*text) + " is not host:port (like 127.0.0.1:9090 or [::1]:9090)");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> as_timezone(const Value& value) {
  auto text = as_nonempty_string(value);
  if (!text) return std::nullopt;
  if (*text == "UTC") return text;
  // Only names that stay inside the zoneinfo folder: no absolute paths, no "..".
  const bool plausible = text->front() != '/' && text->find("..") == std::string::npos &&
                         std::all_of(text->begin(), text->end(), [](char c) {
                           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                  (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+' ||
                                  c == '/';
                         });
  std::error_code ignored;
  if (plausible && std::filesystem::is_regular_file(std::string(kZoneInfoDir) + *text, ignored)) {
    return text;
  }
  value.error(in_quotes(*text) + " is not a known IANA time zone (like UTC or Europe/Berlin)");
  return std::nullopt;
}

std::optional<std::string> as_existing_file(const Value& value) {
  const auto text = as_nonempty_string(value);
  if (!text) return std::nullopt;
  auto path = value.reader.resolve(*text);
  std::error_code ignored;
  if (!std::filesystem::is_regular_file(path, ignored)) {
    value.error("file " + in_quotes(*text) + " not found (looked for " + in_quotes(path) + ")");
    return std::nullopt;
  }
  return path;
}

std::optional<std::uint64_t> as_unsigned_in(const Value& value, std::uint64_t min,
                                            std::uint64_t max) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  std::uint64_t number = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, number);
  if (ec == std::errc::result_out_of_range && stop == end) {
    value.error(in_quotes(*text) + " is too large");
    return std::nullopt;
  }
  if (ec != std::errc{} || stop != end) {
    value.error("expected a whole number, got " + in_quotes(*text));
    return std::nullopt;
  }
  if (number < min || number > max) {
    value.error(max == std::numeric_limits<std::uint64_t>::max()
                    ? "must be at least " + std::to_string(min)
                    : "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return number;
}

std::optional<double> as_number(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  double number = 0;
  const char* end = text->data() + text->size();
  const auto [stop, ec] = std::from_chars(text->data(), end, number);
  if (ec != std::errc{} || stop != end || !std::isfinite(number)) {
    value.error("expected a number, got " + in_quotes(*text));
    return std::nullopt;
  }
  return number;
}

std::optional<double> as_fraction(const Value& value) {
  return number_where(
      value, [](double x) { return x > 0 && x <= 1; }, "must be in (0, 1]");
}

std::optional<double> as_probability(const Value& value) {
  return number_where(
      value, [](double x) { return x >= 0 && x <= 1; }, "must be in [0, 1]");
}

std::optional<double> as_positive_number(const Value& value) {
  return number_where(
      value, [](double x) { return x > 0; }, "must be greater than 0");
}

std::optional<double> as_at_least_one(const Value& value) {
  return number_where(
      value, [](double x) { return x >= 1; }, "must be at least 1");
}

std::optional<Duration> as_duration(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  auto duration = parse_duration(*text);
  if (!duration) {
    value.error(in_quotes(*text) +
                " is not a duration (a whole number with ms, s, m, h or d, like 30s)");
  }
  return duration;
}

std::optional<Duration> as_positive_duration(const Value& value) {
  auto duration = as_duration(value);
  if (duration && duration->count() == 0) {
    value.error("must be longer than 0");
    return std::nullopt;
  }
  return duration;
}

std::optional<std::uint64_t> as_positive_size(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  const auto size = parse_size(*text);
  if (!size) {
    value.error(in_quotes(*text) +
                " is not a size (bytes, or a whole number with KiB, MiB or GiB, like 64KiB)");
    return std::nullopt;
  }
  if (*size == 0) {
    value.error("must be more than 0 bytes");
    return std::nullopt;
  }
  return size;
}

std::optional<NanoUsd> as_usd(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  if (auto usd = parse_usd(*text)) return usd;

  const auto dot = text->find('.');
  std::string problem;
  if (!text->empty() && text->front() == '-') {
    problem = "must not be negative";
  } else if (is_exponent_notation(*text)) {
    problem = "write USD as a plain decimal like 0.075, without an exponent";
  } else if (dot != std::string::npos && text->size() - dot - 1 > 9) {
    problem = in_quotes(*text) + " has more than 9 decimals (the finest unit is 1 nano-USD)";
  } else if (!text->empty() &&
             std::all_of(text->begin(), text->end(),
                         [](char c) { return (c >= '0' && c <= '9') || c == '.'; }) &&
             std::count(text->begin(), text->end(), '.') <= 1) {
    problem = in_quotes(*text) + " is too large";
  } else {
    problem = "expected a USD amount like 2.50, got " + in_quotes(*text);
  }
  value.error(problem);
  return std::nullopt;
}

std::optional<NanoUsd> as_positive_usd(const Value& value) {
  auto usd = as_usd(value);
  if (usd && *usd == 0) {
    value.error("must be more than 0");
    return std::nullopt;
  }
  return usd;
}

std::optional<std::chrono::sys_seconds> as_timestamp(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  auto time = parse_timestamp(*text);
  if (!time) value.error(in_quotes(*text) + " is not an RFC 3339 time (like 2026-12-01T00:00:00Z)");
  return time;
}

std::optional<std::chrono::sys_days> as_date(const Value& value) {
  const auto text = as_string(value);
  if (!text) return std::nullopt;
  auto date = parse_date(*text);
  if (!date) value.error(in_quotes(*text) + " is not a date (like 2026-11-01)");
  return date;
}

std::optional<std::vector<std::pair<std::string, std::string>>> as_headers(const Value& value) {
  if (!expect_mapping(value)) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> headers;
  bool valid = true;
  for (const auto& entry : entries(value)) {
    const Value header = value.child(entry);
    if (!is_token(entry.key)) {
      value.reader.error(entry.key_mark, in_quotes(entry.key) + " is not a valid header name");
      valid = false;
      continue;
    }
    const auto same_name = [&](const auto& seen) {
      return equals_ignoring_case(seen.first, entry.key);
    };
    if (std::any_of(headers.begin(), headers.end(), same_name)) {
      value.reader.error(entry.key_mark, "header " + in_quotes(entry.key) + " is set twice");
      valid = false;
      continue;
    }
    auto text = as_string(header);
    if (!text) {
      valid = false;
      continue;
    }
    // A line break from an environment variable would smuggle in a header of its own.
    if (has_control_char(*text)) {
      header.error("header values must not contain line breaks or control characters");
      valid = false;
      continue;
    }
    headers.emplace_back(entry.key, std::move(*text));
  }
  if (!valid) return std::nullopt;
  return headers;
}

// --- Mappings ---

const PresentKeys::Site* PresentKeys::find(std::string_view key) const noexcept {
  const auto it =
      std::find_if(sites_.begin(), sites_.end(), [&](const Site& site) { return site.key == key; });
  return it == sites_.end() ? nullptr : &*it;
}

bool PresentKeys::valid(std::string_view key) const noexcept {
  const auto* site = find(key);
  return site != nullptr && site->valid;
}

}  // namespace spendwall::config::detail
