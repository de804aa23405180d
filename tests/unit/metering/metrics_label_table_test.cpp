#include "metering/label_table.hpp"

#include <gtest/gtest.h>

#include <string>

#include "metrics_test_support.hpp"

namespace spendwall::metering {
namespace {

TEST(MetricsLabelTable, ReservesEmptyAndOther) {
  LabelTable table;
  EXPECT_EQ(table.name(kUnresolvedLabel), "");
  EXPECT_EQ(table.name(kOtherLabel), "other");
  EXPECT_EQ(table.intern(""), kUnresolvedLabel);
  EXPECT_EQ(table.intern("other"), kOtherLabel);
  EXPECT_EQ(table.size(), 2u);
}

TEST(MetricsLabelTable, IdsAreStableAndDense) {
  LabelTable table;
  const LabelId support = table.intern("support-bot");
  const LabelId search = table.intern("search");
  EXPECT_EQ(support, 2);
  EXPECT_EQ(search, 3);
  EXPECT_EQ(table.intern(std::string("support-bot")), support);
  EXPECT_EQ(table.name(search), "search");
  const auto names = table.names();
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[support], "support-bot");
}

TEST(MetricsLabelTable, ViewsSurviveLaterInterning) {
  LabelTable table;
  const std::string_view first = table.name(table.intern("first"));
  for (int i = 0; i < 10'000; ++i) table.intern(testing::numbered("value-", i));
  EXPECT_EQ(first, "first");
}

TEST(MetricsLabelTable, UnknownIdReadsOther) {
  LabelTable table;
  EXPECT_EQ(table.name(4242), "other");
}

TEST(MetricsLabelTable, FullTableInternsToOther) {
  LabelTable table;
  for (std::size_t i = table.size(); i < LabelTable::kMaxLabels; ++i) {
    table.intern(testing::numbered("v", i));
  }
  EXPECT_EQ(table.size(), LabelTable::kMaxLabels);
  EXPECT_EQ(table.intern("one-too-many"), kOtherLabel);
  EXPECT_EQ(table.intern("v65535"), 65535);  // existing values still resolve
}

TEST(MetricsLabelTable, InternsSnapshotNamesInConfigOrder) {
  LabelTable table;
  auto snapshot = testing::snapshot_with(
      {testing::workflow("support", "team-a"), testing::workflow("search", "team-b")}, {"fast"},
      {"openai"});
  table.intern_names_of(*snapshot);
  EXPECT_EQ(table.intern("support"), 2);
  EXPECT_EQ(table.intern("search"), 3);
  EXPECT_EQ(table.intern("fast"), 4);
  EXPECT_EQ(table.intern("openai"), 5);
}

}  // namespace
}  // namespace spendwall::metering
