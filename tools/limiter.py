"""The client-side rate limiter: a sliding window over request starts, per instance."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

import anyio


class SlidingWindowLimiter:
    """At most `max_requests` request starts in any `per_seconds` window.

    Vendors count requests in a window, so a token bucket that lets a burst through on top
    of a full window would earn 429s (and, at Kommo, an API block). Start times are kept in
    a deque; a caller waits until the oldest start leaves the window. The lock is held while
    waiting, which makes callers start in arrival order.
    """

    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = anyio.Lock()

    async def acquire(self) -> float:
        """Wait for a free slot, record the start, and return the seconds waited."""
        async with self._lock:
            now = self._clock()
            while self._starts and now - self._starts[0] >= self.per_seconds:
                self._starts.popleft()
            if len(self._starts) < self.max_requests:
                self._starts.append(now)
                return 0.0
            free_at = self._starts.popleft() + self.per_seconds
            waited = free_at - now
            await self._sleep(waited)
            # Record no earlier than free_at: float rounding in the clock must not let a
            # start slip a hair inside the window of the one it replaced.
            self._starts.append(max(self._clock(), free_at))
            return waited
