#pragma once

#include <optional>
#include <vector>

#include "metering/json_writer.hpp"
#include "policies/budget_book.hpp"
#include "policies/clock.hpp"

/// The budget documents of admin-api.md, written from BudgetBook views.
/// Thread-safety: pure functions.
namespace spendwall::policies {

/// `GET /admin/budgets`: every workflow, each with the windows that have a limit
/// (`"windows": []` for one without a budget), and its session counts.
void write_budgets_json(const std::vector<WorkflowBudgetView>& views, TimePoint at,
                        metering::JsonWriter& json);

/// `GET /v1/budget` for the calling workflow; `session` is null when absent (no
/// `x-spendwall-session` header, or no `session_cap`).
void write_workflow_budget_json(const WorkflowBudgetView& view,
                                const std::optional<SessionView>& session,
                                metering::JsonWriter& json);

}  // namespace spendwall::policies
