"""A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certs:
    ca: Path           # the CA that signed `cert`
    cert: Path         # server certificate, SAN DNS:localhost + IP:127.0.0.1
    key: Path
    other_ca: Path     # an unrelated CA: verifying `cert` against it must fail
    wrong_name_cert: Path  # signed by `ca`, but only for DNS:wrong-name.example
    wrong_name_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key.name, "-out", cert.name, "-days", "2",
             "-subj", f"/CN=Spendwall test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    return cert, key


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _make_ca(directory, "ca")
    other_ca, _ = _make_ca(directory, "other-ca")
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")
    _sign_server(directory, "server", "localhost", ca, ca_key)
    (directory / "wrong-name.ext").write_text(
        (directory / "server.ext").read_text().replace("DNS:localhost,IP:127.0.0.1",
                                                       "DNS:wrong-name.example"))
    _sign_server(directory, "wrong-name", "wrong-name.example", ca, ca_key)
    return Certs(ca=ca, cert=directory / "server.pem", key=directory / "server.key",
                 other_ca=other_ca, wrong_name_cert=directory / "wrong-name.pem",
                 wrong_name_key=directory / "wrong-name.key")


def _sign_server(directory: Path, name: str, common_name: str, ca: Path, ca_key: Path) -> None:
    """`name`.key and `name`.pem signed by `ca`, with the SANs of `name`.ext."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={common_name}",
             cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", ca.name, "-CAkey", ca_key.name,
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
             cwd=directory)
