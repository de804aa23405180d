"""Secret scanning: no client key, provider key or token may be written by the proxy.

PRODUCT.md: "the client's key is never forwarded upstream and never logged". The scanner
reads what a proxy leaves on disk: its stdout/stderr logs, its SQLite ledger (every text
column of every table, read through SQL, and the raw bytes of the database, its WAL and
journal, which also hold freed pages) and the append-log spool segments. A test module
that uses a secret of its own registers it with `secret()`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .config import ANTHROPIC_PROVIDER_KEY, CLIENT_KEYS, OPENAI_PROVIDER_KEY

_REGISTERED: set[str] = set(CLIENT_KEYS) | {OPENAI_PROVIDER_KEY, ANTHROPIC_PROVIDER_KEY}
SQLITE_MAGIC = b"SQLite format 3\x00"
LOG_SUFFIXES = (".stderr.log", ".stdout.log")


def secret(value: str) -> str:
    """Registers `value` as a secret the proxy must never write down; returns it."""
    _REGISTERED.add(value)
    return value


def known_secrets() -> frozenset[str]:
    return frozenset(_REGISTERED)


@dataclass(frozen=True)
class Finding:
    where: str     # file, or file:table.column
    secret: str

    def __str__(self) -> str:
        return f"{self.secret!r} in {self.where}"


@dataclass(frozen=True)
class Scanned:
    findings: list[Finding]
    logs: int          # log files read
    databases: int     # SQLite files read through SQL
    text_cells: int    # text values read from them
    raw_files: int     # ledger files (db, -wal, -journal, spool segments) read as bytes


def ledger_files(root: Path) -> Iterator[Path]:
    """SQLite databases (by magic), their -wal/-journal files, and spool segments."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.name.endswith(("-wal", "-journal", "-shm")) or \
                any(part.endswith(".spool") for part in path.parent.parts):
            yield path
        elif _is_sqlite(path):
            yield path


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _text_cells(db: Path) -> Iterator[tuple[str, str]]:
    """(table.column, value) of every text value in every table, read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                query = f'SELECT "{column}" FROM "{table}" WHERE typeof("{column}") IN ' \
                        "('text', 'blob')"
                for (value,) in conn.execute(query):
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    yield f"{table}.{column}", value
    finally:
        conn.close()


def scan(root: Path, secrets: Iterable[str] | None = None) -> Scanned:
    """Every proxy log, ledger text value and ledger file under `root`."""
    wanted = sorted(secrets if secrets is not None else known_secrets())
    raw_wanted = [s.encode() for s in wanted]
    findings: list[Finding] = []
    logs = databases = cells = raw = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name.endswith(LOG_SUFFIXES):
            logs += 1
            data = path.read_bytes()
            findings += [Finding(str(path), s) for s, b in zip(wanted, raw_wanted) if b in data]
    for path in ledger_files(root):
        raw += 1
        data = path.read_bytes()
        findings += [Finding(f"{path} (bytes)", s) for s, b in zip(wanted, raw_wanted)
                     if b in data]
        if _is_sqlite(path):
            databases += 1
            try:
                for where, value in _text_cells(path):
                    cells += 1
                    findings += [Finding(f"{path}:{where}", s) for s in wanted if s in value]
            except sqlite3.DatabaseError as e:
                findings.append(Finding(f"{path} (unreadable: {e})", ""))
    return Scanned(findings, logs, databases, cells, raw)
