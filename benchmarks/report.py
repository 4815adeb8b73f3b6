"""What every issue-15 benchmark prints: min / median / max of its runs, the target, and
PASS or FAIL with the distance (a verdict is on the median)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

Spread = tuple[float, float, float]


def spread(values: Sequence[float]) -> Spread:
    return min(values), statistics.median(values), max(values)


def fmt(values: Spread, scale: float = 1.0, digits: int = 0) -> str:
    """`min / median / max`, each multiplied by `scale` (1000 for ms from seconds)."""
    return " / ".join(f"{v * scale:,.{digits}f}" for v in values)


def verdict(value: float, limit: float, unit: str = "", digits: int = 2) -> str:
    """PASS when `value` is at most `limit` (every target here is an upper bound)."""
    if value <= limit:
        return f"PASS ({limit - value:,.{digits}f}{unit} to spare)"
    return f"FAIL ({value - limit:,.{digits}f}{unit} over)"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def load() -> str:
    """The machine's load average, printed with every figure (the VM is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def interleaved(runs: int, *measures: Callable[[], T]) -> list[list[T]]:
    """`runs` rounds of every measure, their order alternating from round to round, so
    that a change in the machine's load falls on all of them alike: [measure][round]."""
    out: list[list[T]] = [[] for _ in measures]
    for round_ in range(runs):
        order = list(range(len(measures)))
        if round_ % 2:
            order.reverse()
        for index in order:
            out[index].append(measures[index]())
    return out
