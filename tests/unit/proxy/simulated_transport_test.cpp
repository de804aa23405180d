#include "proxy/upstream/simulated_transport.hpp"

#include <gtest/gtest.h>

namespace spendwall::proxy::upstream {
namespace {

TEST(SimulatedUsage, DerivedDeterministicallyFromTheRequest) {
  RequestShape shape{false, false, 400, std::nullopt};
  SimulatedUsage first = simulated_usage(metering::Endpoint::chat_completions, shape);
  SimulatedUsage second = simulated_usage(metering::Endpoint::chat_completions, shape);
  EXPECT_EQ(first.input_tokens, second.input_tokens);
  EXPECT_EQ(first.output_tokens, second.output_tokens);
  EXPECT_EQ(first.input_tokens, 107u);  // 400 bytes / 4 + 7 framing
  EXPECT_GT(first.output_tokens, 0u);
}

TEST(SimulatedUsage, HonoursMaxTokens) {
  RequestShape shape{false, false, 4000, 5};
  EXPECT_EQ(simulated_usage(metering::Endpoint::messages, shape).output_tokens, 5u);
}

TEST(SimulatedUsage, EmbeddingsHaveNoOutput) {
  RequestShape shape{false, false, 40, std::nullopt};
  EXPECT_EQ(simulated_usage(metering::Endpoint::embeddings, shape).output_tokens, 0u);
}

}  // namespace
}  // namespace spendwall::proxy::upstream
