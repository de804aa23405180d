#include "metering/ledger/record_json.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "metering/endpoint.hpp"

namespace spendwall::metering::ledger {
namespace {

namespace ondemand = simdjson::ondemand;
using std::chrono::microseconds;

// system_clock counts nanoseconds in an int64: beyond this many microseconds it overflows.
constexpr std::int64_t kMaxUnixMicros = std::numeric_limits<std::int64_t>::max() / 1000;

void write_digits(unsigned value, std::size_t width, char* out) noexcept {
  for (std::size_t i = width; i-- > 0;) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// The members of a record's JSON that carry its value; the rounded views
// (`started_at`, `finished_at`, `cost_usd`) are written for people and skipped when read.
enum class Member : std::uint8_t {
  id,
  started_at_us,
  finished_at_us,
  workflow,
  route,
  provider,
  model,
  endpoint,
  stream,
  status,
  tokens,
  usage_source,
  cost_nano_usd,
  latency_ms,
  ttft_ms,
  attempts,
  fallbacks,
  budget_action,
  session,
  tags,
  outcome,
};
constexpr std::array<std::string_view, 21> kMemberNames{
    "id",       "started_at_us", "finished_at_us", "workflow",   "route",
    "provider", "model",         "endpoint",       "stream",     "status",
    "tokens",   "usage_source",  "cost_nano_usd",  "latency_ms", "ttft_ms",
    "attempts", "fallbacks",     "budget_action",  "session",    "tags",
    "outcome"};
constexpr std::uint32_t kAllMembers = (std::uint32_t{1} << kMemberNames.size()) - 1;

std::optional<Member> member_named(std::string_view key) noexcept {
  const auto* it = std::find(kMemberNames.begin(), kMemberNames.end(), key);
  if (it == kMemberNames.end()) return std::nullopt;
  return static_cast<Member>(it - kMemberNames.begin());
}

// Each reader consumes one value and reports whether it had the expected shape.

bool read_string(ondemand::value& value, std::string& out) {
  std::string_view text;
  if (value.get_string().get(text)) return false;
  out.assign(text);
  return true;
}

bool read_optional_string(ondemand::value& value, std::optional<std::string>& out) {
  bool is_null = false;
  if (value.is_null().get(is_null)) return false;
  if (is_null) {
    out.reset();
    return true;
  }
  return read_string(value, out.emplace());
}

/// A string naming an enum value, read through its `parse` function.
template <class Enum, class Parse>
bool read_named(ondemand::value& value, Parse parse, Enum& out) {
  std::string_view name;
  if (value.get_string().get(name)) return false;
  const std::optional<Enum> parsed = parse(name);
  if (parsed) out = *parsed;
  return parsed.has_value();
}

template <class Unsigned>
bool read_unsigned(ondemand::value& value, Unsigned& out) {
  std::uint64_t number = 0;
  if (value.get_uint64().get(number) || number > std::numeric_limits<Unsigned>::max()) {
    return false;
  }
  out = static_cast<Unsigned>(number);
  return true;
}

bool read_time(ondemand::value& value, TimePoint& out) {
  std::int64_t micros = 0;
  if (value.get_int64().get(micros) || micros > kMaxUnixMicros || micros < -kMaxUnixMicros) {
    return false;
  }
  out = from_unix_micros(micros);
  return true;
}

// The writer renders a NaN duration as null (JSON has no NaN), so null reads back as NaN.
bool read_duration(ondemand::value& value, double& out) {
  bool is_null = false;
  if (value.is_null().get(is_null)) return false;
  if (is_null) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return !value.get_double().get(out);
}

bool read_optional_double(ondemand::value& value, std::optional<double>& out) {
  bool is_null = false;
  if (value.is_null().get(is_null)) return false;
  if (is_null) {
    out.reset();
    return true;
  }
  return read_duration(value, out.emplace());
}

bool read_tokens(ondemand::value& value, TokenUsage& out) {
  ondemand::object object;
  if (value.get_object().get(object)) return false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    std::uint64_t* count = key == "input"          ? &out.input
                           : key == "cached_input" ? &out.cached_input
                           : key == "cache_write"  ? &out.cache_write
                           : key == "output"       ? &out.output
                           : key == "reasoning"    ? &out.reasoning
                                                   : nullptr;
    if (count != nullptr && !read_unsigned(field.value(), *count)) return false;
  }
  return true;
}

bool read_attempt(ondemand::value& value, AttemptRecord& out) {
  ondemand::object object;
  if (value.get_object().get(object)) return false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    bool ok = true;
    if (key == "provider") {
      ok = read_string(field.value(), out.provider);
    } else if (key == "model") {
      ok = read_string(field.value(), out.model);
    } else if (key == "result") {
      ok = read_string(field.value(), out.result);
    } else if (key == "status") {
      ok = read_unsigned(field.value(), out.status);
    } else if (key == "ms") {
      ok = read_duration(field.value(), out.duration_ms);
    }
    if (!ok) return false;
  }
  return true;
}

bool read_attempt_array(ondemand::array& array, std::vector<AttemptRecord>& out) {
  out.clear();
  for (auto element : array) {
    ondemand::value value;
    if (element.get(value) || !read_attempt(value, out.emplace_back())) return false;
  }
  return true;
}

bool read_tag_object(ondemand::object& object,
                     std::vector<std::pair<std::string, std::string>>& out) {
  out.clear();
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    auto& tag = out.emplace_back(std::string(key), std::string());
    if (!read_string(field.value(), tag.second)) return false;
  }
  return true;
}

bool read_outcome(ondemand::value& value, std::optional<Outcome>& out) {
  bool is_null = false;
  if (value.is_null().get(is_null)) return false;
  if (is_null) {
    out.reset();
    return true;
  }
  ondemand::object object;
  if (value.get_object().get(object)) return false;
  Outcome& outcome = out.emplace();
  bool has_name = false;
  bool has_time = false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    bool ok = true;
    if (key == "outcome") {
      ok = has_name = read_string(field.value(), outcome.outcome);
    } else if (key == "score") {
      ok = read_optional_double(field.value(), outcome.score);
    } else if (key == "note") {
      ok = read_optional_string(field.value(), outcome.note);
    } else if (key == "at_us") {
      ok = has_time = read_time(field.value(), outcome.at);
    }
    if (!ok) return false;
  }
  return has_name && has_time;
}

bool read_member(Member member, ondemand::value& value, RequestRecord& out) {
  switch (member) {
    case Member::id:
      return read_string(value, out.id);
    case Member::started_at_us:
      return read_time(value, out.started_at);
    case Member::finished_at_us:
      return read_time(value, out.finished_at);
    case Member::workflow:
      return read_string(value, out.workflow);
    case Member::route:
      return read_string(value, out.route);
    case Member::provider:
      return read_string(value, out.provider);
    case Member::model:
      return read_string(value, out.model);
    case Member::endpoint: {
      std::string_view path;
      if (value.get_string().get(path)) return false;
      out.endpoint = classify_path(path);
      return endpoint_label(out.endpoint) == path;
    }
    case Member::stream:
      return !value.get_bool().get(out.stream);
    case Member::status:
      return read_unsigned(value, out.status);
    case Member::tokens:
      out.tokens = {};
      return read_tokens(value, out.tokens);
    case Member::usage_source:
      return read_named(value, parse_usage_source, out.usage_source);
    case Member::cost_nano_usd:
      return !value.get_int64().get(out.cost);
    case Member::latency_ms:
      return read_duration(value, out.latency_ms);
    case Member::ttft_ms:
      return read_optional_double(value, out.ttft_ms);
    case Member::attempts: {
      ondemand::array array;
      return !value.get_array().get(array) && read_attempt_array(array, out.attempts);
    }
    case Member::fallbacks:
      return read_unsigned(value, out.fallbacks);
    case Member::budget_action:
      return read_named(value, parse_budget_action, out.budget_action);
    case Member::session:
      return read_optional_string(value, out.session);
    case Member::tags: {
      ondemand::object object;
      return !value.get_object().get(object) && read_tag_object(object, out.tags);
    }
    case Member::outcome:
      return read_outcome(value, out.outcome);
  }
  return false;
}

}  // namespace

std::int64_t to_unix_micros(TimePoint time) noexcept {
  return std::chrono::floor<microseconds>(time.time_since_epoch()).count();
}

TimePoint from_unix_micros(std::int64_t micros) noexcept {
  micros = std::clamp(micros, -kMaxUnixMicros, kMaxUnixMicros);
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(microseconds(micros)));
}

Rfc3339::Rfc3339(TimePoint time) noexcept {
  // A system_clock time point spans the years 1677 to 2262: always four year digits.
  const microseconds since_epoch{to_unix_micros(time)};
  const auto day = std::chrono::floor<std::chrono::days>(since_epoch);
  const std::chrono::year_month_day date{std::chrono::sys_days(day)};
  const std::chrono::hh_mm_ss clock(since_epoch - day);
  char* out = chars_.data();
  write_digits(static_cast<unsigned>(static_cast<int>(date.year())), 4, out);
  out[4] = '-';
  write_digits(static_cast<unsigned>(date.month()), 2, out + 5);
  out[7] = '-';
  write_digits(static_cast<unsigned>(date.day()), 2, out + 8);
  out[10] = 'T';
  write_digits(static_cast<unsigned>(clock.hours().count()), 2, out + 11);
  out[13] = ':';
  write_digits(static_cast<unsigned>(clock.minutes().count()), 2, out + 14);
  out[16] = ':';
  write_digits(static_cast<unsigned>(clock.seconds().count()), 2, out + 17);
  out[19] = '.';
  write_digits(static_cast<unsigned>(clock.subseconds().count()), 6, out + 20);
  out[26] = 'Z';
}

void write_attempts(const std::vector<AttemptRecord>& attempts, JsonWriter& json) {
  json.begin_array();
  for (const AttemptRecord& attempt : attempts) {
    json.begin_object();
    json.key("provider").string(attempt.provider);
    json.key("model").string(attempt.model);
    json.key("result").string(attempt.result);
    json.key("status").integer(attempt.status);
    json.key("ms").number(attempt.duration_ms);
    json.end_object();
  }
  json.end_array();
}

void write_tags(const std::vector<std::pair<std::string, std::string>>& tags, JsonWriter& json) {
  json.begin_object();
  for (const auto& [name, value] : tags) json.key(name).string(value);
  json.end_object();
}

void write_record(const RequestRecord& record, JsonWriter& json) {
  const auto optional_number = [&json](const std::optional<double>& value) {
    if (value) {
      json.number(*value);
    } else {
      json.null();
    }
  };
  const auto optional_string = [&json](const std::optional<std::string>& value) {
    if (value) {
      json.string(*value);
    } else {
      json.null();
    }
  };

  json.begin_object();
  json.key("id").string(record.id);
  json.key("started_at").string(Rfc3339(record.started_at).view());
  json.key("finished_at").string(Rfc3339(record.finished_at).view());
  json.key("workflow").string(record.workflow);
  json.key("route").string(record.route);
  json.key("provider").string(record.provider);
  json.key("model").string(record.model);
  json.key("endpoint").string(endpoint_label(record.endpoint));
  json.key("stream").boolean(record.stream);
  json.key("status").integer(record.status);
  json.key("tokens").begin_object();
  json.key("input").integer(record.tokens.input);
  json.key("cached_input").integer(record.tokens.cached_input);
  json.key("cache_write").integer(record.tokens.cache_write);
  json.key("output").integer(record.tokens.output);
  json.key("reasoning").integer(record.tokens.reasoning);
  json.end_object();
  json.key("usage_source").string(to_string(record.usage_source));
  json.key("cost_usd").usd(record.cost);
  json.key("latency_ms").number(record.latency_ms);
  json.key("ttft_ms");
  optional_number(record.ttft_ms);
  json.key("attempts");
  write_attempts(record.attempts, json);
  json.key("fallbacks").integer(record.fallbacks);
  json.key("budget_action").string(to_string(record.budget_action));
  json.key("session");
  optional_string(record.session);
  json.key("tags");
  write_tags(record.tags, json);
  json.key("outcome");
  if (record.outcome) {
    const Outcome& outcome = *record.outcome;
    json.begin_object();
    json.key("outcome").string(outcome.outcome);
    json.key("score");
    optional_number(outcome.score);
    json.key("note");
    optional_string(outcome.note);
    json.key("at").string(Rfc3339(outcome.at).view());
    json.key("at_us").integer(to_unix_micros(outcome.at));
    json.end_object();
  } else {
    json.null();
  }
  json.key("cost_nano_usd").integer(record.cost);
  json.key("started_at_us").integer(to_unix_micros(record.started_at));
  json.key("finished_at_us").integer(to_unix_micros(record.finished_at));
  json.end_object();
}

simdjson::simdjson_result<ondemand::document> RecordJsonReader::iterate(std::string_view json) {
  padded_.assign(json);
  padded_.resize(json.size() + simdjson::SIMDJSON_PADDING);
  return parser_.iterate(padded_.data(), json.size(), padded_.size());
}

bool RecordJsonReader::read_record(std::string_view json, RequestRecord& into) {
  ondemand::document document;
  ondemand::object object;
  if (iterate(json).get(document) || document.get_object().get(object)) return false;
  std::uint32_t seen = 0;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return false;
    const auto member = member_named(key);
    if (!member) continue;
    if (!read_member(*member, field.value(), into)) return false;
    seen |= std::uint32_t{1} << static_cast<unsigned>(*member);
  }
  return seen == kAllMembers;
}

bool RecordJsonReader::read_attempts(std::string_view json, std::vector<AttemptRecord>& into) {
  ondemand::document document;
  ondemand::array array;
  return !iterate(json).get(document) && !document.get_array().get(array) &&
         read_attempt_array(array, into);
}

bool RecordJsonReader::read_tags(std::string_view json,
                                 std::vector<std::pair<std::string, std::string>>& into) {
  ondemand::document document;
  ondemand::object object;
  return !iterate(json).get(document) && !document.get_object().get(object) &&
         read_tag_object(object, into);
}

}  // namespace spendwall::metering::ledger
