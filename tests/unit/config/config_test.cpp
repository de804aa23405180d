#include "config/config.hpp"

#include <gtest/gtest.h>

namespace spendwall::config {
namespace {

ConfigSnapshot snapshot_with_names() {
  ConfigSnapshot config;
  config.providers.resize(2);
  config.providers[0].name = "openai";
  config.providers[1].name = "anthropic";
  config.routes.resize(1);
  config.routes[0].name = "chat";
  config.workflows.resize(1);
  config.workflows[0].name = "support";
  return config;
}

TEST(ConfigSnapshot, FindsByName) {
  const auto config = snapshot_with_names();
  ASSERT_NE(config.find_provider("anthropic"), nullptr);
  EXPECT_EQ(config.find_provider("anthropic")->name, "anthropic");
  EXPECT_EQ(config.find_provider("missing"), nullptr);
  EXPECT_EQ(config.find_route("chat"), &config.routes[0]);
  EXPECT_EQ(config.find_route("Chat"), nullptr);
  EXPECT_EQ(config.find_workflow("support"), &config.workflows[0]);
  EXPECT_EQ(config.find_workflow(""), nullptr);
}

TEST(ConfigSnapshot, LastPriceDefinitionWins) {
  ConfigSnapshot config;
  const auto add = [&](std::string provider, std::string model, NanoUsd input) {
    PriceEntry entry;
    entry.provider = std::move(provider);
    entry.model = std::move(model);
    entry.price.input = input;
    config.prices.push_back(entry);
  };
  add("openai", "gpt-4o", 1);
  add("openai", "gpt-4o-mini", 2);
  add("openai", "gpt-4o", 3);

  ASSERT_NE(config.find_price("openai", "gpt-4o"), nullptr);
  EXPECT_EQ(config.find_price("openai", "gpt-4o")->input, 3);
  EXPECT_EQ(config.find_price("openai", "gpt-4o-mini")->input, 2);
  EXPECT_EQ(config.find_price("openai-eu", "gpt-4o"), nullptr);
  EXPECT_EQ(config.find_price("openai", "gpt-4"), nullptr);
}

TEST(ToString, SpellsEnumeratorsAsTheYamlDoes) {
  EXPECT_EQ(to_string(ProviderKind::openai), "openai");
  EXPECT_EQ(to_string(ProviderKind::anthropic), "anthropic");
  EXPECT_EQ(to_string(ProviderKind::simulated), "simulated");
  EXPECT_EQ(to_string(FailureClass::rate_limited), "rate_limited");
  EXPECT_EQ(to_string(FailureClass::context_length), "context_length");
  EXPECT_EQ(to_string(FailureClass::client_error), "client_error");
  EXPECT_EQ(to_string(OnExceeded::block), "block");
  EXPECT_EQ(to_string(OnExceeded::downgrade), "downgrade");
  EXPECT_EQ(to_string(OnExceeded::alert), "alert");
  EXPECT_EQ(to_string(LedgerBackend::sqlite), "sqlite");
  EXPECT_EQ(to_string(LedgerBackend::postgres), "postgres");
  EXPECT_EQ(to_string(LedgerBackend::memory), "memory");
  EXPECT_EQ(to_string(SinkKind::slack), "slack");
  EXPECT_EQ(to_string(SinkKind::webhook), "webhook");
  EXPECT_EQ(to_string(SinkKind::log), "log");
}

}  // namespace
}  // namespace spendwall::config
