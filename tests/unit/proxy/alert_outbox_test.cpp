#include "proxy/alerts/alert_outbox.hpp"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <string>

namespace spendwall::proxy::alerts {
namespace {

TEST(RetryDelayTest, DoublesFromOneSecondUpToFiveMinutes) {
  EXPECT_EQ(retry_delay(1), std::chrono::seconds(1));
  EXPECT_EQ(retry_delay(2), std::chrono::seconds(2));
  EXPECT_EQ(retry_delay(5), std::chrono::seconds(16));
  EXPECT_EQ(retry_delay(9), std::chrono::seconds(256));
  EXPECT_EQ(retry_delay(10), std::chrono::minutes(5));
  EXPECT_EQ(retry_delay(1000), std::chrono::minutes(5));
}

TEST(SlackBodyTest, NamesKindWorkflowOwnerSpendTopProviderAndNextAction) {
  const std::string body = slack_body(
      R"({"id":"exc_1","kind":"threshold","workflow":"support-assistant","owner":"support-platform",)"
      R"("contact":"#support-platform","window":"daily","spent_usd":480.02,"limit_usd":600,)"
      R"("providers":[{"provider":"openai","spent_usd":401.2},{"provider":"anthropic","spent_usd":78.82}],)"
      R"("next_action":"Owner confirms within 4h."})");
  ASSERT_TRUE(body.starts_with(R"({"text":")")) << body;
  for (const char* part :
       {"threshold", "support-assistant", "support-platform", "#support-platform",
        "$480.02 of $600.00", "openai ($401.20)", "Owner confirms within 4h."}) {
    EXPECT_NE(body.find(part), std::string::npos) << part << " in " << body;
  }
}

TEST(SlackBodyTest, SaysSoWhenTheWindowHasNoLimit) {
  const std::string body = slack_body(
      R"({"kind":"spike","workflow":"w","spent_usd":12,"limit_usd":null,"providers":[]})");
  EXPECT_NE(body.find("$12.00 (no limit)"), std::string::npos) << body;
}

TEST(AlertMetricsTest, CountsExceptionsAndDeliveriesBySeries) {
  AlertMetrics metrics;
  metrics.count_exception("w", "threshold");
  metrics.count_exception("w", "threshold");
  metrics.count_delivery("hook", DeliveryResult::retry);
  metrics.count_delivery("hook", DeliveryResult::ok);
  auto families = metrics.Collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "spendwall_alert_deliveries_total");
  ASSERT_EQ(families[0].metric.size(), 2u);
  EXPECT_EQ(families[0].metric[0].label[1].value, "ok");
  EXPECT_EQ(families[1].name, "spendwall_exceptions_total");
  ASSERT_EQ(families[1].metric.size(), 1u);
  EXPECT_EQ(families[1].metric[0].counter.value, 2.0);
}

}  // namespace
}  // namespace spendwall::proxy::alerts
