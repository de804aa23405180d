// Workflows: keys, allowed routes, budgets, overrides and decision rules.
#include <algorithm>
#include <array>

#include "config/schema.hpp"

namespace spendwall::config::detail {
namespace {

using KeyHash = std::array<unsigned char, 32>;

constexpr std::string_view kKeyHashPrefix = "sha256:";

std::optional<KeyHash> parse_key_hash(std::string_view text) {
  if (!text.starts_with(kKeyHashPrefix)) return std::nullopt;
  text.remove_prefix(kKeyHashPrefix.size());
  KeyHash hash{};
  if (text.size() != hash.size() * 2) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hash.size(); ++i) {
    const int high = nibble(text[2 * i]);
    const int low = nibble(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    hash[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return hash;
}

template <class T>
bool contains(const std::vector<T>& values, const T& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

/// A key identifies its workflow, so it may belong to one only; the first workflow
/// that lists it keeps it.
void check_key_unique_across_workflows(Reader& reader, const std::string& workflow,
                                       const KeyHash& hash, SourceMark mark) {
  reader.check_when_complete([workflow, hash, mark](Reader& r, const WholeConfig& whole) {
    for (const auto& other : whole.config.workflows) {
      if (other.name == workflow) return;
      if (contains(other.key_hashes, hash)) {
        r.error(mark, "keys: this key hash already belongs to workflow '" + other.name + "'");
        return;
      }
    }
  });
}

bool read_keys(const Value& value, WorkflowPolicy& workflow) {
  bool valid = true;
  for (const auto& item : items(value)) {
    const auto text = as_string(item);
    if (!text) {
      valid = false;
      continue;
    }
    // The value is not echoed: someone may have pasted the key itself.
    const auto hash = parse_key_hash(*text);
    if (!hash) {
      item.error(
          "expected sha256: and 64 lowercase hex digits (the hash line of `spendwall keys new`)");
      valid = false;
    } else if (contains(workflow.key_hashes, *hash)) {
      item.error("this key hash is listed twice");
      valid = false;
    } else {
      workflow.key_hashes.push_back(*hash);
      check_key_unique_across_workflows(item.reader, workflow.name, *hash, item.mark());
    }
  }
  if (valid && workflow.key_hashes.empty()) {
    value.error("workflow '" + workflow.name + "' needs at least one key");
    return false;
  }
  return valid;
}

bool read_workflow_routes(const Value& value, WorkflowPolicy& workflow) {
  bool valid = true;
  SourceMark every_route_mark;
  for (const auto& item : items(value)) {
    auto name = as_nonempty_string(item);
    if (!name) {
      valid = false;
    } else if (*name == "*" ? workflow.all_routes : contains(workflow.routes, *name)) {
      item.error("'" + *name + "' is listed twice");
      valid = false;
    } else if (*name == "*") {
      workflow.all_routes = true;
      every_route_mark = item.mark();
    } else {
      item.reader.check_when_complete(
          [name = *name, mark = item.mark()](Reader& r, const WholeConfig& whole) {
            if (whole.routes_complete && !whole.config.find_route(name)) {
              r.error(mark, "routes: route '" + name + "' is not defined under routes");
            }
          });
      workflow.routes.push_back(std::move(*name));
    }
  }
  if (workflow.all_routes && !workflow.routes.empty()) {
    value.reader.error(every_route_mark,
                       "routes: '*' already allows every route; list nothing beside it");
    return false;
  }
  if (valid && workflow.routes.empty() && !workflow.all_routes) {
    value.error("list at least one route, or \"*\" for every route");
    return false;
  }
  return valid;
}

// --- budget ---

bool read_alert_at(const Value& value, BudgetSpec& budget) {
  bool valid = true;
  std::string previous;
  for (const auto& item : items(value)) {
    const auto fraction = as_fraction(item);
    if (!fraction) {
      valid = false;
    } else if (!budget.alert_at.empty() && *fraction <= budget.alert_at.back()) {
      item.error("fractions must increase (" + item.node.Scalar() + " follows " + previous + ")");
      valid = false;
    } else {
      budget.alert_at.push_back(*fraction);
      previous = item.node.Scalar();
    }
  }
  return valid;
}

constexpr std::array<Field<BudgetSpec>, 8> kBudgetFields{{
    {.key = "daily", .read = set<&BudgetSpec::daily, as_positive_usd>},
    {.key = "monthly", .read = set<&BudgetSpec::monthly, as_positive_usd>},
    {.key = "timezone", .read = set<&BudgetSpec::timezone, as_timezone>},
    {.key = "alert_at", .read = read_alert_at},
    {.key = "on_exceeded", .read = set<&BudgetSpec::on_exceeded, as_enum<OnExceeded, 3>>},
    {.key = "downgrade_to", .read = set<&BudgetSpec::downgrade_to, as_nonempty_string>},
    {.key = "ceiling", .read = set<&BudgetSpec::ceiling, as_at_least_one>},
    {.key = "session_cap", .read = set<&BudgetSpec::session_cap, as_positive_usd>},
}};

/// `downgrade_to` goes with `on_exceeded: downgrade` and must be a different route the
/// workflow may use, or downgrading would change nothing.
void check_downgrade(Reader& reader, const WorkflowPolicy& workflow, const BudgetSpec& budget,
                     const PresentKeys& keys) {
  const auto* on_exceeded = keys.find("on_exceeded");
  const auto* downgrade_to = keys.find("downgrade_to");
  if (on_exceeded != nullptr && !on_exceeded->valid) return;
  const bool downgrades = budget.on_exceeded == OnExceeded::downgrade;
  if (downgrades && downgrade_to == nullptr) {
    reader.error(on_exceeded->key_mark,
                 "on_exceeded: downgrade needs downgrade_to (the route to serve from)");
    return;
  }
  if (!downgrades && downgrade_to != nullptr) {
    reader.error(downgrade_to->key_mark, "downgrade_to applies only with on_exceeded: downgrade");
    return;
  }
  if (!downgrades || !downgrade_to->valid) return;

  const std::string& route = budget.downgrade_to;
  const SourceMark mark = downgrade_to->value_mark;
  const std::string only_route =
      "downgrade_to: '" + route +
      "' is the workflow's only route, so downgrading would change nothing";
  if (workflow.all_routes) {
    reader.check_when_complete([route, mark, only_route](Reader& r, const WholeConfig& whole) {
      if (!whole.routes_complete) return;
      if (!whole.config.find_route(route)) {
        r.error(mark, "downgrade_to: route '" + route + "' is not defined under routes");
      } else if (whole.config.routes.size() == 1) {
        r.error(mark, only_route);
      }
    });
  } else if (!workflow.routes.empty()) {
    if (!contains(workflow.routes, route)) {
      reader.error(mark, "downgrade_to: '" + route + "' is not one of the workflow's routes");
    } else if (workflow.routes.size() == 1) {
      reader.error(mark, only_route);
    }
  }
}

bool read_budget(const Value& value, WorkflowPolicy& workflow) {
  if (!expect_mapping(value)) return false;
  const std::size_t errors = value.reader.error_count();
  const std::string owner = "budget of workflow '" + workflow.name + "'";
  BudgetSpec budget;
  const auto keys = read_fields(value.described_as(owner), kBudgetFields, budget);
  if (!keys.has("daily") && !keys.has("monthly")) {
    value.reader.error(value.key_mark, owner + " needs a daily or monthly limit");
  }
  check_downgrade(value.reader, workflow, budget, keys);
  workflow.budget = std::move(budget);
  return value.reader.error_count() == errors;
}

// --- overrides ---

constexpr std::array<Field<OverrideSpec>, 7> kOverrideFields{{
    {.key = "name", .read = set<&OverrideSpec::name, as_nonempty_string>, .required = true},
    {.key = "from", .read = set<&OverrideSpec::from, as_timestamp>, .required = true},
    {.key = "until", .read = set<&OverrideSpec::until, as_timestamp>, .required = true},
    {.key = "daily", .read = set<&OverrideSpec::daily, as_positive_usd>},
    {.key = "monthly", .read = set<&OverrideSpec::monthly, as_positive_usd>},
    {.key = "reason", .read = set<&OverrideSpec::reason, as_nonempty_string>, .required = true},
    {.key = "approved_by",
     .read = set<&OverrideSpec::approved_by, as_nonempty_string>,
     .required = true},
}};

bool read_overrides(const Value& value, WorkflowPolicy& workflow) {
  const std::size_t errors = value.reader.error_count();
  const std::string owner = "override of workflow '" + workflow.name + "'";
  // Overrides whose period was read, to check the next ones against.
  std::vector<std::size_t> dated;
  for (const auto& item : items(value)) {
    OverrideSpec override_spec;
    override_spec.mark = item.mark();
    const auto keys = read_fields(item.described_as(owner), kOverrideFields, override_spec);
    if (!keys.has("daily") && !keys.has("monthly")) {
      value.reader.error(item.mark(), owner + " needs a daily or monthly limit");
    }
    const auto same_name = [&](const OverrideSpec& other) {
      return other.name == override_spec.name;
    };
    if (keys.valid("name") &&
        std::any_of(workflow.overrides.begin(), workflow.overrides.end(), same_name)) {
      value.reader.error(
          keys.find("name")->value_mark,
          "name: another override of this workflow is called '" + override_spec.name + "'");
    }
    if (keys.valid("from") && keys.valid("until")) {
      if (override_spec.from >= override_spec.until) {
        value.reader.error(keys.find("until")->value_mark, "until: must be after from");
      } else {
        // One limit at a time: two active overrides would leave it ambiguous.
        for (const std::size_t index : dated) {
          const OverrideSpec& other = workflow.overrides[index];
          if (override_spec.from < other.until && other.from < override_spec.until) {
            value.reader.error(keys.find("from")->value_mark,
                               "from: override '" + override_spec.name + "' overlaps override '" +
                                   other.name + "' (" + format_position(other.mark) + ")");
          }
        }
        dated.push_back(workflow.overrides.size());
      }
    }
    workflow.overrides.push_back(std::move(override_spec));
  }
  return value.reader.error_count() == errors;
}

// --- the workflow ---

constexpr std::array<Field<DecisionRules>, 4> kDecisionFields{{
    {.key = "threshold", .read = set<&DecisionRules::threshold, as_string>},
    {.key = "exceeded", .read = set<&DecisionRules::exceeded, as_string>},
    {.key = "spike", .read = set<&DecisionRules::spike, as_string>},
    {.key = "fallback_surge", .read = set<&DecisionRules::fallback_surge, as_string>},
}};

bool read_decisions(const Value& value, WorkflowPolicy& workflow) {
  const std::size_t errors = value.reader.error_count();
  const std::string owner = "decisions of workflow '" + workflow.name + "'";
  read_fields(value.described_as(owner), kDecisionFields, workflow.decisions);
  return value.reader.error_count() == errors;
}

constexpr std::array<Field<WorkflowPolicy>, 8> kWorkflowFields{{
    {.key = "owner", .read = set<&WorkflowPolicy::owner, as_nonempty_string>, .required = true},
    {.key = "contact", .read = set<&WorkflowPolicy::contact, as_string>},
    {.key = "keys", .read = read_keys, .required = true},
    // Before the budget, whose downgrade_to must be one of them.
    {.key = "routes", .read = read_workflow_routes, .required = true, .read_first = true},
    {.key = "budget", .read = read_budget},
    {.key = "overrides", .read = read_overrides},
    {.key = "decisions", .read = read_decisions},
    {.key = "review", .read = set<&WorkflowPolicy::review, as_nonempty_string>},
}};

}  // namespace

bool read_workflows(const Value& section, ConfigSnapshot& config) {
  if (!expect_mapping(section)) return false;
  for (const auto& entry : entries(section)) {
    check_name(section.reader, entry, "workflow");
    WorkflowPolicy workflow;
    workflow.name = entry.key;
    workflow.mark = entry.key_mark;
    const std::string owner = "workflow '" + entry.key + "'";
    const Value value = section.child(entry).described_as(owner);
    const auto keys = read_fields(value, kWorkflowFields, workflow);
    if (value.node.IsMap() && !keys.has("budget")) {
      section.reader.warning(entry.key_mark,
                             owner + " has no budget: its spend is metered but never limited");
    }
    config.workflows.push_back(std::move(workflow));
  }
  return true;
}

}  // namespace spendwall::config::detail
