#include "proxy/routing/runtime_config.hpp"

#include <gtest/gtest.h>

#include "tests/unit/proxy/test_config.hpp"

namespace spendwall::proxy::routing {
namespace {

TEST(ParseBaseUrl, SplitsSchemeHostPortAndPath) {
  auto endpoint = parse_base_url("https://api.openai.com/v1/");
  ASSERT_TRUE(endpoint);
  EXPECT_TRUE(endpoint->tls);
  EXPECT_EQ(endpoint->host, "api.openai.com");
  EXPECT_EQ(endpoint->port, "443");
  EXPECT_EQ(endpoint->base_path, "/v1");
  EXPECT_EQ(endpoint->host_header, "api.openai.com");

  endpoint = parse_base_url("http://127.0.0.1:8081");
  ASSERT_TRUE(endpoint);
  EXPECT_FALSE(endpoint->tls);
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, "8081");
  EXPECT_EQ(endpoint->base_path, "");
  EXPECT_EQ(endpoint->host_header, "127.0.0.1:8081");

  endpoint = parse_base_url("http://[::1]:9000/v1");
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, "9000");
}

TEST(ParseBaseUrl, RejectsWhatIsNotAnHttpUrl) {
  EXPECT_FALSE(parse_base_url("ftp://example.com"));
  EXPECT_FALSE(parse_base_url("https://"));
  EXPECT_FALSE(parse_base_url("http://host:port/"));
  EXPECT_FALSE(parse_base_url("api.openai.com/v1"));
}

TEST(RuntimeConfig, AuthenticatesByKeyHash) {
  auto runtime = testing::routing_runtime();
  ASSERT_TRUE(runtime);
  const WorkflowRuntime* support = runtime->authenticate("test-key-support");
  ASSERT_NE(support, nullptr);
  EXPECT_EQ(support->spec->name, "support");
  EXPECT_EQ(runtime->authenticate("test-key-ops")->spec->name, "ops");
  EXPECT_EQ(runtime->authenticate("test-key-suppor"), nullptr);
  EXPECT_EQ(runtime->authenticate(""), nullptr);
}

TEST(RuntimeConfig, ResolvesRoutesTheWorkflowMayUse) {
  auto runtime = testing::routing_runtime();
  ASSERT_TRUE(runtime);
  const WorkflowRuntime& support = *runtime->authenticate("test-key-support");
  RouteLookup chat = runtime->resolve(support, "chat");
  ASSERT_EQ(chat.status, RouteLookupStatus::ok);
  EXPECT_EQ(chat.route->name, "chat");
  ASSERT_EQ(chat.route->targets.size(), 2u);
  EXPECT_EQ(chat.route->total_weight, 4u);
  EXPECT_EQ(chat.route->targets[0].model, "gpt-4o");
  EXPECT_EQ(chat.route->targets[0].price.input, 2'500'000'000);
  ASSERT_EQ(chat.route->fallbacks.size(), 1u);
  EXPECT_EQ(runtime->provider(chat.route->fallbacks[0].provider).spec->name, "claude");

  EXPECT_EQ(runtime->resolve(support, "cheap").status, RouteLookupStatus::not_allowed);
  EXPECT_EQ(runtime->resolve(support, "openai/gpt-4o").status, RouteLookupStatus::not_allowed);
  EXPECT_EQ(runtime->resolve(support, "gpt-5").status, RouteLookupStatus::not_found);
}

TEST(RuntimeConfig, StarAllowsEveryRouteAndPricedModel) {
  auto runtime = testing::routing_runtime();
  ASSERT_TRUE(runtime);
  const WorkflowRuntime& ops = *runtime->authenticate("test-key-ops");
  EXPECT_EQ(runtime->resolve(ops, "cheap").status, RouteLookupStatus::ok);
  RouteLookup direct = runtime->resolve(ops, "claude/sonnet");
  ASSERT_EQ(direct.status, RouteLookupStatus::ok);
  ASSERT_EQ(direct.route->targets.size(), 1u);
  EXPECT_EQ(direct.route->targets[0].model, "sonnet");
  EXPECT_EQ(direct.route->targets[0].price.output, 15'000'000'000);
  EXPECT_EQ(runtime->resolve(ops, "claude/opus").status, RouteLookupStatus::not_found);
}

TEST(RuntimeConfig, ParsesProviderEndpointsAndBuildsTls) {
  auto runtime = testing::routing_runtime();
  ASSERT_TRUE(runtime);
  const ProviderRuntime& openai = runtime->providers()[0];
  EXPECT_TRUE(openai.endpoint.tls);
  EXPECT_NE(openai.tls_context, nullptr);
  EXPECT_EQ(openai.endpoint.port, "8443");
  const ProviderRuntime& claude = runtime->providers()[1];
  EXPECT_FALSE(claude.endpoint.tls);
  EXPECT_EQ(claude.tls_context, nullptr);
}

}  // namespace
}  // namespace spendwall::proxy::routing
