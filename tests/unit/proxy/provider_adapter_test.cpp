#include "proxy/upstream/provider_adapter.hpp"

#include <gtest/gtest.h>

#include "tests/unit/proxy/test_config.hpp"

namespace spendwall::proxy::upstream {
namespace {

class ProviderAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_ = testing::routing_runtime();
    ASSERT_TRUE(runtime_);
    client_headers_.set(http::field::authorization, "Bearer test-key-support");
    client_headers_.set("x-api-key", "test-key-support");
    client_headers_.set("x-spendwall-tags", "feature=search");
    client_headers_.set("OpenAI-Beta", "assistants=v2");
    client_headers_.set("anthropic-beta", "prompt-caching-2024-07-31");
    client_headers_.set(http::field::connection, "keep-alive");
    client_headers_.set(http::field::accept_encoding, "gzip");
    client_headers_.set(http::field::host, "spendwall.internal");
  }

  UpstreamRequest request_for(std::size_t provider, metering::Endpoint endpoint) {
    UpstreamRequest request;
    request.provider = &runtime_->providers()[provider];
    request.endpoint = endpoint;
    request.body = body_;
    request.client_headers = &client_headers_;
    return request;
  }

  std::shared_ptr<const routing::RuntimeConfig> runtime_;
  http::fields client_headers_;
  std::string body_ = R"({"model":"gpt-4o"})";
};

TEST_F(ProviderAdapterTest, OpenAiTargetKeepsBasePathVersion) {
  auto request = request_for(0, metering::Endpoint::chat_completions);
  EXPECT_EQ(upstream_target(request), "/v1/chat/completions");
  request.query = "api-version=2024-10-01";
  EXPECT_EQ(upstream_target(request), "/v1/chat/completions?api-version=2024-10-01");
}

TEST_F(ProviderAdapterTest, AnthropicTargetAddsMessagesPath) {
  EXPECT_EQ(upstream_target(request_for(1, metering::Endpoint::messages)), "/v1/messages");
}

TEST_F(ProviderAdapterTest, ClientCredentialsNeverTravelUpstream) {
  OutgoingRequest out;
  build_outgoing_request(request_for(0, metering::Endpoint::chat_completions), out);
  EXPECT_EQ(out[http::field::authorization], "Bearer provider-openai-key");
  EXPECT_EQ(out.count("x-api-key"), 0u);
  EXPECT_EQ(out.count("x-spendwall-tags"), 0u);
  EXPECT_EQ(out[http::field::host], "api.example.test:8443");
  EXPECT_EQ(out["OpenAI-Beta"], "assistants=v2");
  EXPECT_EQ(out[http::field::accept_encoding], "identity");
  EXPECT_EQ(out[http::field::content_length], std::to_string(body_.size()));
  for (const auto& field : out) {
    EXPECT_EQ(std::string_view(field.value()).find("test-key-support"), std::string_view::npos)
        << field.name_string();
  }
}

TEST_F(ProviderAdapterTest, AnthropicGetsKeyVersionAndExtraHeaders) {
  OutgoingRequest out;
  build_outgoing_request(request_for(1, metering::Endpoint::messages), out);
  EXPECT_EQ(out["x-api-key"], "provider-anthropic-key");
  EXPECT_EQ(out.count(http::field::authorization), 0u);
  EXPECT_EQ(out["anthropic-version"], "2023-06-01");
  EXPECT_EQ(out["anthropic-beta"], "prompt-caching-2024-07-31");
  EXPECT_EQ(out["X-Team"], "platform");
}

TEST_F(ProviderAdapterTest, ClientAnthropicVersionWins) {
  client_headers_.set("anthropic-version", "2024-01-01");
  OutgoingRequest out;
  build_outgoing_request(request_for(1, metering::Endpoint::messages), out);
  EXPECT_EQ(out["anthropic-version"], "2024-01-01");
  EXPECT_EQ(out.count("anthropic-version"), 1u);
}

TEST_F(ProviderAdapterTest, HeadersNamedInConnectionAreHopByHop) {
  client_headers_.set(http::field::connection, "keep-alive, X-Hop-Only ,x-other");
  client_headers_.set("x-hop-only", "1");
  client_headers_.set("x-other", "2");
  client_headers_.set("x-kept", "3");
  OutgoingRequest out;
  build_outgoing_request(request_for(0, metering::Endpoint::chat_completions), out);
  EXPECT_EQ(out.count("x-hop-only"), 0u);
  EXPECT_EQ(out.count("x-other"), 0u);
  EXPECT_EQ(out["x-kept"], "3");
}

TEST(HopByHop, CoversFramingAndConnectionHeaders) {
  for (std::string_view name :
       {"Connection", "keep-alive", "Transfer-Encoding", "TE", "Upgrade", "Content-Length"}) {
    EXPECT_TRUE(is_hop_by_hop(name)) << name;
  }
  EXPECT_FALSE(is_hop_by_hop("anthropic-version"));
  EXPECT_FALSE(is_hop_by_hop("content-type"));
}

}  // namespace
}  // namespace spendwall::proxy::upstream
