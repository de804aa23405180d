#!/usr/bin/python3
"""deploy/kubernetes/: the fields a working, safe Spendwall Deployment needs, checked
against the config embedded in the ConfigMap (ports, drain, ledger path, secrets)."""

import math
import re

import yaml

from deploy_common import DEPLOY, Checks, env_references, kubernetes_objects, parse_duration, rel

KUBERNETES = DEPLOY / "kubernetes"
ALERT_JOB = "spendwall"  # the job label deploy/prometheus/alerts.yaml expects


def quantity(value) -> float:
    """Kubernetes quantities: CPU (500m, 2) and memory (256Mi, 1Gi, 1G) as plain numbers."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", text)
    if not match or (match.group(2) and match.group(2) not in units):
        raise ValueError(f"not a quantity: {value!r}")
    return float(match.group(1)) * units.get(match.group(2), 1)


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def probe_port(probe: dict, ports: dict[str, int]) -> int | None:
    port = probe.get("httpGet", {}).get("port")
    return ports.get(port) if isinstance(port, str) else port


def sleep_seconds(pre_stop: dict) -> float:
    if "sleep" in pre_stop:
        return float(pre_stop["sleep"].get("seconds", 0))
    command = pre_stop.get("exec", {}).get("command", [])
    text = " ".join(str(part) for part in command)
    match = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", text)
    return float(match.group(1)) if match else 0.0


def labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def main() -> None:
    checks = Checks("kubernetes")
    objects = kubernetes_objects()
    by_kind: dict[str, list[dict]] = {}
    for path, obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
        if obj["kind"] == "Kustomization":
            continue
        name = obj.get("metadata", {}).get("name")
        where = f"{rel(path)}: {obj['kind']} {name}"
        checks.check(bool(name), f"{where}: metadata.name is set")
        checks.check(obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name") == "spendwall",
                     f"{where}: labelled app.kubernetes.io/name=spendwall")
        checks.check("namespace" not in obj.get("metadata", {}),
                     f"{where}: no hard-coded namespace (kubectl -n / kustomize decide)")
    for kind in ("Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceMonitor",
                 "PrometheusRule"):
        checks.check(kind in by_kind, f"deploy/kubernetes has a {kind}")
    if "Deployment" not in by_kind or "ConfigMap" not in by_kind:
        checks.finish()

    deployment = by_kind["Deployment"][0]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    checks.check(spec.get("replicas") == 1, "Deployment: replicas is 1")
    text = (KUBERNETES / "deployment.yaml").read_text(encoding="utf-8")
    comment = text[:text.find("replicas:")].rsplit("spec:", 1)[-1]
    checks.check("SQLite" in comment and "postgres" in comment,
                 "Deployment: a comment above replicas says why (SQLite is one machine; postgres for more)")
    checks.check(spec.get("strategy", {}).get("type") == "Recreate",
                 "Deployment: strategy Recreate (one ledger writer at a time)")
    checks.check(labels_match(spec["selector"].get("matchLabels", {}), pod_labels),
                 "Deployment: the selector matches the pod labels")

    containers = pod.get("containers", [])
    checks.check(len(containers) == 1, "Deployment: one container")
    container = containers[0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    checks.check({"http", "admin"} <= set(ports), "container: named ports http and admin")

    # The config the container runs: the -c path inside the ConfigMap mount.
    command = container.get("command", []) + container.get("args", [])
    config_path = command[command.index("-c") + 1] if "-c" in command else None
    checks.check(command[:2] == ["spendwall", "serve"] and config_path,
                 f"container: runs `spendwall serve -c FILE`, not {command}")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = container.get("volumeMounts", [])
    configmaps = {c["metadata"]["name"]: c for c in by_kind["ConfigMap"]}
    config = None
    config_text = ""
    for mount in mounts:
        volume = volumes.get(mount["name"], {})
        if "configMap" not in volume or not config_path or not config_path.startswith(mount["mountPath"] + "/"):
            continue
        checks.check(mount.get("readOnly") is True, "the config is mounted read-only")
        checks.check("subPath" not in mount, "the config mount has no subPath (so ConfigMap updates reach it)")
        configmap = configmaps.get(volume["configMap"]["name"])
        if checks.check(configmap is not None, f"ConfigMap {volume['configMap']['name']} exists"):
            key = config_path[len(mount["mountPath"]) + 1:]
            config_text = configmap.get("data", {}).get(key, "")
            if checks.check(bool(config_text), f"the ConfigMap has the key {key}"):
                config = yaml.safe_load(config_text)
    if not checks.check(config is not None, f"the config {config_path} comes from a ConfigMap"):
        checks.finish()

    server = config.get("server", {})
    listen_host, listen_port = host_port(server.get("listen", "0.0.0.0:8080"))
    admin_host, admin_port = host_port(server.get("admin_listen", "127.0.0.1:9090"))
    checks.check(ports.get("http") == listen_port, f"containerPort http = server.listen port {listen_port}")
    checks.check(ports.get("admin") == admin_port, f"containerPort admin = server.admin_listen port {admin_port}")
    checks.check(listen_host in ("0.0.0.0", "::"), "server.listen is reachable from the Service")
    checks.check(admin_host in ("0.0.0.0", "::"), "server.admin_listen is reachable from kubelet and Prometheus")
    checks.check(str(server.get("admin_token", "")).startswith("${"),
                 "admin_token is set, from the environment")

    # Probes on the admin port.
    for probe_name, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        probe = container.get(probe_name)
        if checks.check(probe is not None, f"container: has a {probe_name}"):
            checks.check(probe.get("httpGet", {}).get("path") == path, f"{probe_name}: GET {path}")
            checks.check(probe_port(probe, ports) == admin_port, f"{probe_name}: on the admin port {admin_port}")
    if "startupProbe" in container:
        probe = container["startupProbe"]
        checks.check(probe.get("httpGet", {}).get("path") == "/healthz", "startupProbe: GET /healthz")
        checks.check(probe_port(probe, ports) == admin_port, "startupProbe: on the admin port")

    # Shutdown: preStop sleep + drain must fit in the grace period.
    drain = parse_duration(server.get("drain_timeout", "30s"))
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pause = sleep_seconds(pre_stop)
    checks.check(pause > 0, "container: a preStop sleep lets endpoints update before SIGTERM")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    checks.check(grace > drain, f"terminationGracePeriodSeconds {grace} > drain_timeout {drain:g}s")
    checks.check(grace > drain + pause,
                 f"terminationGracePeriodSeconds {grace} > preStop {pause:g}s + drain_timeout {drain:g}s")

    # Resources, and workers sized to the CPU limit.
    resources = container.get("resources", {})
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            checks.check(resource in resources.get(part, {}), f"resources.{part}.{resource} is set")
    try:
        for resource in ("cpu", "memory"):
            checks.check(quantity(resources["requests"][resource]) <= quantity(resources["limits"][resource]),
                         f"resources: {resource} request <= limit")
        cpu_limit = quantity(resources["limits"]["cpu"])
        workers = server.get("workers", 0)
        checks.check(workers != 0, "server.workers is explicit (0 counts the node's cores, not the limit)")
        checks.check(workers <= math.ceil(cpu_limit), f"server.workers {workers} <= CPU limit {cpu_limit:g}")
    except (KeyError, ValueError) as error:
        checks.fail(f"resources: {error}")

    # Security.
    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    checks.check(pod_security.get("runAsNonRoot") is True or security.get("runAsNonRoot") is True,
                 "runAsNonRoot is true")
    user = security.get("runAsUser", pod_security.get("runAsUser"))
    checks.check(user not in (None, 0), "runAsUser is set and not 0")
    checks.check(security.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem is true")
    checks.check(security.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation is false")
    checks.check("ALL" in security.get("capabilities", {}).get("drop", []), "capabilities: drop ALL")
    checks.check(pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    checks.check(pod.get("automountServiceAccountToken") is False, "no service account token (no API use)")
    tmp_mounts = [m for m in mounts if m["mountPath"] == "/tmp" and "emptyDir" in volumes.get(m["name"], {})]
    checks.check(bool(tmp_mounts), "read-only root: /tmp is an emptyDir (SQLite temporary files)")

    # Secrets: every ${VAR} of the config from the Secret, never inline.
    secrets = {s["metadata"]["name"]: s for s in by_kind.get("Secret", [])}
    env = {e["name"]: e for e in container.get("env", [])}
    for var in env_references(config_text):
        entry = env.get(var)
        if not checks.check(entry is not None, f"container env provides ${{{var}}} used by the config"):
            continue
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if checks.check(ref is not None, f"env {var} comes from a Secret"):
            secret = secrets.get(ref.get("name"))
            if checks.check(secret is not None, f"env {var}: Secret {ref.get('name')} is in secret.example.yaml"):
                keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                checks.check(ref.get("key") in keys, f"env {var}: the Secret example has key {ref.get('key')}")
    for name, secret in secrets.items():
        for key, value in secret.get("stringData", {}).items():
            checks.check("replace" in str(value).lower(), f"Secret {name}.{key} holds a placeholder only")

    # The ledger on the PersistentVolumeClaim.
    ledger = config.get("ledger", {})
    ledger_path = str(ledger.get("path", ""))
    checks.check(ledger.get("backend", "sqlite") == "sqlite", "the ConfigMap's ledger is sqlite")
    checks.check(ledger_path.startswith("/"), "ledger.path is absolute (the config folder is read-only)")
    claims = {c["metadata"]["name"]: c for c in by_kind.get("PersistentVolumeClaim", [])}
    ledger_mounts = [m for m in mounts if "persistentVolumeClaim" in volumes.get(m["name"], {})
                     and ledger_path.startswith(m["mountPath"].rstrip("/") + "/")]
    if checks.check(len(ledger_mounts) == 1, f"ledger.path {ledger_path} lies on a mounted PersistentVolumeClaim"):
        mount = ledger_mounts[0]
        checks.check(not mount.get("readOnly"), "the ledger volume is writable")
        claim_name = volumes[mount["name"]]["persistentVolumeClaim"]["claimName"]
        claim = claims.get(claim_name)
        if checks.check(claim is not None, f"PersistentVolumeClaim {claim_name} exists"):
            checks.check("ReadWriteOnce" in claim["spec"].get("accessModes", []), "the PVC is ReadWriteOnce")
            checks.check("storage" in claim["spec"].get("resources", {}).get("requests", {}),
                         "the PVC requests storage")

    # Services: data and admin, admin only inside the cluster.
    services = by_kind.get("Service", [])
    admin_services = []
    for service in services:
        name = service["metadata"]["name"]
        service_spec = service["spec"]
        checks.check(labels_match(service_spec.get("selector", {}), pod_labels),
                     f"Service {name}: selects the Spendwall pods")
        for port in service_spec.get("ports", []):
            target = port.get("targetPort", port.get("port"))
            number = ports.get(target) if isinstance(target, str) else target
            checks.check(number in ports.values(), f"Service {name} port {port.get('name')}: targets a container port")
            if number == admin_port:
                admin_services.append(service)
                checks.check(service_spec.get("type", "ClusterIP") == "ClusterIP" and "nodePort" not in port,
                             f"Service {name}: the admin port is ClusterIP only")
    data_ports = [p for s in services for p in s["spec"].get("ports", [])
                  if ports.get(p.get("targetPort")) == listen_port or p.get("targetPort") == listen_port]
    checks.check(bool(data_ports), "a Service exposes the data port")
    checks.check(len(admin_services) == 1, "one Service exposes the admin port")
    for service in services:
        if service not in admin_services:
            exposed = [p for p in service["spec"].get("ports", [])
                       if ports.get(p.get("targetPort")) == admin_port or p.get("targetPort") == admin_port]
            checks.check(not exposed, f"Service {service['metadata']['name']}: does not carry the admin port")

    # ServiceMonitor: scrapes the admin Service, with job="spendwall".
    for monitor in by_kind.get("ServiceMonitor", []):
        selector = monitor["spec"].get("selector", {}).get("matchLabels", {})
        matched = [s for s in admin_services if labels_match(selector, s["metadata"].get("labels", {}))]
        checks.check(len(matched) == 1 and all(labels_match(selector, s["metadata"].get("labels", {})) is False
                                               for s in services if s not in admin_services),
                     "ServiceMonitor: selects the admin Service only")
        endpoints = monitor["spec"].get("endpoints", [])
        admin_port_names = {p.get("name") for s in matched for p in s["spec"].get("ports", [])}
        checks.check(any(e.get("port") in admin_port_names and e.get("path", "/metrics") == "/metrics"
                         for e in endpoints), "ServiceMonitor: scrapes /metrics on the admin port")
        job_label = monitor["spec"].get("jobLabel")
        job = matched[0]["metadata"]["labels"].get(job_label) if matched and job_label else (
            matched[0]["metadata"]["name"] if matched else None)
        checks.check(job == ALERT_JOB, f"ServiceMonitor: the job label is {ALERT_JOB!r} (alerts expect it), not {job!r}")

    # kustomization: every resource exists.
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    for resource in kustomization.get("resources", []):
        checks.check((KUBERNETES / resource).is_file(), f"kustomization resource {resource} exists")
    checks.check("secret.example.yaml" not in kustomization.get("resources", []),
                 "kustomization does not apply the example Secret")

    checks.finish()


if __name__ == "__main__":
    main()
