#!/usr/bin/python3
"""deploy/grafana/spendwall.json: a datasource variable, every query on it, only metrics
of metrics.md (names, labels, label values), every expression parsed by promtool, the
panels the operators need, and a layout without overlaps."""

import json
import re

from deploy_common import DEPLOY, Checks, check_promql_names, load_metrics, promtool_parse

DASHBOARD = DEPLOY / "grafana" / "spendwall.json"

# Grafana's own variables, replaced by something PromQL accepts before parsing.
GRAFANA_VARIABLES = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
    "__range_ms": "3600000", "__interval_ms": "60000",
}

# What the dashboard must show, by a pattern its expressions must match.
REQUIRED = {
    "spend by workflow": r"sum by \(workflow\) \(rate\(spendwall_cost_usd_total",
    "spend by owner": r"\* on \(workflow\) group_left\(owner\) .*spendwall_workflow_info",
    "budget utilization": r"spendwall_budget_spent_usd.*/.*spendwall_budget_limit_usd",
    "cost per accepted outcome": r"spendwall_cost_usd_total.*/.*spendwall_outcomes_total\{[^}]*outcome=\"accepted\"",
    "fallbacks by route and reason": r"sum by \(route, reason\) \(rate\(spendwall_fallbacks_total",
    "blind-spot share": r"spendwall_usage_estimated_total.*/.*spendwall_requests_total",
    "upstream latency percentiles": r"histogram_quantile\(.*spendwall_upstream_duration_seconds_bucket",
    "time to first token percentiles": r"histogram_quantile\(.*spendwall_time_to_first_token_seconds_bucket",
    "proxy overhead percentiles": r"histogram_quantile\(.*spendwall_proxy_overhead_seconds_bucket",
    "upstream errors by result": r"by \([^)]*result[^)]*\) \(rate\(spendwall_upstream_attempts_total",
}


def substitute(expr: str, custom: set[str]) -> str:
    def replace(match):
        name = match.group(1) or match.group(2)
        name = name.split(":")[0]
        if name in GRAFANA_VARIABLES:
            return GRAFANA_VARIABLES[name]
        if name in custom:
            return ".*"
        return match.group(0)
    return re.sub(r"\$\{([A-Za-z0-9_:]+)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, expr)


def flatten(panels):
    for panel in panels:
        yield panel
        yield from flatten(panel.get("panels", []))


def datasource_is_variable(datasource, variable: str) -> bool:
    if isinstance(datasource, str):
        return datasource in (f"${variable}", f"${{{variable}}}")
    if isinstance(datasource, dict):
        return datasource.get("uid") in (f"${variable}", f"${{{variable}}}")
    return False


def main() -> None:
    checks = Checks("grafana")
    metrics, source = load_metrics()
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    checks.check(bool(dashboard.get("title")), "the dashboard has a title")
    checks.check(bool(dashboard.get("uid")), "the dashboard has a fixed uid (stable links)")
    variables = dashboard.get("templating", {}).get("list", [])
    datasource_vars = [v["name"] for v in variables if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    checks.check(len(datasource_vars) == 1, "one Prometheus datasource template variable")
    ds_var = datasource_vars[0] if datasource_vars else "datasource"
    custom = {v["name"] for v in variables}

    exprs = []
    for variable in variables:
        if variable.get("type") != "query":
            continue
        checks.check(datasource_is_variable(variable.get("datasource"), ds_var),
                     f"variable {variable['name']} queries the datasource variable")
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query or "")
        if checks.check(match is not None, f"variable {variable['name']}: label_values(metric, label), not {query!r}"):
            metric = metrics.get(match.group(1))
            checks.check(metric is not None, f"variable {variable['name']}: `{match.group(1)}` is in metrics.md")
            if metric:
                checks.check(match.group(2) in metric.labels,
                             f"variable {variable['name']}: `{match.group(1)}` has label `{match.group(2)}`")

    panels = list(flatten(dashboard.get("panels", [])))
    ids = [p.get("id") for p in panels]
    checks.check(len(ids) == len(set(ids)) and None not in ids, "panel ids are set and unique")
    boxes = []
    for panel in panels:
        title = panel.get("title", "?")
        grid = panel.get("gridPos", {})
        checks.check(all(k in grid for k in "xywh") and grid.get("x", 0) + grid.get("w", 0) <= 24,
                     f"panel {title!r}: gridPos within 24 columns")
        boxes.append((title, grid))
        if panel.get("type") == "row":
            continue
        checks.check(datasource_is_variable(panel.get("datasource"), ds_var),
                     f"panel {title!r}: uses the ${ds_var} variable")
        targets = panel.get("targets", [])
        checks.check(bool(targets), f"panel {title!r}: has queries")
        for target in targets:
            checks.check(datasource_is_variable(target.get("datasource", panel.get("datasource")), ds_var),
                         f"panel {title!r} query {target.get('refId')}: uses the ${ds_var} variable")
            expr = target.get("expr", "")
            if not checks.check(bool(expr), f"panel {title!r}: query {target.get('refId')} has an expr"):
                continue
            where = f"panel {title!r} query {target.get('refId')}"
            parsed = substitute(expr, custom)
            checks.check("$" not in parsed, f"{where}: unknown variable in {expr!r}")
            for problem in check_promql_names(parsed, metrics, where):
                checks.fail(f"{problem} (table: {source})")
            exprs.append((where, parsed))

    for i, (title_a, a) in enumerate(boxes):
        for title_b, b in boxes[i + 1:]:
            overlap = (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and
                       a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])
            checks.check(not overlap, f"panels {title_a!r} and {title_b!r} do not overlap")

    for problem in promtool_parse(exprs):
        checks.fail(problem)
    if exprs:
        checks.passed += 1

    every = "\n".join(expr for _, expr in exprs)
    for what, pattern in REQUIRED.items():
        checks.check(re.search(pattern, every) is not None, f"the dashboard shows {what} (/{pattern}/)")

    checks.finish()


if __name__ == "__main__":
    main()
