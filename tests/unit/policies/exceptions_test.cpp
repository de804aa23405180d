#include "policies/exceptions.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "policies/budget_json.hpp"
#include "policy_test_support.hpp"

namespace spendwall::policies {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::at;
using testing::config_of;
using testing::kUsd;

constexpr std::string_view kName = "support-assistant";

config::WorkflowPolicy budgeted(config::OnExceeded action = config::OnExceeded::block) {
  config::BudgetSpec budget = testing::daily_budget(100 * kUsd, action);
  budget.timezone = "Europe/Berlin";
  budget.alert_at = {0.5, 0.8, 1.0};
  return testing::workflow(std::string(kName), budget);
}

config::OverrideSpec launch(TimePoint from, TimePoint until) {
  config::OverrideSpec spec;
  spec.name = "holiday-launch";
  spec.from = std::chrono::floor<std::chrono::seconds>(from);
  spec.until = std::chrono::floor<std::chrono::seconds>(until);
  spec.daily = 600 * kUsd;
  spec.reason = "Holiday launch traffic";
  spec.approved_by = "vp-platform";
  return spec;
}

/// A book and a detector over one workflow, driven like the control thread drives them.
struct Scenario {
  explicit Scenario(config::WorkflowPolicy policy, TimePoint start = at("2026-12-02T08:00:00Z"))
      : clock(start),
        config(config_of({std::move(policy)})),
        book(config, clock),
        detector(config, clock) {}

  /// A request that costs `cost`, admitted, settled and recorded.
  BudgetAction spend(NanoUsd cost, std::string_view provider = "openai",
                     std::string_view model = "gpt-4o") {
    book.roll(clock.now());  // the control thread rolls about every second
    Admission admission = book.admit(*book.find(kName), {cost, std::nullopt, {}});
    if (admission.admitted()) {
      book.settle(admission.reservation, cost);
      detector.record_spend({kName, provider, model, cost, clock.now()});
    }
    return admission.action;
  }
  std::vector<BudgetException> tick() {
    book.roll(clock.now());
    return detector.evaluate(book.views());
  }

  FakeClock clock;
  config::ConfigSnapshot config;
  BudgetBook book;
  ExceptionDetector detector;
};

std::vector<ExceptionKind> kinds(const std::vector<BudgetException>& events) {
  std::vector<ExceptionKind> result;
  for (const auto& event : events) result.push_back(event.kind);
  return result;
}

TEST(ExceptionDetector, ThresholdsFireOncePerFractionAndWindow) {
  config::WorkflowPolicy policy = budgeted();
  policy.decisions.threshold = "Owner confirms the movement is expected within 4h.";
  Scenario s(policy);
  s.spend(40 * kUsd);
  EXPECT_TRUE(s.tick().empty());
  s.spend(15 * kUsd, "anthropic", "claude-sonnet-4-5");
  auto events = s.tick();
  ASSERT_EQ(events.size(), 1u);
  const BudgetException half = events[0];
  EXPECT_EQ(half.kind, ExceptionKind::threshold);
  EXPECT_EQ(half.threshold, 0.5);
  EXPECT_EQ(half.workflow, kName);
  EXPECT_EQ(half.owner, "support-platform");
  EXPECT_EQ(half.contact, "#support-platform");
  EXPECT_EQ(half.window, WindowKind::daily);
  EXPECT_EQ(half.spent, 55 * kUsd);
  EXPECT_EQ(half.limit, 100 * kUsd);
  EXPECT_DOUBLE_EQ(half.utilization, 0.55);
  EXPECT_FALSE(half.planned);
  EXPECT_TRUE(half.notify);
  ASSERT_EQ(half.providers.size(), 2u);
  EXPECT_EQ(half.providers[0].provider, "openai");
  EXPECT_EQ(half.providers[0].spent, 40 * kUsd);
  EXPECT_EQ(half.providers[1].provider, "anthropic");
  ASSERT_TRUE(half.top_model);
  EXPECT_EQ(half.top_model->model, "gpt-4o");
  EXPECT_EQ(half.decision_rule, policy.decisions.threshold);
  EXPECT_EQ(half.next_action, policy.decisions.threshold);
  EXPECT_EQ(half.id.size(), 30u);
  EXPECT_EQ(half.id.rfind("exc_", 0), 0u);
  EXPECT_EQ(half.dedupe_key, "support-assistant|threshold|daily|1796166000|0.5");

  EXPECT_TRUE(s.tick().empty());
  s.spend(40 * kUsd);  // 95: crosses 0.8 only
  events = s.tick();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].threshold, 0.8);

  // The next Berlin day is a new window: its thresholds fire again.
  // (A day of history also makes 60 USD in an hour a spike, raised beside it.)
  s.clock.advance(hours(24));
  s.spend(60 * kUsd);
  events = s.tick();
  ASSERT_EQ(kinds(events), (std::vector{ExceptionKind::threshold, ExceptionKind::spike}));
  EXPECT_EQ(events[0].threshold, 0.5);
  EXPECT_NE(events[0].dedupe_key, half.dedupe_key);
}

TEST(ExceptionDetector, FiredKeysRestoredAfterARestartDoNotFireAgain) {
  Scenario s(budgeted());
  s.spend(85 * kUsd);
  const auto first = s.tick();
  ASSERT_EQ(first.size(), 2u);  // 0.5 and 0.8 at once

  ExceptionDetector restarted(s.config, s.clock);
  for (const auto& event : first) restarted.mark_fired(event.dedupe_key);
  EXPECT_TRUE(restarted.has_fired(first[0].dedupe_key));
  EXPECT_TRUE(restarted.evaluate(s.book.views()).empty());
  s.spend(15 * kUsd);
  const auto later = restarted.evaluate(s.book.views());
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].threshold, 1.0);
}

TEST(ExceptionDetector, ExceededOnTheFirstRefusalWithTheDefaultNextAction) {
  Scenario s(budgeted());
  s.spend(90 * kUsd);
  (void)s.tick();
  EXPECT_EQ(s.spend(20 * kUsd), BudgetAction::block);
  EXPECT_EQ(s.spend(20 * kUsd), BudgetAction::block);
  const auto events = s.tick();
  ASSERT_EQ(events.size(), 1u);
  const BudgetException& exceeded = events[0];
  EXPECT_EQ(exceeded.kind, ExceptionKind::exceeded);
  EXPECT_FALSE(exceeded.threshold);
  EXPECT_TRUE(exceeded.decision_rule.empty());
  EXPECT_NE(exceeded.next_action.find("Spendwall blocked requests over the daily limit"),
            std::string::npos)
      << exceeded.next_action;
  EXPECT_NE(exceeded.next_action.find("support-platform must decide"), std::string::npos);
  const auto* details = std::get_if<ExceededDetails>(&exceeded.details);
  ASSERT_NE(details, nullptr);
  EXPECT_EQ(details->action, BudgetAction::block);
  EXPECT_TRUE(s.tick().empty());
}

TEST(ExceptionDetector, DefaultNextActionNamesTheDowngradeRoute) {
  Scenario s(budgeted(config::OnExceeded::downgrade));
  s.spend(90 * kUsd);
  EXPECT_EQ(s.spend(20 * kUsd), BudgetAction::downgrade);
  auto events = s.tick();
  std::optional<BudgetException> exceeded;
  for (auto& event : events) {
    if (event.kind == ExceptionKind::exceeded) exceeded = event;
  }
  ASSERT_TRUE(exceeded);
  EXPECT_NE(exceeded->next_action.find("downgraded requests over the daily limit to chat-cheap"),
            std::string::npos)
      << exceeded->next_action;
  // Thresholds say what will happen at the limit.
  for (auto& event : events) {
    if (event.kind == ExceptionKind::threshold) {
      EXPECT_NE(event.next_action.find("downgrades requests to chat-cheap"), std::string::npos);
    }
  }
}

/// A week of 1 USD an hour before the scenario's start.
void record_quiet_week(Scenario& s) {
  s.detector.note_history_since(s.clock.now() - hours(24 * 8));
  for (int hour = 1; hour <= 7 * 24; ++hour) {
    s.detector.record_spend(
        {kName, "openai", "gpt-4o", 1 * kUsd, s.clock.now() - hours(hour) - minutes(30)});
  }
}

TEST(ExceptionDetector, SpikeOverTheBaselineRateAboveMinSpend) {
  Scenario s(budgeted());
  s.config.alerts.spike = {hours(1), hours(24 * 7), 3.0, 5 * kUsd};
  s.detector.apply(s.config);
  record_quiet_week(s);
  s.spend(4 * kUsd);  // 4× the baseline, but under min_spend
  EXPECT_TRUE(s.tick().empty());
  s.spend(6 * kUsd);
  const auto events = s.tick();
  ASSERT_EQ(kinds(events), std::vector<ExceptionKind>{ExceptionKind::spike});
  const BudgetException& spike = events[0];
  EXPECT_TRUE(spike.notify);
  EXPECT_FALSE(spike.planned);
  const auto* details = std::get_if<SpikeDetails>(&spike.details);
  ASSERT_NE(details, nullptr);
  EXPECT_EQ(details->window_spend, 10 * kUsd);
  EXPECT_NEAR(details->baseline_usd_per_hour, 1.0, 0.05);
  EXPECT_EQ(details->factor, 3.0);
  EXPECT_EQ(spike.dedupe_key, "support-assistant|spike|daily|1796166000|");
  s.spend(10 * kUsd);
  EXPECT_TRUE(kinds(s.tick()).empty());  // once a day
}

TEST(ExceptionDetector, SpikeNeedsHistory) {
  Scenario s(budgeted());
  s.spend(50 * kUsd);
  for (const auto& event : s.tick()) EXPECT_NE(event.kind, ExceptionKind::spike);
}

TEST(ExceptionDetector, SpikeDuringAnOverrideIsRecordedAsPlannedNotRaised) {
  config::WorkflowPolicy policy = budgeted();
  const TimePoint start = at("2026-12-02T08:00:00Z");
  policy.overrides = {launch(start - hours(2), start + hours(24))};
  Scenario s(policy, start);
  record_quiet_week(s);
  s.spend(20 * kUsd);
  const auto events = s.tick();
  std::optional<BudgetException> spike;
  for (const auto& event : events) {
    if (event.kind == ExceptionKind::spike) spike = event;
  }
  ASSERT_TRUE(spike);
  EXPECT_TRUE(spike->planned);
  EXPECT_FALSE(spike->notify);
  ASSERT_TRUE(spike->active_override);
  EXPECT_EQ(spike->active_override->name, "holiday-launch");
  EXPECT_EQ(spike->dedupe_key, "support-assistant|spike|daily|1796166000|planned");
}

TEST(ExceptionDetector, FallbackSurgeOverRatioAndMinRequests) {
  Scenario s(budgeted());
  const TimePoint now = s.clock.now();
  RouteTraffic chat{kName, "chat", 0, 0, {}};
  RouteTraffic cheap{kName, "chat-cheap", 0, 0, {}};
  RouteTraffic steady{kName, "chat-steady", 1000, 0, {}};
  for (RouteTraffic* traffic : {&chat, &cheap, &steady}) {
    s.detector.record_route_traffic(*traffic, now - minutes(10));
  }
  chat.requests = 100;
  chat.fell_back = 30;
  chat.reasons[static_cast<std::size_t>(config::FailureClass::rate_limited)] = 25;
  chat.reasons[static_cast<std::size_t>(config::FailureClass::server_error)] = 10;
  cheap.requests = 40;  // half fell back, but too few requests to mean anything
  cheap.fell_back = 20;
  steady.requests = 1200;  // 10 %
  steady.fell_back = 20;
  for (RouteTraffic* traffic : {&chat, &cheap, &steady})
    s.detector.record_route_traffic(*traffic, now);
  const auto events = s.tick();
  ASSERT_EQ(kinds(events), std::vector<ExceptionKind>{ExceptionKind::fallback_surge});
  const auto* details = std::get_if<FallbackSurgeDetails>(&events[0].details);
  ASSERT_NE(details, nullptr);
  EXPECT_EQ(details->route, "chat");
  EXPECT_DOUBLE_EQ(details->ratio, 0.3);
  EXPECT_EQ(details->requests, 100u);
  ASSERT_EQ(details->top_reasons.size(), 2u);
  EXPECT_EQ(details->top_reasons[0].first, config::FailureClass::rate_limited);
  EXPECT_EQ(details->top_reasons[0].second, 25u);
  EXPECT_NE(events[0].next_action.find("30% of the requests on route chat"), std::string::npos);
  EXPECT_TRUE(s.tick().empty());
}

TEST(ExceptionDetector, FallbackSurgeCountsOnlyTheWindow) {
  Scenario s(budgeted());
  const TimePoint now = s.clock.now();
  // A bad hour long ago, then a clean ten minutes.
  s.detector.record_route_traffic({kName, "chat", 0, 0, {}}, now - minutes(70));
  s.detector.record_route_traffic({kName, "chat", 500, 400, {}}, now - minutes(10));
  s.detector.record_route_traffic({kName, "chat", 600, 405, {}}, now);
  EXPECT_TRUE(s.tick().empty());
}

TEST(ExceptionDetector, OverrideStartAndEndAreRaisedOnce) {
  config::WorkflowPolicy policy = budgeted();
  const TimePoint start = at("2026-12-02T08:00:00Z");
  policy.overrides = {launch(start + hours(1), start + hours(2))};
  Scenario s(policy, start);
  EXPECT_TRUE(s.tick().empty());
  s.clock.advance(hours(1));
  auto events = s.tick();
  ASSERT_EQ(kinds(events), std::vector<ExceptionKind>{ExceptionKind::override_started});
  EXPECT_TRUE(events[0].planned);
  ASSERT_TRUE(events[0].active_override);
  EXPECT_EQ(events[0].limit, 600 * kUsd);
  EXPECT_NE(events[0].next_action.find("applies override holiday-launch"), std::string::npos);
  const std::string started_key = events[0].dedupe_key;
  EXPECT_TRUE(s.tick().empty());

  s.clock.advance(hours(1));
  events = s.tick();
  ASSERT_EQ(kinds(events), std::vector<ExceptionKind>{ExceptionKind::override_ended});
  EXPECT_FALSE(events[0].planned);
  EXPECT_FALSE(events[0].active_override);
  EXPECT_EQ(events[0].limit, 100 * kUsd);
  EXPECT_TRUE(s.tick().empty());

  // After a restart: the end is raised only for an override whose start was.
  ExceptionDetector knew_it(s.config, s.clock);
  knew_it.mark_fired(started_key);
  EXPECT_EQ(kinds(knew_it.evaluate(s.book.views())),
            std::vector<ExceptionKind>{ExceptionKind::override_ended});
  ExceptionDetector never_saw_it(s.config, s.clock);
  EXPECT_TRUE(never_saw_it.evaluate(s.book.views()).empty());
}

TEST(ExceptionJson, CarriesTheAdminApiFields) {
  config::WorkflowPolicy policy = budgeted();
  const TimePoint start = at("2026-12-02T09:14:03Z");
  policy.overrides = {launch(start - hours(1), start + hours(24 * 6))};
  Scenario s(policy, start);
  s.spend(480'020'000'000);  // 480.02 of 600
  const auto events = s.tick();
  std::optional<BudgetException> threshold;
  for (const auto& event : events) {
    if (event.kind == ExceptionKind::threshold && event.threshold == 0.8) threshold = event;
  }
  ASSERT_TRUE(threshold);
  const std::string text = exception_json(*threshold);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << text;
  EXPECT_EQ(std::string_view(root["id"]).substr(0, 4), "exc_");
  EXPECT_EQ(std::string_view(root["at"]), "2026-12-02T09:14:03Z");
  EXPECT_EQ(std::string_view(root["kind"]), "threshold");
  EXPECT_EQ(std::string_view(root["workflow"]), "support-assistant");
  EXPECT_EQ(std::string_view(root["owner"]), "support-platform");
  EXPECT_EQ(std::string_view(root["contact"]), "#support-platform");
  EXPECT_EQ(std::string_view(root["window"]), "daily");
  EXPECT_EQ(double(root["threshold"]), 0.8);
  EXPECT_EQ(double(root["spent_usd"]), 480.02);
  EXPECT_EQ(double(root["limit_usd"]), 600.0);
  EXPECT_NEAR(double(root["utilization"]), 0.8000333, 1e-6);
  EXPECT_EQ(std::string_view(root["override"]["name"]), "holiday-launch");
  EXPECT_EQ(std::string_view(root["override"]["approved_by"]), "vp-platform");
  EXPECT_EQ(std::string_view(root["override"]["until"]), "2026-12-08T09:14:03Z");
  EXPECT_TRUE(bool(root["planned"]));
  EXPECT_EQ(std::string_view(root["providers"].at(0)["provider"]), "openai");
  EXPECT_EQ(std::string_view(root["top_model"]["model"]), "gpt-4o");
  EXPECT_TRUE(root["decision_rule"].is_null());
  EXPECT_FALSE(std::string_view(root["next_action"]).empty());
  EXPECT_TRUE(root["details"].is_object());
}

TEST(BudgetJson, AdminBudgetsAndV1Budget) {
  config::WorkflowPolicy policy = budgeted();
  policy.budget->session_cap = 2 * kUsd;
  FakeClock clock(at("2026-12-02T10:00:00Z"));
  BudgetBook book(config_of({policy, testing::workflow("free", std::nullopt)}), clock);
  Admission admission = book.admit(*book.find(kName), {kUsd, std::nullopt, "run-42"});
  book.settle(admission.reservation, 310'000'000);

  std::string admin;
  metering::JsonWriter admin_json(admin);
  write_budgets_json(book.views(), clock.now(), admin_json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(admin).get(root), simdjson::SUCCESS) << admin;
  EXPECT_EQ(std::string_view(root["at"]), "2026-12-02T10:00:00Z");
  simdjson::dom::element first = root["workflows"].at(0);
  EXPECT_EQ(std::string_view(first["on_exceeded"]), "block");
  simdjson::dom::element daily = first["windows"].at(0);
  EXPECT_EQ(std::string_view(daily["window"]), "daily");
  EXPECT_EQ(std::string_view(daily["start"]), "2026-12-01T23:00:00Z");
  EXPECT_EQ(std::string_view(daily["end"]), "2026-12-02T23:00:00Z");
  EXPECT_EQ(double(daily["limit_usd"]), 100.0);
  EXPECT_EQ(double(daily["spent_usd"]), 0.31);
  EXPECT_EQ(double(daily["reserved_usd"]), 0.0);
  EXPECT_EQ(double(daily["remaining_usd"]), 99.69);
  EXPECT_TRUE(daily["override"].is_null());
  EXPECT_EQ(simdjson::dom::array(first["windows"]).size(), 1u);  // no monthly limit
  EXPECT_EQ(int64_t(first["sessions"]["active"]), 1);
  simdjson::dom::element free = root["workflows"].at(1);
  EXPECT_EQ(simdjson::dom::array(free["windows"]).size(), 0u);
  EXPECT_TRUE(free["on_exceeded"].is_null());

  std::string v1;
  metering::JsonWriter v1_json(v1);
  write_workflow_budget_json(*book.view(kName), book.session_view(kName, "run-42"), v1_json);
  ASSERT_EQ(parser.parse(v1).get(root), simdjson::SUCCESS) << v1;
  EXPECT_EQ(std::string_view(root["windows"].at(0)["resets_at"]), "2026-12-02T23:00:00Z");
  EXPECT_EQ(std::string_view(root["session"]["id"]), "run-42");
  EXPECT_EQ(double(root["session"]["cap_usd"]), 2.0);
  EXPECT_EQ(double(root["session"]["remaining_usd"]), 1.69);
  EXPECT_TRUE(root["decisions"].is_object());
}

}  // namespace
}  // namespace spendwall::policies
