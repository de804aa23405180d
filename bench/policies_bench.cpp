// Budget admission and settlement: the per-request cost of policies/ on the hot path,
// single-threaded and with every thread contending for one workflow's ledgers.
#include <benchmark/benchmark.h>

#include <string>

#include "config/config.hpp"
#include "policies/budget_book.hpp"
#include "policies/clock.hpp"
#include "policies/worst_case.hpp"

namespace {

using spendwall::config::kNanoPerUsd;
namespace policies = spendwall::policies;

/// One workflow with a daily and a monthly limit large enough never to refuse, and a
/// session cap; built once and shared by every benchmark thread.
struct Harness {
  Harness() : clock(std::chrono::system_clock::now()), book(make_config(), clock) {
    workflow = book.find("bench");
  }

  static spendwall::config::ConfigSnapshot make_config() {
    spendwall::config::BudgetSpec budget;
    budget.daily = kNanoPerUsd * 1'000'000'000;
    budget.monthly = kNanoPerUsd * 2'000'000'000;
    budget.session_cap = kNanoPerUsd * 1'000'000'000;
    spendwall::config::WorkflowPolicy policy;
    policy.name = "bench";
    policy.owner = "bench";
    policy.budget = budget;
    spendwall::config::ConfigSnapshot config;
    config.workflows.push_back(policy);
    return config;
  }

  policies::FakeClock clock;
  policies::BudgetBook book;
  policies::WorkflowBudget* workflow = nullptr;
};

Harness& harness() {
  static Harness shared;
  return shared;
}

void admit_and_settle(benchmark::State& state, std::string_view session) {
  Harness& h = harness();
  const policies::AdmissionRequest request{2'000'000, std::nullopt, session};
  for (auto _ : state) {
    policies::Admission admission = h.book.admit(*h.workflow, request);
    benchmark::DoNotOptimize(admission);
    h.book.settle(admission.reservation, 1'000'000);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_AdmitSettle(benchmark::State& state) { admit_and_settle(state, {}); }
void BM_AdmitSettleWithSession(benchmark::State& state) {
  // One session per thread: the session table is exercised, not one contended entry.
  const std::string session = "run-" + std::to_string(state.thread_index());
  admit_and_settle(state, session);
}

void BM_WorstCaseCost(benchmark::State& state) {
  const policies::InputSize input{.text_bytes = 12'000, .message_count = 8, .media_parts = 1};
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        policies::worst_case_cost(input, 1024, 1500, 3'750'000'000, 15'000'000'000));
  }
}

BENCHMARK(BM_AdmitSettle)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_AdmitSettleWithSession)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(BM_WorstCaseCost);

}  // namespace

BENCHMARK_MAIN();
