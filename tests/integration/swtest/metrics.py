"""Prometheus text exposition parsing, for metric deltas around a request."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .client import request

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def _unescape(value: str) -> str:
    return value.replace(r"\\", "\x00").replace(r'\"', '"').replace(r"\n", "\n") \
        .replace("\x00", "\\")


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"bad exposition line: {line!r}")
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(3) or "")}
        samples.append(Sample(m.group(1), labels, float(m.group(4))))
    return samples


class Metrics:
    """A scrape of `/metrics`; `total()` sums the samples matching some labels."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples

    @staticmethod
    def scrape(admin_port: int) -> "Metrics":
        resp = request(admin_port, "GET", "/metrics")
        assert resp.status == 200, resp
        return Metrics(parse(resp.body.decode()))

    def total(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.samples
                   if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))

    def names(self) -> set[str]:
        return {s.name for s in self.samples}


def delta(before: Metrics, after: Metrics, name: str, **labels: str) -> float:
    return after.total(name, **labels) - before.total(name, **labels)
