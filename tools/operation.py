"""One operation (a tool call, a terminal export): how long it may wait, and what its
requests went through on the way (retries, quota waits), for the answer's notes.

Waiting is not failing. A request's network timeout and retry budget (tools/http.py)
cover the network only; time spent waiting for a quota - our own limiter's window, or a
vendor's Retry-After - is bounded by the operation instead:

- `list_processes` and the other quick tools get a wall budget (25 s by default,
  `[server] list_budget_seconds`): a wait that would end after it is not started, and the
  list answers with the rows it has, a cursor, and when the next page can start;
- `export_process` and `process-mcp export` run at the vendor's pace up to a maximum
  (30 minutes by default, `[server] export_max_minutes`), showing each wait in progress.

Code below a call reaches its operation with `current()`, set by `operation(...)` the way
tools.progress and tools.notices set theirs (anyio copies the context into child tasks).
Without one, each request is its own operation with the retry budget as its deadline.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

Clock = Callable[[], float]

LIST_BUDGET_SECONDS = 25.0
EXPORT_MAX_SECONDS = 30 * 60.0
# Quota waits shorter than this in total are not worth a note (they are pacing, not news).
NOTE_WAIT_SECONDS = 1.0

_current: ContextVar[Operation | None] = ContextVar("process_mcp_operation", default=None)


@dataclass
class _Account:
    """What one backend instance's requests went through during the operation."""

    retried: Counter[str] = field(default_factory=Counter)  # reason -> retries
    retry_seconds: float = 0.0  # backoff waits plus the failed attempts' own time
    # Quota waits (our limiter, a vendor's Retry-After) as (start, end): requests in
    # parallel wait at once, so the note counts the time covered, not the sum.
    waits: list[tuple[float, float]] = field(default_factory=list)
    quota: str | None = None  # "Tallyfy allows 100 requests/min"

    @property
    def waited(self) -> float:
        covered, reach = 0.0, -math.inf
        for start, end in sorted(self.waits):
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        return covered


@dataclass
class Operation:
    """A deadline (None: no limit) on `clock`, and the log of what requests went through."""

    deadline: float | None
    clock: Clock = time.monotonic
    budget: float | None = None
    _accounts: dict[str, _Account] = field(default_factory=dict)

    def remaining(self) -> float:
        return math.inf if self.deadline is None else self.deadline - self.clock()

    def fits(self, wait: float) -> bool:
        """Whether a wait of `wait` seconds, started now, ends within the deadline."""
        return wait <= self.remaining()

    def retried(self, backend: str, reason: str, seconds: float) -> None:
        entry = self._accounts.setdefault(backend, _Account())
        entry.retried[reason] += 1
        entry.retry_seconds += seconds

    def waited(self, backend: str, seconds: float, quota: str | None) -> None:
        entry = self._accounts.setdefault(backend, _Account())
        now = self.clock()
        entry.waits.append((now, now + seconds))
        entry.quota = quota or entry.quota

    def notes(self) -> list[str]:
        """One line per instance whose requests were retried or waited for a quota."""
        out: list[str] = []
        for name in sorted(self._accounts):
            entry = self._accounts[name]
            if entry.retried:
                count = sum(entry.retried.values())
                reasons = ", ".join(
                    f"{reason} x{n}" if n > 1 else reason
                    for reason, n in sorted(entry.retried.items())
                )
                reads = "read" if count == 1 else "reads"
                out.append(
                    f"{name}: {count} {reads} retried ({reasons}), costing "
                    f"{entry.retry_seconds:.1f} s; the answer is complete"
                )
            if entry.waited >= NOTE_WAIT_SECONDS:
                why = f" ({entry.quota})" if entry.quota else ""
                out.append(f"{name}: waited {entry.waited:.0f} s for the quota{why}")
        return out


def current() -> Operation | None:
    return _current.get()


@contextmanager
def operation(budget: float | None, *, clock: Clock = time.monotonic) -> Iterator[Operation]:
    """Run the block as one operation that may wait until `budget` seconds from now
    (None: without limit). An operation already running is kept: a tool that calls another
    (an export reading a list) stays inside its caller's deadline."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    op = Operation(None if budget is None else clock() + budget, clock, budget)
    token = _current.set(op)
    try:
        yield op
    finally:
        _current.reset(token)


def notes() -> list[str]:
    """The current operation's notes (none outside an operation)."""
    op = _current.get()
    return op.notes() if op is not None else []
