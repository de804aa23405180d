#!/usr/bin/python3
"""deploy/container/Containerfile without a container engine: every COPY source exists and
survives .dockerignore, the build stage installs what scripts/install-deps.sh lists for a
build, the runtime stage installs exactly the packages of the libraries the binary links
(`ldd` of a built binary when there is one, else the maintained map), and the image runs
as a non-root user with a HEALTHCHECK, EXPOSE and ENTRYPOINT that match its default
config."""

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from deploy_common import DEPLOY, REPO, TEST_DATA, Checks

CONTAINERFILE = DEPLOY / "container" / "Containerfile"
DOCKERIGNORE = REPO / ".dockerignore"
INSTALL_DEPS = REPO / "scripts" / "install-deps.sh"
LIBRARY_MAP = TEST_DATA / "runtime-libraries.txt"
ENTRYPOINT = ["spendwall", "serve", "-c", "/etc/spendwall/spendwall.yaml"]
DEBIAN_12 = re.compile(r"^(docker\.io/(library/)?)?debian:(12|bookworm)(-slim)?(@sha256:[0-9a-f]{64})?$")
TEST_ONLY_DEV = {"libgtest-dev", "libgmock-dev", "libbenchmark-dev",
                 "libclang-rt-14-dev"}  # scripts/fuzz.sh only
BUILD_INPUT = re.compile(r"(\.(cpp|hpp|h|in|cmake|yaml|txt)|/CMakeLists\.txt)$")


# --- parsing ------------------------------------------------------------------------------

def instructions(text: str) -> list[tuple[str, str, int]]:
    """(INSTRUCTION, arguments, line) with continuation lines joined, comments dropped."""
    result, buffer, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        word, _, rest = buffer.partition(" ")
        result.append((word.upper(), rest.strip(), start))
        buffer = ""
    return result


def stages(text: str) -> tuple[list[dict], dict[str, str]]:
    args, found = {}, []
    for word, rest, line in instructions(text):
        if word == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif word == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(found))
            found.append({"name": name, "base": base, "line": line, "steps": []})
        elif found:
            found[-1]["steps"].append((word, rest, line))
    return found, args


def apt_packages(run_args: str) -> list[str]:
    packages = []
    for command in re.split(r"&&|;|\|\|", run_args):
        words = shlex.split(command.replace("\\", " "))
        words = [w for w in words if "=" not in w or w.startswith("-")]  # drop VAR=value prefixes
        if "apt-get" in words and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
    return packages


def copy_parts(rest: str) -> tuple[dict, list[str], str]:
    flags = {}
    words = shlex.split(rest) if not rest.lstrip().startswith("[") else None
    if words is None:
        items = json.loads(rest)
        return {}, items[:-1], items[-1]
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    return flags, words[:-1], words[-1]


def install_deps_packages() -> list[str]:
    text = INSTALL_DEPS.read_text(encoding="utf-8")
    body = re.search(r"packages=\((.*?)\n\)", text, re.DOTALL).group(1)
    body = re.sub(r"#.*", "", body)
    return body.split()


def library_map() -> list[tuple[str, str, str]]:
    rows = []
    for line in LIBRARY_MAP.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            soname, package, role = line.split()
            rows.append((soname, package, role))
    return rows


# --- .dockerignore ------------------------------------------------------------------------

def ignore_patterns() -> list[tuple[bool, re.Pattern]]:
    patterns = []
    if not DOCKERIGNORE.is_file():
        return patterns
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        patterns.append((negate, re.compile(regex + r"\Z")))
    return patterns


def ignored(path: str, patterns) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for negate, regex in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def tracked_files(folder: str) -> list[str]:
    if shutil.which("git") and (REPO / ".git").exists():
        run = subprocess.run(["git", "-C", str(REPO), "ls-files", "--", folder], capture_output=True, text=True)
        if run.returncode == 0:
            return run.stdout.split()
    root = REPO / folder
    return [str(p.relative_to(REPO)) for p in root.rglob("*") if p.is_file()] if root.is_dir() else [folder]


# --- the binary ---------------------------------------------------------------------------

def built_binary() -> Path | None:
    given = os.environ.get("SPENDWALL_BIN")
    candidates = [Path(given)] if given else []
    candidates += sorted(REPO.glob("build*/proxy/spendwall"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def linked_libraries(binary: Path) -> list[tuple[str, str | None]]:
    run = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    libraries = []
    for line in run.stdout.splitlines():
        match = re.match(r"\s*(\S+)(?:\s+=>\s+(\S+))?\s+\(0x[0-9a-f]+\)", line)
        if match:
            name, path = match.group(1), match.group(2)
            libraries.append((os.path.basename(name), path if path and path != "not" else None))
        elif "not found" in line:
            libraries.append((line.split()[0], None))
    return libraries


def dpkg_owner(path: str) -> str | None:
    if not shutil.which("dpkg"):
        return None
    real = os.path.realpath(path)
    for candidate in dict.fromkeys([path, real, real.replace("/usr/lib/", "/lib/", 1),
                                    real.replace("/lib/", "/usr/lib/", 1)]):
        run = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if run.returncode == 0:
            return run.stdout.split(":")[0].strip()
    return None


# --- checks -------------------------------------------------------------------------------

def main() -> None:
    checks = Checks("container")
    text = CONTAINERFILE.read_text(encoding="utf-8")
    found, _ = stages(text)
    if not checks.check(len(found) >= 2, "Containerfile: multi-stage (build and runtime)"):
        checks.finish()
    build, runtime = found[0], found[-1]
    for stage in found:
        checks.check(DEBIAN_12.match(stage["base"]) is not None,
                     f"stage {stage['name']}: based on Debian 12, not {stage['base']}")
    names = [stage["name"] for stage in found]

    # COPY sources exist in the context and .dockerignore keeps them.
    patterns = ignore_patterns()
    checks.check(DOCKERIGNORE.is_file(), ".dockerignore exists at the repository root")
    for index, stage in enumerate(found):
        for word, rest, line in stage["steps"]:
            if word == "ADD":
                checks.fail(f"Containerfile:{line}: use COPY, not ADD")
            if word != "COPY":
                continue
            flags, sources, _ = copy_parts(rest)
            if "from" in flags:
                checks.check(flags["from"] in names[:index], f"Containerfile:{line}: --from={flags['from']} "
                                                             "names an earlier stage")
                continue
            for source in sources:
                source = source.rstrip("/") or "."
                matches = [p for p in REPO.glob(source)] if any(c in source for c in "*?[") else [REPO / source]
                if not checks.check(all(p.exists() for p in matches) and matches,
                                    f"Containerfile:{line}: COPY source {source} exists"):
                    continue
                for match in matches:
                    relative = str(match.relative_to(REPO))
                    checks.check(not ignored(relative, patterns),
                                 f"Containerfile:{line}: .dockerignore excludes COPY source {relative}")
                    if match.is_dir() and relative != ".git":
                        dropped = [f for f in tracked_files(relative)
                                   if BUILD_INPUT.search(f) and ignored(f, patterns)]
                        checks.check(not dropped, f"Containerfile:{line}: .dockerignore drops tracked files "
                                                  f"the build needs: {dropped[:5]}")

    # Build stage: the build subset of scripts/install-deps.sh, and the release build.
    build_packages = [p for w, r, _ in build["steps"] if w == "RUN" for p in apt_packages(r)]
    deps = install_deps_packages()
    for package in build_packages:
        checks.check(package in deps, f"build stage: {package} is in scripts/install-deps.sh")
    needed = [p for p in deps if p.endswith("-dev") and p not in TEST_ONLY_DEV]
    needed += ["cmake", "ninja-build"]
    for package in needed:
        checks.check(package in build_packages, f"build stage installs {package} (scripts/install-deps.sh)")
    build_runs = " ".join(r for w, r, _ in build["steps"] if w == "RUN")
    for fragment in ("-DSPENDWALL_BUILD_TESTS=OFF", "-DSPENDWALL_BUILD_BENCH=OFF", "--target spendwall",
                     "-G Ninja"):
        checks.check(fragment in build_runs, f"build stage: cmake {fragment}")
    checks.check(re.search(r"-DCMAKE_BUILD_TYPE=(RelWithDebInfo|Release)", build_runs) is not None,
                 "build stage: a release build type")
    checks.check("SPENDWALL_SANITIZE" not in build_runs, "build stage: no sanitizer build")
    for stage in found:
        for word, rest, line in stage["steps"]:
            if word == "RUN" and "apt-get install" in rest:
                checks.check("--no-install-recommends" in rest, f"Containerfile:{line}: --no-install-recommends")
                checks.check("rm -rf /var/lib/apt/lists" in rest, f"Containerfile:{line}: apt lists removed")

    # Runtime stage: the packages of the linked libraries, and nothing unexplained.
    runtime_packages = [p for w, r, _ in runtime["steps"] if w == "RUN" for p in apt_packages(r)]
    rows = library_map()
    by_soname = {soname: (package, role) for soname, package, role in rows if soname != "-"}
    allowed = {package for _, package, role in rows if role in ("install", "extra")}
    for package in runtime_packages:
        checks.check(package in allowed, f"runtime stage: {package} is explained in {LIBRARY_MAP.name}")
        checks.check(not package.endswith("-dev"), f"runtime stage: no -dev package ({package})")
    binary = built_binary()
    if binary and shutil.which("ldd"):
        print(f"note: comparing with `ldd {binary}`")
        libraries = linked_libraries(binary)
        checks.check(bool(libraries), f"ldd lists the libraries of {binary}")
        for soname, path in libraries:
            entry = by_soname.get(soname)
            if not checks.check(entry is not None,
                                f"{soname} (linked by {binary.name}) is in {LIBRARY_MAP.name}"
                                + (f"; dpkg says {dpkg_owner(path)}" if path else "")):
                continue
            package, role = entry
            if role == "install":
                checks.check(package in runtime_packages, f"runtime stage installs {package} (for {soname})")
            if path and role != "kernel":
                owner = dpkg_owner(path)
                if owner is not None:
                    checks.check(owner == package, f"{LIBRARY_MAP.name}: {soname} is in {owner}, not {package}")
    else:
        print("note: no built spendwall binary; comparing with the library map only")
        for package in sorted({package for _, package, role in rows if role == "install"}):
            checks.check(package in runtime_packages, f"runtime stage installs {package}")

    # Non-root user, HEALTHCHECK, EXPOSE, ENTRYPOINT, default config.
    steps = {word: (rest, line) for word, rest, line in runtime["steps"]}
    user = steps.get("USER", ("", 0))[0].split(":")[0]
    checks.check(user not in ("", "0", "root"), f"runtime stage: USER is non-root, not {user!r}")
    runtime_runs = " ".join(r for w, r, _ in runtime["steps"] if w == "RUN")
    if user.isdigit():
        checks.check(re.search(rf"useradd\b.*--uid {user}\b", runtime_runs) is not None,
                     f"runtime stage: creates the user {user}")
    copies = [copy_parts(r) for w, r, _ in runtime["steps"] if w == "COPY"]
    default_config = next((sources[0] for flags, sources, dest in copies
                           if dest == ENTRYPOINT[-1] and "from" not in flags), None)
    checks.check(any(flags.get("from") == build["name"] and dest.startswith("/usr/local/bin/")
                     for flags, _, dest in copies), "runtime stage: spendwall copied to /usr/local/bin")
    entrypoint = steps.get("ENTRYPOINT", ("[]", 0))[0]
    checks.check(entrypoint.startswith("[") and json.loads(entrypoint) == ENTRYPOINT,
                 f"ENTRYPOINT is {json.dumps(ENTRYPOINT)}, not {entrypoint}")
    if checks.check(default_config is not None, f"runtime stage: a default config at {ENTRYPOINT[-1]}"):
        config = yaml.safe_load((REPO / default_config).read_text(encoding="utf-8"))
        listen = config.get("server", {}).get("listen", "0.0.0.0:8080")
        admin = config.get("server", {}).get("admin_listen", "127.0.0.1:9090")
        listen_port, admin_port = listen.rpartition(":")[2], admin.rpartition(":")[2]
        exposed = steps.get("EXPOSE", ("", 0))[0].split()
        checks.check(listen_port in exposed and admin_port in exposed,
                     f"EXPOSE lists the data port {listen_port} and the admin port {admin_port}")
        checks.check(listen.rpartition(":")[0] in ("0.0.0.0", "::", "[::]"),
                     "the default config's data plane is reachable from outside the container")
        health = steps.get("HEALTHCHECK", ("", 0))[0]
        checks.check(re.search(rf"127\.0\.0\.1:{admin_port}/healthz", health) is not None,
                     f"HEALTHCHECK GETs /healthz on the admin port {admin_port}: {health!r}")
        checks.check("curl" in health and "curl" in runtime_packages, "HEALTHCHECK's curl is installed")
        ledger = str(config.get("ledger", {}).get("path", ""))
        checks.check(ledger.startswith("/"), "the default config's ledger path is absolute")
        ledger_dir = os.path.dirname(ledger)
        checks.check(ledger_dir in runtime_runs and ledger_dir in steps.get("VOLUME", ("", 0))[0],
                     f"the ledger folder {ledger_dir} is created and declared a VOLUME")
    checks.check(steps.get("STOPSIGNAL", ("SIGTERM", 0))[0] == "SIGTERM", "STOPSIGNAL is SIGTERM (drain)")

    checks.finish()


if __name__ == "__main__":
    main()
