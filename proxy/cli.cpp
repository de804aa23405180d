#include "proxy/cli.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "config/build_info.hpp"
#include "config/loader.hpp"
#include "config/quickstart.hpp"
#include "metering/report/render.hpp"
#include "policies/calendar.hpp"
#include "proxy/log.hpp"
#include "proxy/routing/runtime_config.hpp"
#include "proxy/server/server.hpp"

namespace spendwall::proxy::cli {
namespace {

constexpr std::string_view kUsage =
    "usage:\n"
    "  spendwall serve [-c FILE]        run the proxy (no FILE: the embedded quickstart config)\n"
    "  spendwall check -c FILE          validate a config; exit 0, or 1 with every error\n"
    "  spendwall report -c FILE [--since 7d|RFC3339] [--until RFC3339]\n"
    "      [--by workflow|owner|provider|model|route] [--format table|csv|json|html] [-o FILE]\n"
    "                                   spend review from the ledger (read-only)\n"
    "  spendwall keys new --workflow NAME   print a new client key and its YAML hash line\n"
    "  spendwall version\n";

struct Options {
  std::optional<std::string> config_path;
  std::optional<std::string> workflow;
  // report
  std::optional<std::string> since;
  std::optional<std::string> until;
  std::optional<std::string> by;
  std::optional<std::string> format;
  std::optional<std::string> output;
  bool bad = false;
};

Options parse_options(std::span<const std::string_view> args, bool report_flags = false) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    bool has_value = i + 1 < args.size();
    if ((arg == "-c" || arg == "--config") && has_value) {
      options.config_path = std::string(args[++i]);
    } else if (arg == "--workflow" && has_value) {
      options.workflow = std::string(args[++i]);
    } else if (report_flags && has_value &&
               (arg == "--since" || arg == "--until" || arg == "--by" || arg == "--format" ||
                arg == "-o" || arg == "--output")) {
      std::optional<std::string>& field = arg == "--since"    ? options.since
                                          : arg == "--until"  ? options.until
                                          : arg == "--by"     ? options.by
                                          : arg == "--format" ? options.format
                                                              : options.output;
      field = std::string(args[++i]);
    } else {
      std::fprintf(stderr, "spendwall: unexpected argument '%.*s'\n", static_cast<int>(arg.size()),
                   arg.data());
      options.bad = true;
    }
  }
  return options;
}

config::LoadResult load(const std::optional<std::string>& path) {
  if (path) return config::load_config_file(*path, config::process_environment());
  return config::load_config_text(config::quickstart_yaml(), "quickstart.yaml (embedded)",
                                  std::filesystem::current_path().string(),
                                  config::process_environment());
}

void print_diagnostics(const config::LoadResult& result) {
  for (const auto& diagnostic : result.diagnostics)
    std::fprintf(stderr, "%s\n", diagnostic.format().c_str());
}

int check(const Options& options) {
  if (!options.config_path) {
    std::fprintf(stderr, "spendwall check: -c FILE is required\n");
    return 2;
  }
  config::LoadResult result = load(options.config_path);
  print_diagnostics(result);
  if (!result.ok()) {
    std::fprintf(stderr, "%s: %zu error(s)\n", options.config_path->c_str(), result.error_count());
    return 1;
  }
  auto runtime = routing::RuntimeConfig::build(result.snapshot, 1);
  if (!runtime.config) {
    std::fprintf(stderr, "%s: error: %s\n", options.config_path->c_str(), runtime.error.c_str());
    return 1;
  }
  std::fprintf(stdout, "%s: ok\n", options.config_path->c_str());
  return 0;
}

int serve(const Options& options) {
  config::LoadResult result = load(options.config_path);
  print_diagnostics(result);
  if (!result.ok()) {
    log::error("config rejected; not starting",
               {{"errors", static_cast<std::int64_t>(result.error_count())}});
    return 1;
  }
  server::Server server(
      result.snapshot, [path = options.config_path] { return load(path); },
      options.config_path.has_value());
  return server.run();
}

int report(const Options& options) {
  namespace spend_report = metering::report;
  const auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "spendwall report: %s\n", message.c_str());
    return 2;
  };
  if (!options.config_path) return usage_error("-c FILE is required");
  const auto by = spend_report::parse_group_by(options.by.value_or("workflow"));
  if (!by) return usage_error("--by must be workflow, owner, provider, model or route");
  const auto format = spend_report::parse_report_format(options.format.value_or("table"));
  if (!format) return usage_error("--format must be table, csv, json or html");
  std::string error;
  // Rounded up: the period ends after every request that has started.
  const auto now = std::chrono::ceil<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto period = spend_report::parse_period(options.since, options.until, now, error);
  if (!period) return usage_error(error);

  config::LoadResult loaded = load(options.config_path);
  if (!loaded.ok()) {
    print_diagnostics(loaded);
    std::fprintf(stderr, "%s: %zu error(s)\n", options.config_path->c_str(), loaded.error_count());
    return 1;
  }
  const auto database = spend_report::sqlite_ledger_path(loaded.snapshot->ledger, error);
  // Budget windows in each workflow's time zone, as the budgets themselves count them.
  const auto window_of = [](spend_report::BudgetWindow window, std::string_view timezone,
                            spend_report::Seconds at) -> std::optional<spend_report::WindowSpan> {
    const auto bounds = policies::window_bounds(window == spend_report::BudgetWindow::daily
                                                    ? policies::WindowKind::daily
                                                    : policies::WindowKind::monthly,
                                                timezone, at);
    if (!bounds) return std::nullopt;
    return spend_report::WindowSpan{bounds->start, bounds->end};
  };
  spend_report::ReportResult result =
      database ? spend_report::build_report(*loaded.snapshot, *database, {*period, *by, window_of})
               : spend_report::ReportResult{std::nullopt, error};
  if (!result.report) {
    std::fprintf(stderr, "spendwall report: %s\n", result.error.c_str());
    return 1;
  }
  const std::string text = spend_report::render(*result.report, *format);
  if (!options.output) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream out(*options.output, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "spendwall report: cannot write %s\n", options.output->c_str());
    return 1;
  }
  return 0;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < size; ++i) {
    hex += kDigits[bytes[i] >> 4];
    hex += kDigits[bytes[i] & 0xf];
  }
  return hex;
}

int new_key(const Options& options) {
  if (!options.workflow) {
    std::fprintf(stderr, "spendwall keys new: --workflow NAME is required\n");
    return 2;
  }
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof secret) != 1) {
    std::fprintf(stderr, "spendwall keys new: the system random generator failed\n");
    return 1;
  }
  std::string key = "sw-" + to_hex(secret, sizeof secret);
  unsigned char digest[32];
  unsigned int digest_size = 0;
  EVP_Digest(key.data(), key.size(), digest, &digest_size, EVP_sha256(), nullptr);
  std::printf("key:  %s\n", key.c_str());
  std::printf("# add under workflows.%s.keys (the key itself is never stored):\n",
              options.workflow->c_str());
  std::printf("- \"sha256:%s\"\n", to_hex(digest, digest_size).c_str());
  return 0;
}

}  // namespace

int run(std::span<const std::string_view> args) {
  if (args.empty()) {
    std::fputs(kUsage.data(), stderr);
    return 2;
  }
  std::string_view command = args[0];
  if (command == "version" || command == "--version") {
    std::printf("spendwall %s (commit %s)\n", config::kVersion, config::kCommit);
    return 0;
  }
  if (command == "keys" && args.size() >= 2 && args[1] == "new") {
    Options options = parse_options(args.subspan(2));
    return options.bad ? 2 : new_key(options);
  }
  Options options = parse_options(args.subspan(1), command == "report");
  if (options.bad) return 2;
  if (command == "report") return report(options);
  if (command == "serve") return serve(options);
  if (command == "check") return check(options);
  std::fputs(kUsage.data(), stderr);
  return 2;
}

}  // namespace spendwall::proxy::cli
