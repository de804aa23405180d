#pragma once

#include <stdlib.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "metering/ledger/ledger.hpp"
#include "metering/request_record.hpp"

/// Records and folders for the ledger tests. Thread-safety: plain functions and values.
namespace spendwall::metering::ledger::testing {

/// A fresh folder under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/spendwall-ledger-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// A time the ledger keeps exactly: whole microseconds, recent enough for any retention.
/// The base is fixed at the first call of the process: a forked child sees the parent's
/// records only if the parent called first.
inline std::chrono::system_clock::time_point recent_time(std::chrono::microseconds offset = {}) {
  static const auto base = std::chrono::floor<std::chrono::microseconds>(
      std::chrono::system_clock::now() - std::chrono::hours(1));
  return base + offset;
}

/// A record with every field set, different for each `index`.
inline RequestRecord full_record(std::size_t index) {
  using std::chrono::microseconds;
  RequestRecord record;
  record.id = "req_" + std::to_string(index);
  record.started_at = recent_time(microseconds(static_cast<std::int64_t>(index) * 1000 + 7));
  record.finished_at = record.started_at + microseconds(812'401);
  record.workflow = index % 2 == 0 ? "support-assistant" : "search";
  record.route = "chat";
  record.provider = "openai";
  record.model = "gpt-4o";
  record.endpoint = Endpoint::chat_completions;
  record.stream = true;
  record.status = 200;
  record.tokens = {1200 + index, 300, 17, 250, 40};
  record.usage_source = UsageSource::reported;
  // Spread over nine decimals, so that a sum off by one nano-USD shows.
  record.cost = static_cast<config::NanoUsd>(5'875'000 + index * 1'000'003 % 97'531);
  record.latency_ms = 812.4;
  record.ttft_ms = 190.2;
  record.attempts = {{"openai-eu", "gpt-4o", "rate_limited", 429, 40.1},
                     {"openai", "gpt-4o", "ok", 200, 772.0}};
  record.fallbacks = 1;
  record.budget_action = BudgetAction::downgraded;
  record.session = "run-42";
  record.tags = {{"feature", "search"}, {"tenant", "acme.eu"}};
  record.outcome = Outcome{"accepted", 0.9, "fine \"answer\"\n", recent_time(microseconds(5))};
  return record;
}

/// A rejected request: every optional field empty, nothing resolved past the route.
inline RequestRecord minimal_record(std::string id) {
  RequestRecord record;
  record.id = std::move(id);
  record.started_at = recent_time();
  record.finished_at = recent_time(std::chrono::microseconds(250));
  record.workflow = "support-assistant";
  record.route = "chat";
  record.endpoint = Endpoint::messages;
  record.status = 429;
  record.budget_action = BudgetAction::blocked;
  return record;
}

inline config::LedgerSpec sqlite_spec(const TempDir& dir) {
  config::LedgerSpec spec;
  spec.backend = config::LedgerBackend::sqlite;
  spec.path = (dir.path() / "ledger.db").string();
  return spec;
}

}  // namespace spendwall::metering::ledger::testing
