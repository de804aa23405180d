#include "metering/metric_names.hpp"

#include <gtest/gtest.h>
#include <prometheus/check_names.h>

#include <set>
#include <string>
#include <string_view>

namespace spendwall::metering {
namespace {

TEST(MetricNames, EveryNameAndLabelIsValidPrometheus) {
  for (const MetricDef& def : kMetricDefs) {
    EXPECT_TRUE(prometheus::CheckMetricName(std::string(def.name))) << def.name;
    for (std::size_t i = 0; i < def.label_count(); ++i) {
      EXPECT_TRUE(prometheus::CheckLabelName(std::string(def.labels[i])))
          << def.name << " label " << def.labels[i];
    }
    EXPECT_FALSE(def.help.empty()) << def.name;
  }
}

TEST(MetricNames, FollowNamingConventions) {
  for (const MetricDef& def : kMetricDefs) {
    EXPECT_TRUE(def.name.starts_with("spendwall_")) << def.name;
    EXPECT_EQ(def.type == prometheus::MetricType::Counter, def.name.ends_with("_total"))
        << def.name;
    if (def.type == prometheus::MetricType::Histogram) {
      EXPECT_TRUE(def.name.ends_with("_seconds")) << def.name;
    }
    // "le" is reserved for histogram buckets; labels must not repeat within a metric.
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < def.label_count(); ++i) {
      EXPECT_NE(def.labels[i], "le") << def.name;
      EXPECT_TRUE(seen.insert(def.labels[i]).second) << def.name << " repeats " << def.labels[i];
    }
    // No gaps: every label after the first empty one is empty too.
    for (std::size_t i = def.label_count(); i < kMaxMetricLabels; ++i) {
      EXPECT_TRUE(def.labels[i].empty()) << def.name;
    }
  }
}

TEST(MetricNames, TableIsSortedAndUnique) {
  for (std::size_t i = 1; i < kMetricDefs.size(); ++i) {
    EXPECT_LT(kMetricDefs[i - 1].name, kMetricDefs[i].name);
  }
}

TEST(MetricNames, LookupAtCompileTime) {
  constexpr const MetricDef& requests = metric_def("spendwall_requests_total");
  static_assert(requests.label_count() == 6);
  static_assert(requests.labels[5] == "code");
  EXPECT_EQ(requests.type, prometheus::MetricType::Counter);
}

}  // namespace
}  // namespace spendwall::metering
