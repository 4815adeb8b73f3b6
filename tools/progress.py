"""Progress of one operation, reported the way the MCP spec allows and a person can read.

A `Progress` wraps a sink (the server's `notifications/progress` for one call, the terminal
bar of `process-mcp export`) and guarantees:

- values strictly increase (the spec's MUST): an update that does not raise the value is
  held back, never sent as a repeat;
- at most one notification per `interval` seconds (0.5 s: about 2 a second), plus the
  first and the last: a held-back update is not lost, the next one past the interval or
  `finish` carries the newest state;
- the clock is injectable, so tests drive the throttle without sleeping.

`note(message)` is for news without new rows (a wait for a vendor's quota): it goes out
like an update, its value nudged by a fraction of a row above the last one sent (half the
way to the next whole row), so the rule holds and the next row count is still larger.

Code anywhere below a tool call reaches the call's reporter with `current()` (or the
module-level `note`), set by `reporting(...)` the way tools.notices sets its sink.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import anyio

# (done, total, message): what a sink receives; the SDK's report_progress has this shape.
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]
Clock = Callable[[], float]

INTERVAL = 0.5

_current: ContextVar[Progress | None] = ContextVar("process_mcp_progress", default=None)


@dataclass(frozen=True)
class _State:
    done: float
    total: float | None
    message: str


class Progress:
    """A throttled, strictly increasing progress reporter for one operation."""

    def __init__(
        self,
        send: ProgressFn | None,
        *,
        interval: float = INTERVAL,
        clock: Clock = time.monotonic,
    ) -> None:
        self._send = send
        self.interval = interval
        self._clock = clock
        self._last: _State | None = None
        self._last_at = -math.inf
        self._pending: _State | None = None
        self._lock = anyio.Lock()
        self.sent = 0

    @property
    def last_value(self) -> float | None:
        return None if self._last is None else self._last.done

    async def update(self, done: float, total: float | None = None, message: str = "") -> None:
        """The operation reached `done` (of `total`, when known)."""
        if self._send is None or not self._rises(done):
            return
        self._pending = _State(done, total, message)
        if self._due():
            await self._flush()

    async def note(self, message: str) -> None:
        """News without new rows (for example a quota wait), sent under the same rules."""
        if self._send is None:
            return
        base = self._pending or self._last
        if self._pending is not None:
            done = self._pending.done
        elif self._last is None:
            done = 0.0
        else:
            last = self._last.done
            done = last + (math.floor(last) + 1 - last) / 2
            if done <= last:  # no float left between them: nothing can be sent
                return
        self._pending = _State(done, base.total if base else None, message)
        if self._due():
            await self._flush()

    async def finish(self, done: float, total: float | None, message: str) -> None:
        """The last state, sent whatever the throttle says. When `done` is no higher than
        what was already sent, the last notification already said it (the spec forbids a
        repeat), so nothing more goes out."""
        if self._send is None:
            return
        if self._rises(done):
            self._pending = _State(done, total, message)
        await self._flush()

    def _rises(self, done: float) -> bool:
        floor = self._pending or self._last
        return floor is None or done > floor.done

    def _due(self) -> bool:
        return self._last is None or self._clock() - self._last_at >= self.interval

    async def _flush(self) -> None:
        # One send at a time, in order: prefetching tasks report concurrently.
        async with self._lock:
            state, self._pending = self._pending, None
            if state is None or self._send is None:
                return
            if self._last is not None and state.done <= self._last.done:
                return
            self._last, self._last_at = state, self._clock()
            self.sent += 1
            await self._send(state.done, state.total, state.message)


def as_progress(progress: Progress | ProgressFn | None) -> Progress | None:
    """A reporter from what a caller passed: a reporter as is, a bare sink wrapped."""
    if progress is None or isinstance(progress, Progress):
        return progress
    return Progress(progress)


def current() -> Progress | None:
    """The reporter of the operation running in this context, if any."""
    return _current.get()


@contextmanager
def reporting(progress: Progress | None) -> Iterator[Progress | None]:
    """Make `progress` the current reporter inside this block (and its child tasks)."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


async def note(message: str) -> None:
    """A message for the current operation's progress, if anyone is watching."""
    reporter = _current.get()
    if reporter is not None:
        await reporter.note(message)
