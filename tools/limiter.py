"""The client-side rate limiter: one quota window per instance, paced so that requests
ARRIVING at the vendor never exceed its published limit in any window.

Why slots are anchored at completion, not at the start
------------------------------------------------------
A vendor counts a request when it arrives, and arrival = our start + network latency.
A limiter that spaces STARTS a window apart is not enough under jittered latency: seven
requests sent at t=0 that take 300 ms to arrive, then an eighth sent at t=1.0 that takes
20 ms, land eight arrivals within 0.72 s, and Kommo answers 429 (and blocks accounts that
do it again). Widening the window by a margin (7 per 1.1 s, 100 per 61 s) only moves the
failure to larger jitter.

So a slot is held from the moment a request is sent until its response is received
(in flight), and then for one window after that completion. Two facts make this exact,
whatever the latency:

- the response is received after the vendor counted the request: arrival <= completion;
- a request arrives after we send it: arrival >= start.

Take any `max_requests + 1` requests, and let R be the one that started last. When R
took its slot, the other `max_requests` had all started, and at most `max_requests - 1`
of them held a slot (else R would have waited), so at least one, Q, had completed at
least a window before R started. Then arrival(Q) <= completion(Q) <= start(R) - window
<= arrival(R) - window: any `max_requests + 1` arrivals span at least the window, and
the vendor's sliding window never sees more than `max_requests`. Vendors can therefore be
paced at their published figures, with no margin.

The price is throughput: a slot is busy for latency + window, not window, so a window's
worth of requests takes one latency longer; that is what needing no knowledge of the
latency costs. A vendor with several windows (Tallyfy: 100 a minute, 1,000 an hour) gets
one limiter per window, and a request holds a slot in each (tools/http.py).

A request abandoned in flight (our timeout, a cancelled call) is anchored when it was
abandoned. If the vendor still counts it after that (it sat in a queue longer than our
timeout), no client could know; our timeouts are seconds, far above normal transit.

Storage
-------
`QuotaLimiter` keeps the pacing logic (waiting in arrival order, anchoring, stats) and
leaves the slots to a `SlotStore`. `LocalSlots` keeps them in memory: one account in one
process. `tools.shared_state.RedisSlots` keeps them in Redis, shared by every replica and
surviving restarts; its in-flight slots have a lease, so a replica that dies does not
hold them forever, and it answers `retry_in` with a poll interval when every slot is in
flight, since completions elsewhere do not wake local waiters.

Holds
-----
A 429 says the vendor's window is full, whatever ours thinks (a restart emptied ours, or
another client shares the account). `hold(seconds)` then stops every request of the
account until the vendor's Retry-After has passed (or, without one, one window): the
requests wait in the limiter, in order, rather than each collecting its own 429.

Waits and deadlines
-------------------
`slot(on_wait=...)` calls `on_wait(seconds, limiter, held)` before each wait it is about to
start. The HTTP client uses it to refuse a wait that would end after the operation's
deadline (tools/operation.py) and to show the wait in progress; an exception raised
there leaves the limiter as it was.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import anyio

# Called with the seconds about to be waited, the limiter that waits, and whether the wait
# is a hold (a 429) rather than the window's pacing; may raise.
OnWait = Callable[[float, "QuotaLimiter", bool], Awaitable[None]]

# Smallest wait: float rounding must not turn "not yet" into a zero sleep, which a fake
# clock would never advance past.
_MIN_WAIT = 1e-6


@dataclass(frozen=True)
class Reservation:
    """The answer of a store: a slot (`token`), or how long to wait before asking again
    (`retry_in`; None when every slot is in flight and only a completion frees one)."""

    token: str | None = None
    retry_in: float | None = None
    # The wait is a hold (a 429 said the vendor is full), not this window's own pacing.
    held: bool = False


class SlotStore(Protocol):
    """Where the slots of one quota window live."""

    max_requests: int

    async def reserve(self, now: float) -> Reservation:
        """Take a slot, in flight from `now`, if fewer than the limit are held (and no
        hold is in force)."""
        ...

    async def complete(self, token: str, now: float) -> None:
        """The slot's request completed at `now`: it stays held for one window more."""
        ...

    async def hold(self, seconds: float, now: float) -> None:
        """No slot is given out for `seconds` from `now` (the vendor said it is full)."""
        ...


class LocalSlots:
    """The slots of one window in this process's memory."""

    def __init__(self, max_requests: int, per_seconds: float) -> None:
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._in_flight: set[str] = set()
        self._completed: deque[float] = deque()  # completion times, oldest first
        self._tokens = itertools.count()
        self._held_until = -math.inf

    async def reserve(self, now: float) -> Reservation:
        if now < self._held_until:
            return Reservation(retry_in=max(self._held_until - now, _MIN_WAIT), held=True)
        # The same comparison as a vendor's window (`hit <= now - window` has left it), so
        # float rounding cannot free a slot here that the vendor still counts.
        edge = now - self.per_seconds
        completed = self._completed
        while completed and completed[0] <= edge:
            completed.popleft()
        if len(self._in_flight) + len(completed) < self.max_requests:
            token = str(next(self._tokens))
            self._in_flight.add(token)
            return Reservation(token=token)
        if not completed:
            return Reservation()
        return Reservation(retry_in=max(completed[0] + self.per_seconds - now, _MIN_WAIT))

    async def complete(self, token: str, now: float) -> None:
        if token not in self._in_flight:
            return
        self._in_flight.discard(token)
        # The clock is monotonic, so completions come in order: the deque stays sorted.
        self._completed.append(now)

    async def hold(self, seconds: float, now: float) -> None:
        self._held_until = max(self._held_until, now + seconds)


class QuotaLimiter:
    """At most `max_requests` arrivals at the vendor in any `per_seconds` window.

    Use `async with limiter.slot() as waited:` around exactly one request: the slot is
    taken before sending (waiting as long as needed) and anchored when the block exits.
    Waiters are served in the order they came (the lock is held while waiting).
    """

    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        *,
        store: SlotStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and per_seconds > 0")
        self.max_requests = max_requests
        self.per_seconds = per_seconds
        self._store = store or LocalSlots(max_requests, per_seconds)
        self._clock = clock
        self._sleep = sleep
        self._lock = anyio.Lock()
        self._completions = 0
        self._completed = anyio.Event()

    def lower(self, max_requests: int) -> None:
        """Pace at `max_requests` from now on, if that is fewer (two instances of one
        account configured with different limits share the stricter one)."""
        if max_requests < self.max_requests:
            self.max_requests = max_requests
            self._store.max_requests = max_requests

    async def hold(self, seconds: float) -> None:
        """Give out no slot for `seconds` (a 429 said the vendor's window is full)."""
        await self._store.hold(seconds, self._clock())

    @asynccontextmanager
    async def slot(self, on_wait: OnWait | None = None) -> AsyncIterator[float]:
        """Hold one slot for the request sent inside the block; yields the seconds waited."""
        token, waited = await self._acquire(on_wait)
        try:
            yield waited
        finally:
            # Shielded: a cancelled request must still anchor its slot, or it would be
            # counted as in flight forever.
            with anyio.CancelScope(shield=True):
                await self._store.complete(token, self._clock())
            self._completions += 1
            self._completed.set()

    async def _acquire(self, on_wait: OnWait | None) -> tuple[str, float]:
        async with self._lock:
            began = self._clock()
            while True:
                seen = self._completions
                answer = await self._store.reserve(self._clock())
                if answer.token is not None:
                    return answer.token, self._clock() - began
                if answer.retry_in is not None:
                    if on_wait is not None:
                        await on_wait(answer.retry_in, self, answer.held)
                    await self._sleep(answer.retry_in)
                elif seen == self._completions:
                    # Every slot is in flight: the first completion starts the wait for
                    # its window to pass. (One that came while the store answered, which
                    # a shared store does over the network, is seen by the count.)
                    self._completed = anyio.Event()
                    await self._completed.wait()


# (account key, max requests, window seconds) -> the store of that window's slots.
StoreFactory = Callable[[str, int, float], SlotStore]


class Quotas:
    """The quota windows of one server process, one per vendor account and window.

    Keyed by account (tools.backends.base.Backend.account_key: the base URL plus the
    org, subdomain or tenant), never by instance name: two instances pointing at one
    account share one pacing. They outlive the clients that use them: the backend
    instances are rebuilt when a new connection comes after the last one left, but the
    vendor's window did not empty meanwhile. `stores` puts the slots elsewhere (Redis,
    tools.shared_state), shared by replicas and kept across restarts.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        stores: StoreFactory | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._stores = stores
        self._limiters: dict[tuple[str, float], QuotaLimiter] = {}

    def limiter(self, account: str, max_requests: int, per_seconds: float) -> QuotaLimiter:
        """The one limiter of `account`'s window of `per_seconds`."""
        key = (account, float(per_seconds))
        found = self._limiters.get(key)
        if found is not None:
            found.lower(max_requests)
            return found
        store = self._stores(account, max_requests, per_seconds) if self._stores else None
        limiter = QuotaLimiter(
            max_requests, per_seconds, store=store, clock=self._clock, sleep=self._sleep
        )
        self._limiters[key] = limiter
        return limiter
