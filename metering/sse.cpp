#include "metering/sse.hpp"

#include <cstring>

namespace spendwall::metering {
namespace {

/// Index of the first '\r' or '\n' in `text` at or after `from`, or text.size(). The search
/// for '\r' stops at the next '\n', so scanning a block line by line stays linear.
std::size_t next_line_break(std::string_view text, std::size_t from) noexcept {
  const std::size_t rest = text.size() - from;
  const auto* lf = static_cast<const char*>(std::memchr(text.data() + from, '\n', rest));
  const std::size_t lf_at =
      lf == nullptr ? text.size() : static_cast<std::size_t>(lf - text.data());
  const auto* cr = static_cast<const char*>(std::memchr(text.data() + from, '\r', lf_at - from));
  return cr == nullptr ? lf_at : static_cast<std::size_t>(cr - text.data());
}

}  // namespace

bool SseFramer::next(std::string_view& input, SseEvent& event) {
  if (partial_delivered_) {
    partial_.clear();
    partial_delivered_ = false;
  }
  if (failed_) {
    input = {};
    return false;
  }
  std::size_t end = std::string_view::npos;
  if (blank_line_cr_) {
    if (input.empty()) return false;
    blank_line_cr_ = false;
    end = input.front() == '\n' ? 1 : 0;
  } else {
    end = find_block_end(input);
  }

  const std::size_t taken = end == std::string_view::npos ? input.size() : end;
  if (partial_.size() + taken > max_event_bytes_) {
    failed_ = true;
    input = {};
    return false;
  }
  if (end == std::string_view::npos) {
    partial_.append(input);
    input = {};
    return false;
  }

  std::string_view raw = input.substr(0, end);
  if (!partial_.empty()) {
    partial_.append(raw);
    raw = partial_;
    partial_delivered_ = true;
  }
  input.remove_prefix(end);
  parse_block(raw, event);
  return true;
}

bool SseFramer::finish(SseEvent& event) {
  if (partial_delivered_) {
    partial_.clear();
    partial_delivered_ = false;
  }
  if (failed_ || !blank_line_cr_) return false;
  blank_line_cr_ = false;
  partial_delivered_ = true;
  parse_block(partial_, event);
  return true;
}

void SseFramer::reset() noexcept {
  partial_.clear();
  joined_data_.clear();
  partial_delivered_ = false;
  line_empty_ = true;
  after_cr_ = false;
  blank_line_cr_ = false;
  failed_ = false;
}

std::size_t SseFramer::find_block_end(std::string_view input) noexcept {
  std::size_t i = 0;
  while (i < input.size()) {
    if (after_cr_) {
      after_cr_ = false;
      if (input[i] == '\n') {
        ++i;
        continue;
      }
    }
    if (!line_empty_) {
      i = next_line_break(input, i);
      if (i == input.size()) break;
    }
    const char c = input[i];
    if (c == '\n') {
      if (line_empty_) return i + 1;
      line_empty_ = true;
    } else if (c == '\r') {
      if (line_empty_) {
        if (i + 1 < input.size()) return input[i + 1] == '\n' ? i + 2 : i + 1;
        blank_line_cr_ = true;
        break;
      }
      line_empty_ = true;
      after_cr_ = true;
    } else {
      line_empty_ = false;
    }
    ++i;
  }
  return std::string_view::npos;
}

void SseFramer::parse_block(std::string_view raw, SseEvent& event) {
  event = SseEvent{{}, {}, raw};
  std::size_t data_lines = 0;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t eol = next_line_break(raw, pos);
    std::string_view line = raw.substr(pos, eol - pos);
    pos = eol + 1;
    if (eol < raw.size() && raw[eol] == '\r' && pos < raw.size() && raw[pos] == '\n') ++pos;
    if (line.empty() || line.front() == ':') continue;  // closing blank line, or a comment

    const std::size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);

    if (field == "event") {
      event.name = value;
    } else if (field == "data") {
      // One data line (the usual case) stays a view into the block; more are joined.
      if (data_lines == 0) {
        event.data = value;
      } else {
        if (data_lines == 1) joined_data_.assign(event.data);
        joined_data_.push_back('\n');
        joined_data_.append(value);
      }
      ++data_lines;
    }
  }
  if (data_lines > 1) event.data = joined_data_;
}

}  // namespace spendwall::metering
