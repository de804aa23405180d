#include "policies/budget_json.hpp"

#include "policies/time_text.hpp"

namespace spendwall::policies {
namespace {

enum class Audience { admin, workflow };

void write_window(const WindowView& window, Audience audience, metering::JsonWriter& json) {
  json.begin_object();
  json.key("window").string(to_string(window.kind));
  if (audience == Audience::admin) {
    json.key("start").string(rfc3339(window.bounds.start));
    json.key("end").string(rfc3339(window.bounds.end));
  }
  json.key("limit_usd").usd(window.limit.value_or(0));
  json.key("spent_usd").usd(window.spent);
  json.key("reserved_usd").usd(window.reserved);
  json.key("remaining_usd").usd(window.remaining);
  json.key("utilization").number(window.utilization);
  json.key("resets_at").string(rfc3339(window.bounds.end));
  json.key("override");
  window.override_name.empty() ? json.null() : json.string(window.override_name);
  if (audience == Audience::admin) json.key("overshoot_usd").usd(window.overshoot);
  json.end_object();
}

void write_windows(const WorkflowBudgetView& view, Audience audience, metering::JsonWriter& json) {
  json.key("windows").begin_array();
  for (const WindowView& window : view.windows) {
    if (window.limit) write_window(window, audience, json);
  }
  json.end_array();
}

}  // namespace

void write_budgets_json(const std::vector<WorkflowBudgetView>& views, TimePoint at,
                        metering::JsonWriter& json) {
  json.begin_object();
  json.key("at").string(rfc3339(at));
  json.key("workflows").begin_array();
  for (const WorkflowBudgetView& view : views) {
    json.begin_object();
    json.key("workflow").string(view.workflow);
    json.key("owner").string(view.owner);
    json.key("contact").string(view.contact);
    json.key("on_exceeded");
    view.has_budget ? json.string(config::to_string(view.on_exceeded)) : json.null();
    write_windows(view, Audience::admin, json);
    json.key("sessions").begin_object();
    json.key("active").integer(view.sessions.active);
    json.key("capped").integer(view.sessions.capped);
    json.end_object();
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

void write_workflow_budget_json(const WorkflowBudgetView& view,
                                const std::optional<SessionView>& session,
                                metering::JsonWriter& json) {
  json.begin_object();
  json.key("workflow").string(view.workflow);
  json.key("owner").string(view.owner);
  json.key("on_exceeded");
  view.has_budget ? json.string(config::to_string(view.on_exceeded)) : json.null();
  write_windows(view, Audience::workflow, json);
  json.key("session");
  if (session) {
    json.begin_object();
    json.key("id").string(session->id);
    json.key("cap_usd").usd(session->cap);
    json.key("spent_usd").usd(session->spent);
    json.key("reserved_usd").usd(session->reserved);
    json.key("remaining_usd").usd(session->remaining);
    json.end_object();
  } else {
    json.null();
  }
  json.key("decisions").begin_object();
  json.key("threshold").string(view.decisions.threshold);
  json.key("exceeded").string(view.decisions.exceeded);
  json.key("spike").string(view.decisions.spike);
  json.key("fallback_surge").string(view.decisions.fallback_surge);
  json.end_object();
  json.end_object();
}

}  // namespace spendwall::policies
