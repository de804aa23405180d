#include "proxy/routing/failure.hpp"

#include <gtest/gtest.h>

namespace spendwall::proxy::routing {
namespace {

TEST(ClassifyStatus, SuccessIsNoFailure) {
  EXPECT_FALSE(classify_status(200, "{}").has_value());
  EXPECT_FALSE(classify_status(204, "").has_value());
}

TEST(ClassifyStatus, RateLimitAndServerErrors) {
  EXPECT_EQ(classify_status(429, ""), FailureClass::rate_limited);
  EXPECT_EQ(classify_status(500, ""), FailureClass::server_error);
  EXPECT_EQ(classify_status(503, ""), FailureClass::server_error);
  EXPECT_EQ(classify_status(529, ""), FailureClass::server_error);
}

TEST(ClassifyStatus, ContextLengthBodiesOfBothProviders) {
  EXPECT_EQ(classify_status(400, R"({"error":{"code":"context_length_exceeded","message":"…"}})"),
            FailureClass::context_length);
  EXPECT_EQ(
      classify_status(
          400,
          R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})"),
      FailureClass::context_length);
}

TEST(ClassifyStatus, OtherClientErrorsNeverFallBack) {
  EXPECT_EQ(classify_status(400, R"({"error":{"message":"bad temperature"}})"),
            FailureClass::client_error);
  EXPECT_EQ(classify_status(401, ""), FailureClass::client_error);
  EXPECT_EQ(classify_status(404, ""), FailureClass::client_error);
}

TEST(ClassifyTransport, MapsEachFailure) {
  EXPECT_EQ(classify_transport(upstream::TransportFailure::timeout), FailureClass::timeout);
  EXPECT_EQ(classify_transport(upstream::TransportFailure::connect_error),
            FailureClass::connect_error);
  EXPECT_EQ(classify_transport(upstream::TransportFailure::bad_response),
            FailureClass::server_error);
}

}  // namespace
}  // namespace spendwall::proxy::routing
