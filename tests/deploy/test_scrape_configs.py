#!/usr/bin/python3
"""The plain Prometheus scrape configs pass `promtool check config`, name the job the
alerts expect, and (Kubernetes) keep exactly the admin port of the admin Service."""

import re
import subprocess
import tempfile
from pathlib import Path

import yaml

from deploy_common import DEPLOY, Checks, find_object, require_tool

STATIC = DEPLOY / "prometheus" / "prometheus.yaml"
KUBERNETES = DEPLOY / "kubernetes" / "prometheus-scrape.yaml"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"


def promtool_check_config(promtool: str, config: dict, folder: Path) -> subprocess.CompletedProcess:
    path = folder / "prometheus.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True)


def meta_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def main() -> None:
    checks = Checks("scrape configs")
    promtool = require_tool("promtool")

    run = subprocess.run([promtool, "check", "config", STATIC.name], capture_output=True, text=True,
                         cwd=STATIC.parent)
    checks.check(run.returncode == 0, f"promtool check config prometheus.yaml:\n{run.stdout}{run.stderr}")
    static = yaml.safe_load(STATIC.read_text(encoding="utf-8"))
    checks.check([s.get("job_name") for s in static["scrape_configs"]] == ["spendwall"],
                 "prometheus.yaml: one job, named spendwall")
    checks.check(static.get("rule_files") == ["alerts.yaml"], "prometheus.yaml loads alerts.yaml")

    config = yaml.safe_load(KUBERNETES.read_text(encoding="utf-8"))
    jobs = config.get("scrape_configs", [])
    checks.check([j.get("job_name") for j in jobs] == ["spendwall"], "prometheus-scrape.yaml: one job, spendwall")
    # Point rule_files at the shipped rules so that promtool checks them together.
    config["rule_files"] = [str(ALERTS)]
    with tempfile.TemporaryDirectory() as folder:
        run = promtool_check_config(promtool, config, Path(folder))
        if run.returncode != 0 and "kubernetes_sd_configs not found" in run.stdout + run.stderr:
            # Debian's Prometheus is built without Kubernetes discovery: check the rest of
            # the file with a static target in its place.
            print("note: this promtool lacks kubernetes_sd_configs; checking with static_configs instead")
            for job in config["scrape_configs"]:
                sd = job.pop("kubernetes_sd_configs", [])
                checks.check(all(s.get("role") in ("endpoints", "endpointslice", "pod", "service") for s in sd),
                             "kubernetes_sd_configs: a valid role")
                job["static_configs"] = [{"targets": ["127.0.0.1:9090"]}]
            run = promtool_check_config(promtool, config, Path(folder))
        checks.check(run.returncode == 0, f"promtool check config prometheus-scrape.yaml:\n{run.stdout}{run.stderr}")

    # The keep rule matches the admin Service's labels and port name, and not the data one.
    services = [find_object("Service", "spendwall-admin"), find_object("Service", "spendwall")]
    checks.check(all(services), "the Services spendwall and spendwall-admin exist")
    keep = [r for job in jobs for r in job.get("relabel_configs", []) if r.get("action") == "keep"]
    if checks.check(len(keep) == 1, "prometheus-scrape.yaml: one keep rule") and all(services):
        rule = keep[0]
        separator = rule.get("separator", ";")

        def value_of(service, port, source):
            labels = service["metadata"].get("labels", {})
            for key, value in labels.items():
                if source == f"__meta_kubernetes_service_label_{meta_label(key)}":
                    return value
            if source == "__meta_kubernetes_endpoint_port_name":
                return port.get("name", "")
            if source == "__meta_kubernetes_service_name":
                return service["metadata"]["name"]
            return ""

        for service in services:
            for port in service["spec"]["ports"]:
                joined = separator.join(value_of(service, port, s) for s in rule["source_labels"])
                kept = re.fullmatch(rule["regex"], joined) is not None
                should = service["metadata"]["name"] == "spendwall-admin"
                checks.check(kept == should, f"keep rule {'keeps' if should else 'drops'} "
                                             f"{service['metadata']['name']}:{port.get('name')} ({joined!r})")

    checks.finish()


if __name__ == "__main__":
    main()
