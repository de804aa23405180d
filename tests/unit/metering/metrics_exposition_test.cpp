#include "metering/metrics_registry.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>

#include "metrics_test_support.hpp"
#include "test_data.hpp"

namespace spendwall::metering {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGoldenFile = "metrics_golden.txt";

/// A fixed history touching every family this registry exports, across two workers,
/// including unresolved labels, an overflowed table and an escaped label value.
std::unique_ptr<MetricsRegistry> golden_registry() {
  auto registry = std::make_unique<MetricsRegistry>(MetricsCapacity{.fallbacks = 1});
  auto snapshot = testing::snapshot_with({testing::workflow("support-bot", "team-support"),
                                          testing::workflow("search", "team-search")},
                                         {"fast", "cheap"}, {"openai", "anthropic"});
  registry->set_snapshot(snapshot);
  registry->record_initial_config_load(std::chrono::system_clock::time_point(1'700'000'000s));
  registry->record_config_reload(ReloadResult::ok,
                                 std::chrono::system_clock::time_point(1'700'003'600s));
  registry->record_config_reload(ReloadResult::rejected,
                                 std::chrono::system_clock::time_point(1'700'007'200s));
  registry->set_ledger_counters([] { return std::uint64_t{7}; }, [] { return std::uint64_t{1}; });

  auto& labels = registry->labels();
  const LabelId support = labels.intern("support-bot");
  const LabelId search = labels.intern("search");
  const LabelId fast = labels.intern("fast");
  const LabelId cheap = labels.intern("cheap");
  const LabelId openai = labels.intern("openai");
  const LabelId anthropic = labels.intern("anthropic");
  const LabelId gpt = labels.intern("gpt-4o");
  const LabelId claude = labels.intern("claude \"sonnet\"");  // escaping

  WorkerMetrics& first = registry->add_worker();
  WorkerMetrics& second = registry->add_worker();

  first.request_finished(
      {.workflow = support,
       .route = fast,
       .provider = openai,
       .model = gpt,
       .endpoint = Endpoint::chat_completions,
       .status = 200,
       .tokens = {.input = 1200, .cached_input = 800, .output = 300, .reasoning = 64},
       .cost = 4'567'890,
       .proxy_overhead = 42us});
  second.request_finished({.workflow = support,
                           .route = fast,
                           .provider = openai,
                           .model = gpt,
                           .endpoint = Endpoint::chat_completions,
                           .status = 200,
                           .tokens = {.input = 100, .output = 20},
                           .cost = 123,
                           .usage_estimated = true,
                           .proxy_overhead = 180us});
  second.request_finished({.workflow = search,
                           .route = cheap,
                           .provider = anthropic,
                           .model = claude,
                           .endpoint = Endpoint::messages,
                           .status = 529,
                           .proxy_overhead = 3ms});
  first.request_finished(
      {.workflow = search, .endpoint = Endpoint::responses, .status = 429, .proxy_overhead = 12us});
  first.unauthenticated(Endpoint::chat_completions);
  first.unauthenticated(Endpoint::other);
  first.proxy_overhead(Endpoint::other, 8us);

  first.attempt_finished({.provider = openai,
                          .model = gpt,
                          .result = AttemptResult::ok,
                          .duration = 2300ms,
                          .time_to_first_token = 410ms});
  second.attempt_finished({.provider = anthropic,
                           .model = claude,
                           .result = AttemptResult::server_error,
                           .duration = 90ms});
  second.attempt_finished({.provider = openai,
                           .model = gpt,
                           .result = attempt_result(config::FailureClass::timeout),
                           .duration = 60s});

  first.fallback({.workflow = search,
                  .route = cheap,
                  .from_provider = anthropic,
                  .from_model = claude,
                  .to_provider = openai,
                  .to_model = gpt,
                  .reason = config::FailureClass::server_error});
  first.fallback({.workflow = support,  // the fallback table holds one series: overflow
                  .route = fast,
                  .from_provider = openai,
                  .from_model = gpt,
                  .to_provider = anthropic,
                  .to_model = claude,
                  .reason = config::FailureClass::rate_limited});

  first.active_requests_add(support, +2);
  second.active_requests_add(support, -1);
  second.active_requests_add(search, +1);
  first.upstream_connections_set(openai, 4, 2);
  second.upstream_connections_set(openai, 1, 1);
  second.upstream_connections_set(anthropic, 0, 1);
  return registry;
}

/// The build identity changes with every commit and release; the golden file holds
/// placeholders.
std::string normalise_build_info(const std::string& text) {
  static const std::regex kBuildInfo(R"(spendwall_build_info\{version="[^"]*",commit="[^"]*"\})");
  return std::regex_replace(text, kBuildInfo,
                            R"(spendwall_build_info{version="VERSION",commit="COMMIT"})");
}

std::filesystem::path golden_path() {
  return std::filesystem::path(SPENDWALL_TEST_DATA_DIR) / "metering" / kGoldenFile;
}

// Regenerate after an intended change with SPENDWALL_UPDATE_GOLDEN=1 and review the diff.
TEST(MetricsExposition, MatchesGoldenFile) {
  const std::string rendered = normalise_build_info(render_metrics(*golden_registry()));
  if (std::getenv("SPENDWALL_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden_path(), std::ios::binary) << rendered;
    GTEST_SKIP() << "rewrote " << golden_path();
  }
  EXPECT_EQ(rendered, testing::read_test_data(kGoldenFile));
}

TEST(MetricsExposition, IsDeterministic) {
  EXPECT_EQ(render_metrics(*golden_registry()), render_metrics(*golden_registry()));
}

/// Runs `command`, returning its exit status and merged output.
std::pair<int, std::string> run(const std::string& command) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    output += buffer.data();
  }
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(MetricsExposition, PassesPromtoolCheckMetrics) {
  if (run("command -v promtool").first != 0) {
    GTEST_SKIP() << "promtool not found on PATH (Debian package `prometheus`, listed in "
                    "scripts/install-deps.sh); the exposition was not linted";
  }
  const auto file = std::filesystem::temp_directory_path() /
                    (testing::numbered("spendwall_metrics_", ::getpid()) + ".txt");
  std::ofstream(file, std::ios::binary) << render_metrics(*golden_registry());
  const auto [status, output] = run("promtool check metrics < " + file.string());
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool reported lint problems";
}

}  // namespace
}  // namespace spendwall::metering
