#!/usr/bin/python3
"""yamllint (strict, the repository's .yamllint) over every YAML file of deploy/, the
.yamllint itself, and the YAML files embedded in the Kubernetes ConfigMap."""

import subprocess
import tempfile
from pathlib import Path

from deploy_common import DEPLOY, REPO, Checks, kubernetes_objects, rel, require_tool

CONFIG = REPO / ".yamllint"


def main() -> None:
    checks = Checks("yamllint")
    yamllint = require_tool("yamllint")
    checks.check(CONFIG.is_file(), ".yamllint exists at the repository root")

    files = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
    checks.check(len(files) >= 10, f"deploy/ has its YAML files ({len(files)} found)")
    run = subprocess.run([yamllint, "-c", str(CONFIG), "-s", "-f", "parsable", str(CONFIG), *map(str, files)],
                         capture_output=True, text=True, cwd=REPO)
    checks.check(run.returncode == 0, f"yamllint deploy/:\n{run.stdout}{run.stderr}")

    with tempfile.TemporaryDirectory() as folder:
        embedded = []
        for path, obj in kubernetes_objects():
            if obj.get("kind") != "ConfigMap":
                continue
            for key, value in obj.get("data", {}).items():
                if key.endswith((".yaml", ".yml")):
                    target = Path(folder) / f"{obj['metadata']['name']}--{key}"
                    target.write_text(value, encoding="utf-8")
                    embedded.append(target)
        checks.check(bool(embedded), "the ConfigMap embeds YAML files")
        if embedded:
            run = subprocess.run([yamllint, "-c", str(CONFIG), "-s", "-f", "parsable", *map(str, embedded)],
                                 capture_output=True, text=True)
            checks.check(run.returncode == 0,
                         f"yamllint on the ConfigMap's files ({', '.join(p.name for p in embedded)}):\n"
                         f"{run.stdout}{run.stderr}")
    print(f"note: linted {len(files)} files of {rel(DEPLOY)} and the ConfigMap's embedded files")
    checks.finish()


if __name__ == "__main__":
    main()
