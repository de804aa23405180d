#include "metering/ledger/append_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <system_error>
#include <utility>

#include "metering/json_writer.hpp"
#include "metering/ledger/record_json.hpp"

namespace spendwall::metering::ledger {
namespace {

constexpr std::string_view kSegmentPrefix = "w";
constexpr std::string_view kSegmentSuffix = ".jsonl";
// Zero-padded so that a listing sorts a worker's segments in writing order.
constexpr int kSequenceDigits = 12;

template <class Unsigned>
bool parse_decimal(std::string_view text, Unsigned& out) noexcept {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string segment_file_name(SegmentName name) {
  std::array<char, 24> sequence{};
  const auto digits =
      std::to_chars(sequence.data(), sequence.data() + sequence.size(), name.sequence).ptr -
      sequence.data();
  std::string file_name(kSegmentPrefix);
  file_name += std::to_string(name.worker);
  file_name += '-';
  file_name.append(static_cast<std::size_t>(std::max<std::ptrdiff_t>(kSequenceDigits - digits, 0)),
                   '0');
  file_name.append(sequence.data(), static_cast<std::size_t>(digits));
  file_name += kSegmentSuffix;
  return file_name;
}

std::optional<SegmentName> parse_segment_file_name(std::string_view file_name) noexcept {
  if (!file_name.starts_with(kSegmentPrefix) || !file_name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  file_name.remove_prefix(kSegmentPrefix.size());
  file_name.remove_suffix(kSegmentSuffix.size());
  const auto dash = file_name.find('-');
  SegmentName name;
  if (dash == std::string_view::npos || !parse_decimal(file_name.substr(0, dash), name.worker) ||
      !parse_decimal(file_name.substr(dash + 1), name.sequence)) {
    return std::nullopt;
  }
  return name;
}

std::unique_ptr<SpoolLock> SpoolLock::acquire(const std::filesystem::path& folder,
                                              std::string& error) {
  const std::filesystem::path path = folder / "lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = "cannot create " + path.string() + ": " + std::system_category().message(errno);
    return nullptr;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = errno == EWOULDBLOCK
                ? "the ledger spool " + folder.string() + " is in use by another process"
                : "cannot lock " + path.string() + ": " + std::system_category().message(errno);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<SpoolLock>(new SpoolLock(fd));
}

SpoolLock::~SpoolLock() { ::close(fd_); }

Spool::Spool(std::filesystem::path folder, std::unique_ptr<SpoolLock> lock,
             std::uint64_t next_sequence, std::uint64_t segment_bytes,
             std::shared_ptr<LedgerCounters> counters)
    : folder_(std::move(folder)),
      segment_bytes_(segment_bytes),
      counters_(std::move(counters)),
      lock_(std::move(lock)),
      next_sequence_(next_sequence) {}

void Spool::replace_lock(std::unique_ptr<SpoolLock> lock) {
  const std::lock_guard guard(mutex_);
  lock_ = std::move(lock);
}

std::uint64_t Spool::begin_segment() {
  const std::lock_guard lock(mutex_);
  const std::uint64_t sequence = next_sequence_++;
  // Sequences only grow, so appending keeps the list sorted.
  being_written_.push_back(sequence);
  return sequence;
}

void Spool::end_segment(std::uint64_t sequence) {
  const std::lock_guard lock(mutex_);
  const auto it = std::lower_bound(being_written_.begin(), being_written_.end(), sequence);
  if (it != being_written_.end() && *it == sequence) being_written_.erase(it);
}

std::vector<std::uint64_t> Spool::segments_being_written() const {
  const std::lock_guard lock(mutex_);
  return being_written_;
}

AppendLog::AppendLog(std::shared_ptr<Spool> spool, unsigned worker)
    : spool_(std::move(spool)), worker_(worker), counters_(spool_->counters()->shard(worker)) {}

AppendLog::~AppendLog() { close_segment(); }

std::filesystem::path AppendLog::segment_path() const {
  if (fd_ < 0) return {};
  return spool_->folder() / segment_file_name({worker_, sequence_});
}

bool AppendLog::append(const RequestRecord& record) {
  line_.clear();
  JsonWriter json(line_);
  write_record(record, json);
  line_ += '\n';

  if (fd_ >= 0 && (generation_ != spool_->generation() ||
                   (segment_size_ > 0 && segment_size_ + line_.size() > spool_->segment_bytes()))) {
    close_segment();
  }
  if (fd_ < 0 && !open_segment()) return false;
  if (!write_line()) return false;
  counters_.record_written();
  return true;
}

bool AppendLog::open_segment() {
  // Registered before the file exists, so the ingest side never takes it for finished.
  sequence_ = spool_->begin_segment();
  generation_ = spool_->generation();
  const std::filesystem::path path = spool_->folder() / segment_file_name({worker_, sequence_});
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    const int error_number = errno;
    spool_->end_segment(sequence_);
    return fail("cannot create ledger spool segment " + path.string(), error_number);
  }
  segment_size_ = 0;
  return true;
}

void AppendLog::close_segment() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  // After the last write: the ingest side may now finish and delete the segment.
  spool_->end_segment(sequence_);
}

bool AppendLog::write_line() {
  std::size_t written = 0;
  while (written < line_.size()) {
    const ssize_t n = ::write(fd_, line_.data() + written, line_.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int error_number = n < 0 ? errno : EIO;
    // Cut the partial line off so that the next record starts a line of its own; when
    // that fails too, leave the segment to end in a torn line the ingest side skips.
    if (written > 0 && ::ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0) close_segment();
    return fail("cannot append to the ledger spool", error_number);
  }
  segment_size_ += written;
  return true;
}

bool AppendLog::fail(std::string_view what, int error_number) {
  last_error_.assign(what);
  last_error_ += ": ";
  last_error_ += std::system_category().message(error_number);
  counters_.write_error();
  return false;
}

}  // namespace spendwall::metering::ledger
