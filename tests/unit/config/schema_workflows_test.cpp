// Workflows, keys, budgets, downgrades and overrides, through the public loader.
#include "config/loader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_support.hpp"

namespace spendwall::config {
namespace {

using testing::ConfigDoc;
using ::testing::ElementsAre;
using testing::env_of;
using testing::error_at;
using testing::errors;
using testing::formatted;
using ::testing::IsEmpty;
using testing::key_hash;
using testing::load_doc;
using ::testing::Not;
using ::testing::SizeIs;
using testing::warning_at;
using testing::warnings;

/// The workflows section with one workflow `app` whose other keys are `body`
/// (indented by four spaces); owner, keys and routes are added unless `body` has them.
ConfigDoc workflow_doc(const std::string& body) {
  std::string section = "workflows:\n  app:\n";
  const auto has = [&](const char* key) {
    return body.find(std::string(key) + ":") != std::string::npos;
  };
  if (!has("owner")) section += "    owner: team\n";
  if (!has("keys")) section += "    keys: [ \"" + key_hash(1) + "\" ]\n";
  if (!has("routes")) section += "    routes: [chat, cheap]\n";
  return ConfigDoc("workflows", section + body);
}

ConfigSnapshot load_valid(const ConfigDoc& doc) {
  const auto result = load_doc(doc);
  EXPECT_TRUE(result.ok()) << ::testing::PrintToString(formatted(result));
  return result.ok() ? *result.snapshot : ConfigSnapshot{};
}

// --- owner, keys, routes ---

TEST(Workflows, NeedAnOwner) {
  const ConfigDoc missing("workflows", R"(
workflows:
  app:
    keys: [ ")" + key_hash(1) + R"(" ]
    routes: [chat]
    budget: { daily: 1 }
)");
  EXPECT_THAT(errors(load_doc(missing)),
              ElementsAre(error_at(missing.line(2), 3, "workflow 'app' is missing 'owner'")));

  const ConfigDoc empty = workflow_doc("    owner: \"\"\n    budget: { daily: 1 }\n");
  EXPECT_THAT(errors(load_doc(empty)),
              ElementsAre(error_at(empty.line(5), 12, "owner: must not be empty")));
}

TEST(Workflows, NeedAtLeastOneKey) {
  const ConfigDoc missing("workflows", R"(
workflows:
  app: { owner: team, routes: [chat], budget: { daily: 1 } }
)");
  EXPECT_THAT(errors(load_doc(missing)),
              ElementsAre(error_at(missing.line(2), 3, "workflow 'app' is missing 'keys'")));

  const ConfigDoc empty = workflow_doc("    keys: []\n    budget: { daily: 1 }\n");
  EXPECT_THAT(
      errors(load_doc(empty)),
      ElementsAre(error_at(empty.line(5), 11, "keys: workflow 'app' needs at least one key")));
}

TEST(Workflows, KeyHashesAreWellFormed) {
  const std::string upper = "sha256:" + std::string(64, 'A');
  const std::string short_hash = "sha256:" + std::string(63, 'a');
  const ConfigDoc doc =
      workflow_doc("    keys:\n      - \"" + upper + "\"\n      - \"" + short_hash +
                   "\"\n      - sw-live-secret-key\n    budget: { daily: 1 }\n");
  const auto result = load_doc(doc);
  const std::string message = "keys: expected sha256: and 64 lowercase hex digits";
  EXPECT_THAT(errors(result),
              ElementsAre(error_at(doc.line(6), 9, message), error_at(doc.line(7), 9, message),
                          error_at(doc.line(8), 9, message)));
  // Someone may paste the key itself: it is not repeated back.
  EXPECT_THAT(formatted(result),
              Not(::testing::Contains(::testing::HasSubstr("sw-live-secret-key"))));
}

TEST(Workflows, KeyHashesAreUniqueAcrossWorkflows) {
  const ConfigDoc doc("workflows", R"(
workflows:
  first:
    owner: a
    keys: [ ")" + key_hash(1) + R"(", ")" +
                                       key_hash(2) + R"(" ]
    routes: [chat]
    budget: { daily: 1 }
  second:
    owner: b
    keys: [ ")" + key_hash(3) + R"(", ")" +
                                       key_hash(3) + R"(", ")" + key_hash(2) + R"(" ]
    routes: [chat]
    budget: { daily: 1 }
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(9), 88, "keys: this key hash is listed twice"),
                          error_at(doc.line(9), 163,
                                   "keys: this key hash already belongs to workflow 'first'")));
}

TEST(Workflows, KeyHashesAreDecoded) {
  const auto config = load_valid(workflow_doc("    budget: { daily: 1 }\n"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  ASSERT_THAT(config.workflows[0].key_hashes, SizeIs(1));
  std::array<unsigned char, 32> expected{};
  expected[31] = 0x01;
  EXPECT_EQ(config.workflows[0].key_hashes[0], expected);
}

TEST(Workflows, UseOnlyDefinedRoutes) {
  const ConfigDoc doc = workflow_doc("    routes: [chat, chatt, chat]\n    budget: { daily: 1 }\n");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(5), 20, "routes: route 'chatt' is not defined under routes"),
                  error_at(doc.line(5), 27, "routes: 'chat' is listed twice")));

  const ConfigDoc none = workflow_doc("    routes: []\n    budget: { daily: 1 }\n");
  EXPECT_THAT(errors(load_doc(none)),
              ElementsAre(error_at(none.line(5), 13, "routes: list at least one route, or \"*\"")));
}

TEST(Workflows, StarAllowsEveryRouteAndStandsAlone) {
  const auto config = load_valid(workflow_doc("    routes: [\"*\"]\n    budget: { daily: 1 }\n"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  EXPECT_TRUE(config.workflows[0].all_routes);
  EXPECT_THAT(config.workflows[0].routes, IsEmpty());

  const ConfigDoc mixed = workflow_doc("    routes: [chat, \"*\"]\n    budget: { daily: 1 }\n");
  EXPECT_THAT(
      errors(load_doc(mixed)),
      ElementsAre(error_at(mixed.line(5), 20,
                           "routes: '*' already allows every route; list nothing beside it")));
}

TEST(Workflows, AWorkflowWithoutABudgetIsAWarning) {
  const ConfigDoc doc = workflow_doc("    review: weekly\n");
  const auto result = load_doc(doc);
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(warnings(result),
              ElementsAre(warning_at(doc.line(2), 3, "workflow 'app' has no budget")));
}

TEST(Workflows, DecisionsAndReview) {
  const ConfigDoc doc = workflow_doc(R"(    contact: "#team"
    budget: { daily: 1 }
    decisions:
      threshold: "Owner confirms."
      exceeded: "Downgrade."
      spike: "Investigate."
      fallback_surge: "Check status."
    review: monthly
)");
  const auto config = load_valid(doc);
  ASSERT_THAT(config.workflows, SizeIs(1));
  const WorkflowPolicy& app = config.workflows[0];
  EXPECT_EQ(app.contact, "#team");
  EXPECT_EQ(app.decisions.threshold, "Owner confirms.");
  EXPECT_EQ(app.decisions.exceeded, "Downgrade.");
  EXPECT_EQ(app.decisions.spike, "Investigate.");
  EXPECT_EQ(app.decisions.fallback_surge, "Check status.");
  EXPECT_EQ(app.review, "monthly");
  EXPECT_EQ(app.mark.line, doc.line(2));

  const ConfigDoc typo = workflow_doc("    budget: { daily: 1 }\n    decisions: { exceded: x }\n");
  EXPECT_THAT(errors(load_doc(typo)),
              ElementsAre(error_at(typo.line(7), 18,
                                   "unknown key 'exceded' in decisions of workflow 'app' (did you "
                                   "mean 'exceeded'?)")));
}

TEST(Workflows, NamesCannotContainSlash) {
  const ConfigDoc doc("workflows", R"(
workflows:
  team/app: { owner: a, keys: [ ")" + key_hash(1) +
                                       R"(" ], routes: [chat], budget: { daily: 1 } }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(2), 3, "workflow name 'team/app' must not contain '/'")));
}

// --- budget ---

TEST(Budget, ParsedValues) {
  const auto config = load_valid(workflow_doc(R"(    budget:
      daily: 12.5
      monthly: 300
      timezone: America/Argentina/Buenos_Aires
      alert_at: [0.25, 0.5, 1]
      on_exceeded: alert
      ceiling: 1
      session_cap: 0.000000001
)"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  ASSERT_TRUE(config.workflows[0].budget);
  const BudgetSpec& budget = *config.workflows[0].budget;
  EXPECT_EQ(budget.daily, 12'500'000'000);
  EXPECT_EQ(budget.monthly, 300'000'000'000);
  EXPECT_EQ(budget.timezone, "America/Argentina/Buenos_Aires");
  EXPECT_THAT(budget.alert_at, ElementsAre(0.25, 0.5, 1.0));
  EXPECT_EQ(budget.on_exceeded, OnExceeded::alert);
  EXPECT_EQ(budget.ceiling, 1.0);
  EXPECT_EQ(budget.session_cap, 1);
}

TEST(Budget, Defaults) {
  const auto config = load_valid(workflow_doc("    budget: { monthly: 10 }\n"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  const BudgetSpec& budget = *config.workflows[0].budget;
  EXPECT_EQ(budget.daily, std::nullopt);
  EXPECT_EQ(budget.timezone, "UTC");
  EXPECT_THAT(budget.alert_at, IsEmpty());
  EXPECT_EQ(budget.on_exceeded, OnExceeded::block);
  EXPECT_EQ(budget.ceiling, std::nullopt);
  EXPECT_EQ(budget.session_cap, std::nullopt);
}

TEST(Budget, NeedsALimitAndPositiveAmounts) {
  const ConfigDoc doc = workflow_doc("    budget: { timezone: UTC }\n");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(6), 5,
                                   "budget of workflow 'app' needs a daily or monthly limit")));

  const ConfigDoc zero = workflow_doc("    budget: { daily: 0, monthly: -5, session_cap: 0 }\n");
  EXPECT_THAT(errors(load_doc(zero)),
              ElementsAre(error_at(zero.line(6), 22, "daily: must be more than 0"),
                          error_at(zero.line(6), 34, "monthly: must not be negative"),
                          error_at(zero.line(6), 51, "session_cap: must be more than 0")));

  const ConfigDoc scalar = workflow_doc("    budget: 200\n");
  EXPECT_THAT(errors(load_doc(scalar)),
              ElementsAre(error_at(scalar.line(6), 13, "budget: expected a mapping, got '200'")));
}

TEST(Budget, TimezoneIsAnIanaName) {
  for (const char* zone : {"UTC", "Europe/Berlin", "Asia/Tokyo", "Etc/GMT+5"}) {
    EXPECT_TRUE(
        load_doc(workflow_doc(std::string("    budget: { daily: 1, timezone: ") + zone + " }\n"))
            .ok())
        << zone;
  }
  for (const char* zone : {"Mars/Olympus", "../../../etc/passwd", "/etc/localtime", "Europe",
                           "CEST", "Europe/Berlin "}) {
    const ConfigDoc doc =
        workflow_doc(std::string("    budget: { daily: 1, timezone: \"") + zone + "\" }\n");
    EXPECT_THAT(errors(load_doc(doc)),
                ElementsAre(error_at(doc.line(6), 35,
                                     "is not a known IANA time zone (like UTC or Europe/Berlin)")))
        << zone;
  }
}

TEST(Budget, AlertFractionsAreInRangeAndIncrease) {
  const ConfigDoc doc =
      workflow_doc("    budget: { daily: 1, alert_at: [0, 0.5, 0.5, 0.4, 1.2, 1] }\n");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(6), 36, "alert_at: must be in (0, 1]"),
                  error_at(doc.line(6), 44, "alert_at: fractions must increase (0.5 follows 0.5)"),
                  error_at(doc.line(6), 49, "alert_at: fractions must increase (0.4 follows 0.5)"),
                  error_at(doc.line(6), 54, "alert_at: must be in (0, 1]")));
}

TEST(Budget, CeilingIsAtLeastOne) {
  const ConfigDoc doc = workflow_doc("    budget: { daily: 1, ceiling: 0.99 }\n");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(6), 34, "ceiling: must be at least 1")));
}

TEST(Budget, OnExceededIsBlockDowngradeOrAlert) {
  const ConfigDoc doc =
      workflow_doc("    budget: { daily: 1, on_exceeded: throttle, downgrade_to: cheap }\n");
  // downgrade_to is not judged against an action that could not be read.
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(6), 38,
                           "on_exceeded: 'throttle' is not one of block, downgrade or alert")));
}

// --- downgrade ---

TEST(Downgrade, ToARouteOfTheWorkflow) {
  const auto config = load_valid(
      workflow_doc("    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheap }\n"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  EXPECT_EQ(config.workflows[0].budget->on_exceeded, OnExceeded::downgrade);
  EXPECT_EQ(config.workflows[0].budget->downgrade_to, "cheap");
}

TEST(Downgrade, NeedsDowngradeTo) {
  const ConfigDoc doc = workflow_doc("    budget: { daily: 1, on_exceeded: downgrade }\n");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(6), 25,
                           "on_exceeded: downgrade needs downgrade_to (the route to serve from)")));
}

TEST(Downgrade, DowngradeToOnlyWithDowngrade) {
  const ConfigDoc block =
      workflow_doc("    budget: { daily: 1, on_exceeded: block, downgrade_to: cheap }\n");
  EXPECT_THAT(errors(load_doc(block)),
              ElementsAre(error_at(block.line(6), 45,
                                   "downgrade_to applies only with on_exceeded: downgrade")));
  const ConfigDoc implicit = workflow_doc("    budget: { daily: 1, downgrade_to: cheap }\n");
  EXPECT_THAT(errors(load_doc(implicit)),
              ElementsAre(error_at(implicit.line(6), 25,
                                   "downgrade_to applies only with on_exceeded: downgrade")));
}

TEST(Downgrade, ToARouteTheWorkflowMayUse) {
  const ConfigDoc doc = workflow_doc(
      "    routes: [chat]\n    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheap "
      "}\n");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(6), 63,
                                   "downgrade_to: 'cheap' is not one of the workflow's routes")));
}

TEST(Downgrade, NotToTheOnlyRoute) {
  const ConfigDoc doc = workflow_doc(
      "    routes: [cheap]\n    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheap "
      "}\n");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(error_at(doc.line(6), 63,
                           "downgrade_to: 'cheap' is the workflow's only route, so downgrading "
                           "would change nothing")));
}

TEST(Downgrade, WithStarToADefinedRoute) {
  const ConfigDoc valid = workflow_doc(
      "    routes: [\"*\"]\n    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheap "
      "}\n");
  EXPECT_TRUE(load_doc(valid).ok());

  const ConfigDoc undefined = workflow_doc(
      "    routes: [\"*\"]\n    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheaper "
      "}\n");
  EXPECT_THAT(errors(load_doc(undefined)),
              ElementsAre(error_at(undefined.line(6), 63,
                                   "downgrade_to: route 'cheaper' is not defined under routes")));

  const ConfigDoc only_route({"routes", "workflows"}, R"(
routes:
  chat:
    targets: [ { provider: sim, model: large } ]
    fallbacks: [ { provider: sim, model: small } ]
workflows:
  app:
    owner: team
    keys: [ ")" + key_hash(1) + R"(" ]
    routes: ["*"]
    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: chat }
)");
  EXPECT_THAT(errors(load_doc(only_route)),
              ElementsAre(error_at(only_route.line(10), 63,
                                   "downgrade_to: 'chat' is the workflow's only route")));
}

TEST(Downgrade, TheBudgetMayComeBeforeTheRoutes) {
  const ConfigDoc doc("workflows", R"(
workflows:
  app:
    budget: { daily: 1, on_exceeded: downgrade, downgrade_to: cheap }
    routes: [chat, cheap]
    keys: [ ")" + key_hash(1) + R"(" ]
    owner: team
)");
  EXPECT_TRUE(load_doc(doc).ok()) << ::testing::PrintToString(formatted(load_doc(doc)));
}

// --- overrides ---

TEST(Overrides, ParsedValues) {
  const auto config = load_valid(workflow_doc(R"(    budget: { daily: 10, monthly: 100 }
    overrides:
      - { name: launch, from: 2026-12-01T00:00:00Z, until: 2026-12-08T00:00:00Z, daily: 60, reason: Launch, approved_by: vp }
      - { name: renewal, from: 2026-12-08T00:00:00Z, until: 2027-01-01T00:00:00+01:00, monthly: 500, reason: Renewal, approved_by: cfo }
)"));
  ASSERT_THAT(config.workflows, SizeIs(1));
  const auto& overrides = config.workflows[0].overrides;
  ASSERT_THAT(overrides, SizeIs(2));
  EXPECT_EQ(overrides[0].name, "launch");
  EXPECT_EQ(overrides[0].daily, 60 * kNanoPerUsd);
  EXPECT_EQ(overrides[0].monthly, std::nullopt);
  // Back to back is not an overlap: `until` is exclusive.
  EXPECT_EQ(overrides[1].from, overrides[0].until);
  EXPECT_EQ(overrides[1].until,
            std::chrono::sys_days{std::chrono::year{2026} / 12 / 31} + std::chrono::hours(23));
  EXPECT_EQ(overrides[1].monthly, 500 * kNanoPerUsd);
  EXPECT_EQ(overrides[1].approved_by, "cfo");
}

TEST(Overrides, FromBeforeUntil) {
  const ConfigDoc doc = workflow_doc(R"(    budget: { daily: 10 }
    overrides:
      - name: backwards
        from: 2026-12-08T00:00:00Z
        until: 2026-12-01T00:00:00Z
        daily: 20
        reason: Launch
        approved_by: vp
      - name: empty
        from: 2026-12-08T00:00:00Z
        until: 2026-12-08T00:00:00Z
        daily: 20
        reason: Launch
        approved_by: vp
)");
  EXPECT_THAT(errors(load_doc(doc)),
              ElementsAre(error_at(doc.line(10), 16, "until: must be after from"),
                          error_at(doc.line(16), 16, "until: must be after from")));
}

TEST(Overrides, NeedAReasonAnApproverAndALimit) {
  const ConfigDoc doc = workflow_doc(R"(    budget: { daily: 10 }
    overrides:
      - { name: launch, from: 2026-12-01T00:00:00Z, until: 2026-12-08T00:00:00Z }
      - { name: quiet, from: 2027-01-01T00:00:00Z, until: 2027-01-02T00:00:00Z, daily: 1, reason: "", approved_by: vp }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(
          error_at(doc.line(8), 9, "override of workflow 'app' is missing 'reason'"),
          error_at(doc.line(8), 9, "override of workflow 'app' is missing 'approved_by'"),
          error_at(doc.line(8), 9, "override of workflow 'app' needs a daily or monthly limit"),
          error_at(doc.line(9), 99, "reason: must not be empty")));
}

TEST(Overrides, OfOneWorkflowDoNotOverlap) {
  const ConfigDoc doc = workflow_doc(R"(    budget: { daily: 10 }
    overrides:
      - { name: launch, from: 2026-12-01T00:00:00Z, until: 2026-12-08T00:00:00Z, daily: 60, reason: r, approved_by: vp }
      - { name: promo, from: 2026-12-07T00:00:00Z, until: 2026-12-09T00:00:00Z, daily: 80, reason: r, approved_by: vp }
      - { name: later, from: 2026-12-20T00:00:00Z, until: 2026-12-21T00:00:00Z, daily: 80, reason: r, approved_by: vp }
      - { name: launch, from: 2026-11-01T00:00:00Z, until: 2027-01-01T00:00:00Z, daily: 80, reason: r, approved_by: vp }
)");
  const std::string launch_at = std::to_string(doc.line(8)) + ":9";
  const std::string promo_at = std::to_string(doc.line(9)) + ":9";
  const std::string later_at = std::to_string(doc.line(10)) + ":9";
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(
          error_at(doc.line(9), 30,
                   "from: override 'promo' overlaps override 'launch' (" + launch_at + ")"),
          error_at(doc.line(11), 17, "name: another override of this workflow is called 'launch'"),
          error_at(doc.line(11), 31, "overlaps override 'launch' (" + launch_at + ")"),
          error_at(doc.line(11), 31, "overlaps override 'promo' (" + promo_at + ")"),
          error_at(doc.line(11), 31, "overlaps override 'later' (" + later_at + ")")));
}

TEST(Overrides, TimesAreRfc3339) {
  const ConfigDoc doc = workflow_doc(R"(    budget: { daily: 10 }
    overrides:
      - { name: x, from: 2026-12-01, until: "next week", daily: 1, reason: r, approved_by: vp }
)");
  EXPECT_THAT(
      errors(load_doc(doc)),
      ElementsAre(
          error_at(doc.line(8), 26,
                   "from: '2026-12-01' is not an RFC 3339 time (like 2026-12-01T00:00:00Z)"),
          error_at(doc.line(8), 45, "until: 'next week' is not an RFC 3339 time")));
}

}  // namespace
}  // namespace spendwall::config
