"""Shared helpers of the deploy tests: paths, the metric table, a PromQL name scanner,
promtool, Markdown anchors and a small failure collector.

Stdlib and python3-yaml only; run by /usr/bin/python3.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(os.environ.get("SPENDWALL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DEPLOY = REPO / "deploy"
DOCS = REPO / "docs"
TEST_DATA = REPO / "tests" / "data" / "deploy"
METRICS_SPEC = Path(os.environ.get("SPENDWALL_METRICS_SPEC", "/work/shared/spec/metrics.md"))
METRICS_COPY = TEST_DATA / "metrics.txt"


# --- failures -----------------------------------------------------------------------------

class Checks:
    """Collects failures so that one run reports every problem, like `spendwall check`."""

    def __init__(self, name: str):
        self.name = name
        self.failures: list[str] = []
        self.passed = 0

    def check(self, condition: bool, message: str) -> bool:
        if condition:
            self.passed += 1
        else:
            self.failures.append(message)
        return bool(condition)

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def finish(self) -> None:
        for failure in self.failures:
            print(f"FAIL: {failure}")
        print(f"{self.name}: {self.passed} checks passed, {len(self.failures)} failed")
        sys.exit(1 if self.failures else 0)


def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO.resolve()))
    except ValueError:
        return str(path)


def load_yaml_documents(path: Path) -> list:
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        print(f"FAIL: `{name}` is not installed (scripts/install-deps.sh installs it)")
        sys.exit(1)
    return found


# --- durations ----------------------------------------------------------------------------

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text) -> float:
    """Seconds of a config duration such as 500ms, 30s, 5m, 1h, 7d (a bare number: seconds)."""
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]


# --- the metric table ---------------------------------------------------------------------

@dataclass
class Metric:
    name: str
    type: str
    labels: tuple[str, ...]


def parse_metrics_spec(text: str) -> dict[str, Metric]:
    metrics = {}
    for line in text.splitlines():
        match = re.match(r"^\|\s*`(spendwall_[a-z0-9_]+)`\s*\|\s*([a-z]+)[^|]*\|([^|]*)\|", line)
        if match:
            labels = tuple(l.strip() for l in match.group(3).split(",") if l.strip())
            metrics[match.group(1)] = Metric(match.group(1), match.group(2), labels)
    return metrics


def parse_metrics_copy(text: str) -> dict[str, Metric]:
    metrics = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, kind, labels = line.split()
        metrics[name] = Metric(name, kind, tuple(l for l in labels.split(",") if l and l != "-"))
    return metrics


def load_metrics() -> tuple[dict[str, Metric], str]:
    """The metric table of the specification when it is present, else the copy kept here."""
    if METRICS_SPEC.is_file():
        metrics = parse_metrics_spec(METRICS_SPEC.read_text(encoding="utf-8"))
        if metrics:
            return metrics, str(METRICS_SPEC)
    return parse_metrics_copy(METRICS_COPY.read_text(encoding="utf-8")), rel(METRICS_COPY)


# Values a matcher may compare these labels with (from the specification's text); a typo in
# one would make a rule or a panel silently match nothing.
KNOWN_LABEL_VALUES = {
    ("spendwall_exceptions_total", "kind"): {
        "threshold", "exceeded", "spike", "override_started", "override_ended", "fallback_surge"},
    ("spendwall_config_reloads_total", "result"): {"ok", "rejected"},
    ("spendwall_alert_deliveries_total", "result"): {"ok", "retry", "failed"},
    ("spendwall_budget_actions_total", "action"): {"blocked", "downgraded", "alerted", "session_blocked"},
    ("spendwall_upstream_attempts_total", "result"): {
        "ok", "rate_limited", "server_error", "timeout", "connect_error", "context_length", "client_error"},
    ("spendwall_fallbacks_total", "reason"): {
        "rate_limited", "server_error", "timeout", "connect_error", "context_length"},
    ("spendwall_tokens_total", "type"): {"input", "cached_input", "cache_write", "output", "reasoning"},
    ("spendwall_upstream_connections", "state"): {"idle", "active"},
    ("*", "window"): {"daily", "monthly"},
}

# Labels Prometheus itself adds to every scraped series (the shipped scrape configs add
# namespace and pod in Kubernetes).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "environment"}


# --- PromQL scanning ----------------------------------------------------------------------

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless", "inf", "nan", "atan2"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile"}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],:@])
""", re.VERBOSE)


@dataclass
class Selector:
    metric: str | None
    matchers: list[tuple[str, str, str]] = field(default_factory=list)  # (label, op, value)


@dataclass
class Scan:
    selectors: list[Selector]
    grouping_labels: set[str]
    functions: set[str]
    made_labels: set[str]


def tokenize(expr: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if not match:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r}")
        pos = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group()))
    return tokens


def _unquote(text: str) -> str:
    return text[1:-1]


def scan_promql(expr: str) -> Scan:
    """Metric selectors, grouping labels and functions of a PromQL expression."""
    tokens = tokenize(expr)
    selectors: list[Selector] = []
    grouping: set[str] = set()
    functions: set[str] = set()
    made: set[str] = set()
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        following = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if kind == "ident" and text in GROUPING:
            if following == "(":
                i += 2
                while i < len(tokens) and tokens[i][1] != ")":
                    if tokens[i][0] == "ident":
                        grouping.add(tokens[i][1])
                    i += 1
            i += 1
            continue
        if kind == "ident" and text in KEYWORDS:
            i += 1
            continue
        if kind == "ident" and (following == "(" or text in AGGREGATIONS):
            functions.add(text)
            if text in ("label_replace", "label_join"):
                # The destination label is the first string argument.
                for j in range(i + 2, len(tokens)):
                    if tokens[j][0] == "string":
                        made.add(_unquote(tokens[j][1]))
                        break
            i += 1
            continue
        if kind == "ident" or (kind == "op" and text == "{"):
            selector = Selector(text if kind == "ident" else None)
            i += 1 if kind == "ident" else 0
            if i < len(tokens) and tokens[i][1] == "{":
                i += 1
                while i < len(tokens) and tokens[i][1] != "}":
                    if tokens[i][0] == "ident" and i + 2 < len(tokens):
                        selector.matchers.append((tokens[i][1], tokens[i + 1][1], _unquote(tokens[i + 2][1])))
                        i += 3
                    else:
                        i += 1
                i += 1
            selectors.append(selector)
            continue
        if kind == "op" and text == "[":
            while i < len(tokens) and tokens[i][1] != "]":
                i += 1
            i += 1
            continue
        i += 1
    return Scan(selectors, grouping, functions, made)


def base_metric(name: str, metrics: dict[str, Metric]) -> tuple[Metric | None, str]:
    """The table entry a series name belongs to, and the suffix (_bucket, _sum, _count)."""
    if name in metrics:
        return metrics[name], ""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            metric = metrics.get(name[: -len(suffix)])
            if metric and metric.type == "histogram":
                return metric, suffix
    return None, ""


def check_promql_names(expr: str, metrics: dict[str, Metric], where: str, extra_metrics=()) -> list[str]:
    """Problems with the names in `expr`: unknown metrics, labels or label values."""
    problems = []
    try:
        scan = scan_promql(expr)
    except ValueError as error:
        return [f"{where}: {error}"]
    known_labels = set(TARGET_LABELS) | scan.made_labels
    for selector in scan.selectors:
        if selector.metric is None:
            problems.append(f"{where}: a selector without a metric name")
            continue
        if selector.metric in extra_metrics:
            known_labels |= {label for label, _, _ in selector.matchers}
            continue
        metric, suffix = base_metric(selector.metric, metrics)
        if metric is None:
            problems.append(f"{where}: `{selector.metric}` is not a metric of metrics.md")
            continue
        labels = set(metric.labels) | TARGET_LABELS | ({"le"} if suffix == "_bucket" else set())
        known_labels |= labels
        for label, op, value in selector.matchers:
            if label not in labels:
                problems.append(f"{where}: `{selector.metric}` has no label `{label}`")
                continue
            allowed = KNOWN_LABEL_VALUES.get((metric.name, label)) or KNOWN_LABEL_VALUES.get(("*", label))
            if allowed and op in ("=", "!="):
                if value not in allowed:
                    problems.append(f"{where}: {label}=\"{value}\" is not a value of `{metric.name}`")
            elif allowed and op in ("=~", "!~") and re.fullmatch(r"[A-Za-z0-9_|]+", value):
                for part in value.split("|"):
                    if part not in allowed:
                        problems.append(f"{where}: {label}=~\"{part}\" is not a value of `{metric.name}`")
    for label in sorted(scan.grouping_labels - known_labels):
        problems.append(f"{where}: groups by `{label}`, which none of its metrics has")
    return problems


def promtool_parse(exprs: list[tuple[str, str]]) -> list[str]:
    """Runs `promtool check rules` over the expressions as recording rules: their parse errors."""
    promtool = require_tool("promtool")
    rules = [{"record": f"spendwall_check_expr_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exprs.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}), encoding="utf-8")
        run = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    if run.returncode == 0:
        return []
    output = (run.stdout + run.stderr).strip()
    problems = [f"promtool check rules failed:\n{output}"]
    # Name the expressions promtool refers to by index.
    for index in sorted({int(n) for n in re.findall(r"spendwall_check_expr_(\d+)", output)}):
        problems.append(f"  expression {index} is {exprs[index][0]}: {exprs[index][1]}")
    return problems


# --- Markdown -----------------------------------------------------------------------------

def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def markdown_anchors(text: str) -> set[str]:
    anchors, seen = set(), {}
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            anchors.add(slug if count == 0 else f"{slug}-{count}")
            seen[slug] = count + 1
    anchors |= set(re.findall(r'<a (?:name|id)="([^"]+)"', text))
    return anchors


def markdown_headings(text: str, level: int) -> list[str]:
    headings, in_fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence and line.startswith("#" * level + " "):
            headings.append(line[level + 1:].strip())
    return headings


def fenced_blocks(text: str, languages: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line number, body) of the fenced code blocks in one of `languages`."""
    blocks, current, start, lang = [], None, 0, None
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            match = re.match(r"^\s*```\s*([A-Za-z0-9_+-]*)", line)
            if match:
                current, start, lang = [], number, match.group(1)
        elif re.match(r"^\s*```\s*$", line):
            if lang in languages:
                blocks.append((start, "\n".join(current)))
            current = None
        else:
            current.append(line)
    return blocks


# --- the config embedded in the ConfigMap -------------------------------------------------

def kubernetes_objects() -> list[tuple[Path, dict]]:
    objects = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in load_yaml_documents(path):
            if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc:
                objects.append((path, doc))
    return objects


def find_object(kind: str, name: str | None = None) -> dict | None:
    for _, obj in kubernetes_objects():
        if obj.get("kind") == kind and (name is None or obj.get("metadata", {}).get("name") == name):
            return obj
    return None


def env_references(text: str) -> list[str]:
    """The ${VAR} names a config takes from the environment (comments skipped)."""
    names = []
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        names += re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", line)
    return sorted(set(names))


def placeholder_env(names) -> dict[str, str]:
    env = {}
    for name in names:
        env[name] = "https://hooks.example.invalid/spendwall" if name.endswith("_URL") else f"placeholder-{name.lower()}"
    return env
