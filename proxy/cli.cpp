#include "proxy/cli.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "config/build_info.hpp"
#include "config/loader.hpp"
#include "config/quickstart.hpp"
#include "proxy/log.hpp"
#include "proxy/routing/runtime_config.hpp"
#include "proxy/server/server.hpp"

namespace spendwall::proxy::cli {
namespace {

constexpr std::string_view kUsage =
    "usage:\n"
    "  spendwall serve [-c FILE]        run the proxy (no FILE: the embedded quickstart config)\n"
    "  spendwall check -c FILE          validate a config; exit 0, or 1 with every error\n"
    "  spendwall keys new --workflow NAME   print a new client key and its YAML hash line\n"
    "  spendwall version\n";

struct Options {
  std::optional<std::string> config_path;
  std::optional<std::string> workflow;
  bool bad = false;
};

Options parse_options(std::span<const std::string_view> args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    bool has_value = i + 1 < args.size();
    if ((arg == "-c" || arg == "--config") && has_value) {
      options.config_path = std::string(args[++i]);
    } else if (arg == "--workflow" && has_value) {
      options.workflow = std::string(args[++i]);
    } else {
      std::fprintf(stderr, "spendwall: unexpected argument '%.*s'\n", static_cast<int>(arg.size()), arg.data());
      options.bad = true;
    }
  }
  return options;
}

config::LoadResult load(const std::optional<std::string>& path) {
  if (path) return config::load_config_file(*path, config::process_environment());
  return config::load_config_text(config::quickstart_yaml(), "quickstart.yaml (embedded)",
                                  std::filesystem::current_path().string(), config::process_environment());
}

void print_diagnostics(const config::LoadResult& result) {
  for (const auto& diagnostic : result.diagnostics) std::fprintf(stderr, "%s\n", diagnostic.format().c_str());
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
    log::error("config rejected; not starting", {{"errors", static_cast<std::int64_t>(result.error_count())}});
    return 1;
  }
  server::Server server(result.snapshot, [path = options.config_path] { return load(path); });
  return server.run();
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
  std::printf("# add under workflows.%s.keys (the key itself is never stored):\n", options.workflow->c_str());
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
  Options options = parse_options(args.subspan(1));
  if (options.bad) return 2;
  if (command == "serve") return serve(options);
  if (command == "check") return check(options);
  std::fputs(kUsage.data(), stderr);
  return 2;
}

}  // namespace spendwall::proxy::cli
