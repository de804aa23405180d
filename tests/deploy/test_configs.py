#!/usr/bin/python3
"""`spendwall check` over every shipped config: deploy/examples/*.yaml, the container
image's default config and the config embedded in the Kubernetes ConfigMap (with its
price file). The ${VAR}s they reference get placeholder values. Warnings fail the test
unless the file announces them with a `# expected warning: MESSAGE` comment."""

import os
import re
import subprocess
import tempfile
from pathlib import Path

import yaml

from deploy_common import DEPLOY, REPO, Checks, env_references, find_object, placeholder_env, rel


def spendwall_binary() -> str | None:
    given = os.environ.get("SPENDWALL_BIN")
    if given:
        return given
    for candidate in sorted(REPO.glob("build*/proxy/spendwall")):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def expected_warnings(text: str) -> set[str]:
    return {m.strip() for m in re.findall(r"#\s*expected warning:\s*(.+)$", text, re.MULTILINE)}


def check_config(checks: Checks, binary: str, path: Path, label: str, base_env: dict) -> None:
    text = path.read_text(encoding="utf-8")
    variables = env_references(text)
    env = dict(base_env)
    env.update(placeholder_env(variables))
    run = subprocess.run([binary, "check", "-c", str(path)], capture_output=True, text=True, env=env,
                         timeout=120)
    output = (run.stdout + run.stderr).strip()
    if not checks.check(run.returncode == 0, f"spendwall check {label} exits 0:\n{output}"):
        return
    checks.check(f"{path}: ok" in run.stdout, f"spendwall check {label} says ok:\n{output}")
    warnings = {m.strip() for m in re.findall(r": warning: (.+)$", run.stderr, re.MULTILINE)}
    announced = expected_warnings(text)
    for warning in sorted(warnings - announced):
        checks.fail(f"{label}: unannounced warning: {warning}")
    for warning in sorted(announced - warnings):
        checks.fail(f"{label}: announces a warning `spendwall check` no longer gives: {warning}")
    if variables:
        # The variables really are needed: without them the same file is refused.
        missing = {k: v for k, v in env.items() if k not in variables}
        run = subprocess.run([binary, "check", "-c", str(path)], capture_output=True, text=True, env=missing,
                             timeout=120)
        checks.check(run.returncode == 1 and all(v in run.stderr for v in variables),
                     f"{label}: without {', '.join(variables)} `spendwall check` exits 1 naming them")


def main() -> None:
    checks = Checks("configs")
    binary = spendwall_binary()
    if not binary or not os.access(binary, os.X_OK):
        print(f"FAIL: no spendwall binary (SPENDWALL_BIN={binary}); build the spendwall target first")
        raise SystemExit(1)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("SPENDWALL_")}
    base_env.setdefault("ASAN_OPTIONS", "detect_leaks=1")

    examples = sorted((DEPLOY / "examples").glob("*.yaml"))
    checks.check(len(examples) >= 2, "deploy/examples has the example configs")
    simulated = [p for p in examples
                 if any(v.get("kind") == "simulated" for v in yaml.safe_load(p.read_text())["providers"].values())]
    checks.check(bool(simulated), "an example runs on the simulated provider (dry run)")
    kinds = {v.get("kind") for p in examples for v in yaml.safe_load(p.read_text())["providers"].values()}
    checks.check({"openai", "anthropic"} <= kinds, "an example uses OpenAI and Anthropic")
    for path in examples:
        check_config(checks, binary, path, rel(path), base_env)

    image_config = DEPLOY / "container" / "spendwall.yaml"
    check_config(checks, binary, image_config, rel(image_config), base_env)

    configmap = find_object("ConfigMap", "spendwall-config")
    if checks.check(configmap is not None, "the ConfigMap spendwall-config exists"):
        with tempfile.TemporaryDirectory() as folder:
            # The mounted folder: every data key is a file (spendwall.yaml includes prices.yaml).
            for key, value in configmap.get("data", {}).items():
                (Path(folder) / key).write_text(value, encoding="utf-8")
            path = Path(folder) / "spendwall.yaml"
            if checks.check(path.is_file(), "the ConfigMap has spendwall.yaml"):
                check_config(checks, binary, path, "the ConfigMap's spendwall.yaml", base_env)

    checks.finish()


if __name__ == "__main__":
    main()
