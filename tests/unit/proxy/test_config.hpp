#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "config/loader.hpp"
#include "proxy/routing/runtime_config.hpp"

namespace spendwall::proxy::testing {

/// Key "test-key-support" belongs to workflow support; "test-key-ops" to ops (routes "*").
inline constexpr std::string_view kRoutingYaml = R"(version: 1
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
ledger: { backend: memory }
providers:
  openai: { kind: openai, base_url: "https://api.example.test:8443/v1", api_key: "${TEST_OPENAI_KEY}" }
  claude: { kind: anthropic, base_url: "http://127.0.0.1:9", api_key: provider-anthropic-key, headers: { X-Team: platform } }
  sim: { kind: simulated }
prices:
  openai/gpt-4o: { input: 2.50, output: 10.00 }
  claude/sonnet: { input: 3.00, output: 15.00 }
  sim/small: { input: 0.15, output: 0.60 }
routes:
  chat:
    targets:
      - { provider: openai, model: gpt-4o, weight: 3 }
      - { provider: sim, model: small, weight: 1 }
    fallbacks: [ { provider: claude, model: sonnet } ]
  cheap:
    targets: [ { provider: sim, model: small } ]
    fallbacks: [ { provider: sim, model: small } ]
workflows:
  support:
    owner: support-team
    keys: [ "sha256:5bd280ff24bb1d0c55169446f1e3b0d846cd533d7a8107e92fa84096d260b12f" ]
    routes: [chat]
    budget: { daily: 10 }
  ops:
    owner: ops-team
    keys: [ "sha256:77467c537c6111daa3e0a36fb9d8fa82c2b642fc79ebd7560079b135c1d27f50" ]
    routes: ["*"]
    budget: { daily: 10 }
)";

/// The runtime built from kRoutingYaml; fails the test when it does not load.
inline std::shared_ptr<const routing::RuntimeConfig> routing_runtime() {
  config::EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "TEST_OPENAI_KEY") return "provider-openai-key";
    return std::nullopt;
  };
  config::LoadResult loaded = config::load_config_text(kRoutingYaml, "routing.yaml", "/tmp", env);
  for (const auto& diagnostic : loaded.diagnostics) {
    if (diagnostic.severity == config::Severity::error) ADD_FAILURE() << diagnostic.format();
  }
  if (!loaded.ok()) return nullptr;
  auto built = routing::RuntimeConfig::build(loaded.snapshot, 2);
  EXPECT_TRUE(built.config) << built.error;
  return built.config;
}

}  // namespace spendwall::proxy::testing
