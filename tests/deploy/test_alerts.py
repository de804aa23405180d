#!/usr/bin/python3
"""deploy/prometheus/alerts.yaml: promtool check + unit tests, every rule tested firing and
quiet, only metrics of metrics.md, annotations and runbook links, and the PrometheusRule
copy equal to it."""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml

from deploy_common import (DEPLOY, DOCS, Checks, check_promql_names, load_metrics, markdown_anchors,
                           require_tool)

ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yaml"
PROMETHEUS_RULE = DEPLOY / "kubernetes" / "prometheusrule.yaml"
RUNBOOK = DOCS / "runbook.md"

# What the alert rules must cover (PRODUCT.md §9 and the operator brief), by a metric each
# uses.
REQUIRED_COVERAGE = {
    "budget burn": "spendwall_budget_spent_usd",
    "spend spike": 'kind="spike"',
    "fallback surge": "spendwall_fallbacks_total",
    "estimated-usage share": "spendwall_usage_estimated_total",
    "config reload rejected": 'result="rejected"',
    "ledger write errors": "spendwall_ledger_write_errors_total",
    "proxy down": 'up{job="spendwall"} == 0',
}


def main() -> None:
    checks = Checks("alerts")
    promtool = require_tool("promtool")
    metrics, source = load_metrics()

    run = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    checks.check(run.returncode == 0, f"promtool check rules alerts.yaml:\n{run.stdout}{run.stderr}")
    run = subprocess.run([promtool, "test", "rules", ALERTS_TEST.name], capture_output=True, text=True,
                         cwd=ALERTS_TEST.parent)
    checks.check(run.returncode == 0, f"promtool test rules alerts_test.yaml:\n{run.stdout}{run.stderr}")

    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    alerts = [rule for rule in rules if "alert" in rule]
    checks.check(len(alerts) == len(rules), "alerts.yaml holds only alerting rules")
    names = [rule["alert"] for rule in alerts]
    checks.check(len(names) == len(set(names)), f"alert names are unique: {names}")

    runbook_text = RUNBOOK.read_text(encoding="utf-8") if RUNBOOK.is_file() else ""
    anchors = markdown_anchors(runbook_text)
    checks.check(RUNBOOK.is_file(), "docs/runbook.md exists")

    for rule in alerts:
        name = rule["alert"]
        checks.check(re.fullmatch(r"Spendwall[A-Z][A-Za-z]+", name) is not None,
                     f"{name}: alert names are SpendwallCamelCase")
        for problem in check_promql_names(rule["expr"], metrics, name, extra_metrics={"up"}):
            checks.fail(f"{problem} (table: {source})")
        labels = rule.get("labels", {})
        checks.check(labels.get("severity") in ("critical", "warning", "info"),
                     f"{name}: severity label is critical, warning or info")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            checks.check(bool(annotations.get(key)), f"{name}: has a `{key}` annotation")
        url = annotations.get("runbook_url", "")
        match = re.fullmatch(r"(?:.*/)?docs/runbook\.md#([a-z0-9-]+)", url)
        if checks.check(match is not None, f"{name}: runbook_url points into docs/runbook.md: {url!r}"):
            anchor = match.group(1)
            checks.check(anchor == name.lower(), f"{name}: runbook anchor is #{name.lower()}, not #{anchor}")
            checks.check(anchor in anchors, f"{name}: docs/runbook.md has no heading for #{anchor}")

    for what, needle in REQUIRED_COVERAGE.items():
        checks.check(any(needle in rule["expr"] for rule in alerts), f"an alert covers {what} ({needle})")
    burn = [rule for rule in alerts if "spendwall_budget_spent_usd" in rule["expr"]]
    for rule in burn:
        expr = rule["expr"]
        checks.check("spendwall_budget_limit_usd" in expr and "rate(spendwall_cost_usd_total" in expr,
                     f"{rule['alert']}: burn uses spent / limit and the rate of spendwall_cost_usd_total")
        windows = set(re.findall(r"rate\(spendwall_cost_usd_total\[(\w+)\]\)", expr))
        checks.check(len(windows) >= 2, f"{rule['alert']}: burn looks at two windows, not {sorted(windows)}")

    # Every rule is tested firing and quiet.
    tests = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))
    checks.check(tests.get("rule_files") == ["alerts.yaml"], "alerts_test.yaml loads alerts.yaml")
    firing, quiet = set(), set()
    for case in tests.get("tests", []):
        for evaluation in case.get("alert_rule_test", []):
            (firing if evaluation.get("exp_alerts") else quiet).add(evaluation["alertname"])
    for name in names:
        checks.check(name in firing, f"{name}: alerts_test.yaml has a case where it fires")
        checks.check(name in quiet, f"{name}: alerts_test.yaml has a case where it stays quiet")
    for name in sorted((firing | quiet) - set(names)):
        checks.fail(f"alerts_test.yaml tests `{name}`, which alerts.yaml does not define")

    # The runbook has an entry per alert and no stale ones.
    runbook_alerts = set(re.findall(r"^##+\s+(Spendwall[A-Za-z]+)\s*$", runbook_text, re.MULTILINE))
    for name in sorted(runbook_alerts - set(names)):
        checks.fail(f"docs/runbook.md has an entry for `{name}`, which alerts.yaml does not define")

    # The PrometheusRule carries the same groups and passes promtool too.
    operator_rule = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))
    checks.check(operator_rule.get("kind") == "PrometheusRule", "prometheusrule.yaml is a PrometheusRule")
    spec_groups = operator_rule.get("spec", {}).get("groups")
    checks.check(spec_groups == groups,
                 "prometheusrule.yaml spec.groups equals alerts.yaml groups (regenerate it: see its header)")
    with tempfile.TemporaryDirectory() as folder:
        extracted = Path(folder) / "prometheusrule-groups.yaml"
        extracted.write_text(yaml.safe_dump({"groups": spec_groups}), encoding="utf-8")
        run = subprocess.run([promtool, "check", "rules", str(extracted)], capture_output=True, text=True)
        checks.check(run.returncode == 0, f"promtool check rules on the PrometheusRule:\n{run.stdout}{run.stderr}")

    checks.finish()


if __name__ == "__main__":
    main()
