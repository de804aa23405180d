#!/usr/bin/python3
"""The operator guides in docs/: present and linked from the README's Documentation
section, their relative links and anchors resolve, every metric they name is in
metrics.md, and their code blocks are valid (YAML parses, PromQL passes promtool, Python
compiles, shell passes `bash -n`, JavaScript passes `node --check` when node exists)."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from deploy_common import (DOCS, REPO, Checks, base_metric, check_promql_names, fenced_blocks, load_metrics,
                           markdown_anchors, promtool_parse, rel)

GUIDES = ["platform-guide.md", "sre-guide.md", "developer-guide.md", "runbook.md"]
README = REPO / "README.md"


def documentation_section(text: str) -> str:
    match = re.search(r"^## Documentation\s*$(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def links(text: str) -> list[str]:
    without_code = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    without_code = re.sub(r"`[^`]*`", "", without_code)
    return re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", without_code)


def main() -> None:
    checks = Checks("docs")
    metrics, source = load_metrics()
    guides = [DOCS / name for name in GUIDES]
    for guide in guides:
        checks.check(guide.is_file(), f"{rel(guide)} exists")
    guides = [g for g in guides if g.is_file()]

    section = documentation_section(README.read_text(encoding="utf-8"))
    checks.check(bool(section), "README.md has a Documentation section")
    for name in GUIDES:
        checks.check(f"(docs/{name})" in section, f"README's Documentation section links docs/{name}")

    anchors_of: dict[Path, set[str]] = {}

    def anchors(path: Path) -> set[str]:
        if path not in anchors_of:
            anchors_of[path] = markdown_anchors(path.read_text(encoding="utf-8"))
        return anchors_of[path]

    for document in [README, *guides]:
        text = document.read_text(encoding="utf-8")
        for link in links(text):
            if re.match(r"^[a-z]+:", link):
                continue  # absolute URLs: not checked offline
            target, _, anchor = link.partition("#")
            path = (document.parent / target).resolve() if target else document
            if not checks.check(path.exists(), f"{rel(document)}: link {link} resolves"):
                continue
            if anchor and path.suffix == ".md":
                checks.check(anchor in anchors(path), f"{rel(document)}: link {link}: no such heading")

    promql = []
    for guide in guides:
        text = guide.read_text(encoding="utf-8")
        for name in sorted(set(re.findall(r"\bspendwall_[a-z0-9_]*[a-z0-9]\b", text))):
            metric, _ = base_metric(name, metrics)
            checks.check(metric is not None, f"{rel(guide)}: `{name}` is not a metric of metrics.md ({source})")
        for line, body in fenced_blocks(text, ("yaml", "yml")):
            try:
                list(yaml.safe_load_all(body))
                checks.passed += 1
            except yaml.YAMLError as error:
                checks.fail(f"{rel(guide)}:{line}: YAML block does not parse: {error}")
        for line, body in fenced_blocks(text, ("promql",)):
            for offset, expr in enumerate(e for e in re.split(r"\n\s*\n", body) if e.strip()):
                where = f"{rel(guide)}:{line} PromQL #{offset + 1}"
                expr = re.sub(r"^\s*#.*$", "", expr, flags=re.MULTILINE).strip()
                for problem in check_promql_names(expr, metrics, where, extra_metrics={"up"}):
                    checks.fail(problem)
                promql.append((where, expr))
        for line, body in fenced_blocks(text, ("python", "py")):
            try:
                compile(body, f"{guide.name}:{line}", "exec")
                checks.passed += 1
            except SyntaxError as error:
                checks.fail(f"{rel(guide)}:{line}: Python block does not compile: {error}")
        for line, body in fenced_blocks(text, ("sh", "bash", "shell")):
            run = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
            checks.check(run.returncode == 0, f"{rel(guide)}:{line}: shell block: {run.stderr.strip()}")
        node = shutil.which("node")
        for line, body in fenced_blocks(text, ("js", "javascript", "mjs")):
            if not node:
                continue
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "snippet.mjs"
                path.write_text(body, encoding="utf-8")
                run = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
                checks.check(run.returncode == 0, f"{rel(guide)}:{line}: JavaScript block: {run.stderr.strip()}")
    for problem in promtool_parse(promql) if promql else []:
        checks.fail(problem)

    # The developer guide shows both SDKs in both languages.
    developer = DOCS / "developer-guide.md"
    if developer.is_file():
        text = developer.read_text(encoding="utf-8")
        python = "\n".join(body for _, body in fenced_blocks(text, ("python", "py")))
        js = "\n".join(body for _, body in fenced_blocks(text, ("js", "javascript", "mjs")))
        checks.check("from openai import" in python, "developer guide: OpenAI Python SDK snippet")
        checks.check("import anthropic" in python or "from anthropic import" in python,
                     "developer guide: Anthropic Python SDK snippet")
        checks.check('from "openai"' in js, "developer guide: OpenAI Node SDK snippet")
        checks.check('from "@anthropic-ai/sdk"' in js, "developer guide: Anthropic Node SDK snippet")
        for header in ("x-spendwall-tags", "x-spendwall-session", "/v1/feedback", "/v1/budget"):
            checks.check(header in text, f"developer guide: explains {header}")

    checks.finish()


if __name__ == "__main__":
    main()
