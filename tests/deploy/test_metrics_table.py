#!/usr/bin/python3
"""tests/data/deploy/metrics.txt, the copy of the metric table the deploy tests use where
the specification is absent, still matches the specification's metrics.md."""

from deploy_common import METRICS_COPY, METRICS_SPEC, Checks, parse_metrics_copy, parse_metrics_spec, rel


def main() -> None:
    checks = Checks("metrics table")
    copy = parse_metrics_copy(METRICS_COPY.read_text(encoding="utf-8"))
    checks.check(len(copy) > 0, f"{rel(METRICS_COPY)} lists metrics")
    if not METRICS_SPEC.is_file():
        print(f"note: {METRICS_SPEC} is absent; the deploy tests use {rel(METRICS_COPY)}")
        checks.finish()
    spec = parse_metrics_spec(METRICS_SPEC.read_text(encoding="utf-8"))
    checks.check(len(spec) > 0, f"{METRICS_SPEC} has a metric table")
    for name in sorted(set(spec) | set(copy)):
        if checks.check(name in spec and name in copy,
                        f"{name}: in both {METRICS_SPEC.name} and {rel(METRICS_COPY)} (update the copy)"):
            checks.check(spec[name] == copy[name], f"{name}: same type and labels in both ({spec[name]} vs {copy[name]})")
    checks.finish()


if __name__ == "__main__":
    main()
