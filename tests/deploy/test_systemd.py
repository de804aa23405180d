#!/usr/bin/python3
"""deploy/systemd/spendwall.service: the sandboxing and lifecycle directives, a stop timeout
above every shipped drain_timeout, and (where systemd-analyze exists) `verify` plus an
offline `security` score."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from deploy_common import DEPLOY, REPO, Checks, find_object, parse_duration

UNIT = DEPLOY / "systemd" / "spendwall.service"
DEFAULT_DRAIN_SECONDS = 30.0  # server.drain_timeout when a config sets none (config.md)
MAX_EXPOSURE = 20             # systemd-analyze security --threshold (2.0 on its 0-10 scale)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def shipped_drain_timeouts() -> list[tuple[str, float]]:
    found = []
    configs = sorted((DEPLOY / "examples").glob("*.yaml")) + [DEPLOY / "container" / "spendwall.yaml"]
    for path in configs:
        server = yaml.safe_load(path.read_text(encoding="utf-8")).get("server", {})
        found.append((path.name, parse_duration(server.get("drain_timeout", DEFAULT_DRAIN_SECONDS))))
    configmap = find_object("ConfigMap", "spendwall-config")
    if configmap:
        server = yaml.safe_load(configmap["data"]["spendwall.yaml"]).get("server", {})
        found.append(("ConfigMap", parse_duration(server.get("drain_timeout", DEFAULT_DRAIN_SECONDS))))
    return found


def main() -> None:
    checks = Checks("systemd")
    text = UNIT.read_text(encoding="utf-8")
    unit = parse_unit(text)
    service = unit.get("Service", {})

    def one(key: str) -> str:
        values = service.get(key, [])
        return values[-1] if values else ""

    checks.check("Install" in unit and "multi-user.target" in unit["Install"].get("WantedBy", []),
                 "[Install] WantedBy=multi-user.target")
    checks.check("network-online.target" in " ".join(unit.get("Unit", {}).get("After", [])),
                 "After=network-online.target")
    checks.check(re.search(r"\bspendwall serve -c /etc/spendwall/spendwall\.yaml$", one("ExecStart")) is not None,
                 f"ExecStart runs `spendwall serve -c /etc/spendwall/spendwall.yaml`: {one('ExecStart')!r}")
    checks.check(re.fullmatch(r"\S*kill -HUP \$MAINPID", one("ExecReload")) is not None,
                 "ExecReload sends SIGHUP to $MAINPID")
    checks.check(one("KillSignal") in ("", "SIGTERM"), "stops with SIGTERM (drain)")
    checks.check(bool(one("EnvironmentFile")), "EnvironmentFile holds the provider keys")
    checks.check(one("DynamicUser") == "yes" or one("User") not in ("", "root", "0"),
                 "runs as DynamicUser or a dedicated user")
    for key, value in (("ProtectSystem", "strict"), ("StateDirectory", "spendwall"), ("NoNewPrivileges", "yes"),
                       ("PrivateTmp", "yes"), ("ProtectHome", "yes")):
        checks.check(one(key) == value, f"{key}={value}")
    families = set(" ".join(service.get("RestrictAddressFamilies", [])).split())
    checks.check({"AF_INET", "AF_INET6"} <= families and families <= {"AF_INET", "AF_INET6", "AF_UNIX"},
                 f"RestrictAddressFamilies is the IP families (and AF_UNIX): {sorted(families)}")
    checks.check("@system-service" in service.get("SystemCallFilter", []), "SystemCallFilter=@system-service")
    checks.check(bool(one("MemoryMax")), "MemoryMax is set")
    checks.check(one("CapabilityBoundingSet") == "" and "CapabilityBoundingSet" in service,
                 "CapabilityBoundingSet= (no capabilities: ports above 1024)")
    checks.check("/var/lib/spendwall/" in text, "the unit says where the ledger goes (/var/lib/spendwall)")

    stop = parse_duration(one("TimeoutStopSec") or "90s")
    for name, drain in shipped_drain_timeouts():
        checks.check(stop > drain, f"TimeoutStopSec {stop:g}s > drain_timeout {drain:g}s of {name}")

    analyze = shutil.which("systemd-analyze")
    binary = os.environ.get("SPENDWALL_BIN") or next(
        (str(p) for p in sorted(REPO.glob("build*/proxy/spendwall")) if os.access(p, os.X_OK)), None)
    if analyze and binary:
        with tempfile.TemporaryDirectory() as folder:
            # verify needs ExecStart's binary to exist: point it at the built one.
            copy = Path(folder) / "spendwall.service"
            copy.write_text(text.replace("/usr/local/bin/spendwall", binary), encoding="utf-8")
            run = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
            checks.check(run.returncode == 0, f"systemd-analyze verify:\n{run.stdout}{run.stderr}")
            run = subprocess.run([analyze, "security", "--offline=yes", f"--threshold={MAX_EXPOSURE}",
                                  "--no-pager", str(copy)], capture_output=True, text=True)
            score = re.search(r"Overall exposure level for \S+: ([\d.]+)", run.stdout)
            checks.check(run.returncode == 0,
                         f"systemd-analyze security: exposure {score.group(1) if score else '?'} "
                         f"within {MAX_EXPOSURE / 10:g}:\n{run.stdout[-2000:]}{run.stderr}")
            if score:
                print(f"note: systemd-analyze security exposure {score.group(1)}")
    else:
        print("note: systemd-analyze or a built binary missing: structural checks only")

    checks.finish()


if __name__ == "__main__":
    main()
