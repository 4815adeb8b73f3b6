"""`SimulatorCore`: the ASGI middleware every vendor simulator is wrapped in.

Per HTTP request, in this order:
    1. record it (`requests`), so tests can assert the exact wire request;
    2. wait the base `latency` plus a random share of `latency_jitter` (the network);
    3. apply the first fault of `faults` that fires (a `latency` fault waits, then goes on);
    4. record its arrival (`arrivals`): the moment the vendor counts it;
    5. enforce the sliding-window `rate_limits` (a request must fit in every window; a
       rejected one uses up none of them);
    6. call the vendor app, which reads `core.strict` to decide how picky to be; a
       `truncated` or `reset` fault then damages its answer on the way back.

Faults come before the rate limit because they stand for the proxy in front of the vendor:
a request the proxy refused never reached the vendor's limiter. Quota tests measure
`arrivals`, never the client's send times: with jittered latency, requests sent a full
window apart can still arrive at the vendor closer together than that.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.sim.faults import (
    ErrorBody,
    FaultPlan,
    FaultResponse,
    SimulatedReset,
    build_response,
    json_error_body,
)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RateLimit:
    max_requests: int
    per_seconds: float


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, as sent."""
        return next((v for k, v in self.query if k == name), None)


@dataclass(frozen=True)
class Arrival:
    """A request as the vendor's quota sees it: when it arrived, and whether it was
    refused with 429 for being over the limit."""

    at: float
    path: str
    limited: bool


def busiest_window(times: list[float], seconds: float) -> int:
    """The most of `times` that fall within any span shorter than `seconds`: what a vendor
    counting a sliding window of `seconds` (as `SlidingWindow` does) sees at its peak."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        # The comparison `SlidingWindow.hit` makes, so float rounding agrees with it.
        while ordered[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


@dataclass
class SlidingWindow:
    """At most `limit.max_requests` accepted requests per key in any `per_seconds` span."""

    limit: RateLimit
    clock: Clock = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def hit(self, key: str, now: float | None = None) -> float | None:
        """Count a request; return None if allowed, else seconds until a slot frees up."""
        return hit_all((self,), key, self.clock() if now is None else now)

    def _wait(self, key: str, now: float) -> float | None:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.limit.per_seconds:
            hits.popleft()
        if len(hits) >= self.limit.max_requests:
            return hits[0] + self.limit.per_seconds - now
        return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def hit_all(windows: Sequence[SlidingWindow], key: str, now: float) -> float | None:
    """Count a request in every window (a vendor with a per-minute and a per-hour quota),
    or in none when one is full: then the seconds until all of them have room."""
    with contextlib.ExitStack() as locks:
        for window in windows:
            locks.enter_context(window._lock)
        waits = [w for w in (window._wait(key, now) for window in windows) if w is not None]
        if waits:
            return max(waits)
        for window in windows:
            window._hits[key].append(now)
        return None


class SimulatorCore:
    """Wraps a vendor ASGI app with recording, faults, latency and a rate limit.

    The core is itself the ASGI app to serve. Attributes may be changed while serving.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        error_body: ErrorBody = json_error_body,
        strict: bool = True,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        rate_limit: RateLimit | None = None,
        rate_limit_key: Callable[[RecordedRequest], str] = lambda _request: "",
        rate_limit_message: str = "Too Many Requests",
        rate_limit_retry_after: bool = True,
        request_id_header: str | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
        seed: int = 0,
    ) -> None:
        self.app = app
        self.error_body = error_body
        self.strict = strict
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.rng = random.Random(seed)
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.arrivals: list[Arrival] = []
        self.rate_limit_key = rate_limit_key
        self.rate_limit_message = rate_limit_message
        self.request_id_header = request_id_header
        self.clock = clock
        self.sleep = sleep
        self.rate_limit_retry_after = rate_limit_retry_after
        self._windows: tuple[SlidingWindow, ...] = ()
        self.rate_limit = rate_limit

    @property
    def rate_limit(self) -> RateLimit | None:
        """The first quota window; setting it replaces every window (None: unthrottled)."""
        return self._windows[0].limit if self._windows else None

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self.rate_limits = (value,) if value else ()

    @property
    def rate_limits(self) -> tuple[RateLimit, ...]:
        """Every quota window; a request must fit in all of them (100/min and 1,000/h)."""
        return tuple(w.limit for w in self._windows)

    @rate_limits.setter
    def rate_limits(self, value: Sequence[RateLimit]) -> None:
        self._windows = tuple(SlidingWindow(limit, self.clock) for limit in value)

    def clear(self) -> None:
        """Forget recorded requests and arrivals (faults and the rate-limit window are kept)."""
        self.requests.clear()
        self.arrivals.clear()

    def busiest_window(self, seconds: float) -> int:
        """The most arrivals the vendor saw within any span shorter than `seconds`."""
        return busiest_window([a.at for a in self.arrivals], seconds)

    @property
    def rate_limited(self) -> int:
        """Requests the rate limit refused with 429."""
        return sum(a.limited for a in self.arrivals)

    def reset(self) -> None:
        """Back to a clean slate: no requests, no faults, an empty rate-limit window."""
        self.clear()
        self.faults.clear()
        for window in self._windows:
            window.reset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        request = _record(scope, body)
        self.requests.append(request)
        send = self._stamp(send)

        delay = self.latency
        if self.latency_jitter > 0:
            delay += self.rng.uniform(0.0, self.latency_jitter)
        fault = self.faults.take(request.path)
        if fault is not None and fault.kind in ("latency", "timeout"):
            delay += fault.delay
        if delay > 0 and not await self._hold(delay, receive):
            return  # the client gave up (its own timeout): nobody to answer
        if fault is not None:
            response = build_response(fault, self.error_body)
            if response is not None:
                await _send(send, response)
                return
        arrived = self.clock()
        wait = hit_all(self._windows, self.rate_limit_key(request), arrived)
        self.arrivals.append(Arrival(arrived, request.path, limited=wait is not None))
        if wait is not None:
            await _send(send, self._too_many(wait))
            return
        if fault is not None and fault.kind in ("truncated", "reset"):
            send = _damaged(send, reset=fault.kind == "reset")
        await self.app(scope, _replay(body, receive), send)

    def set_network(self, latency: float, *, seed: int | None = None) -> None:
        """`latency` seconds a request on average, jittered by a quarter either way (what
        the sandbox's `--latency MS` sets)."""
        self.latency = 0.75 * latency
        self.latency_jitter = 0.5 * latency
        if seed is not None:
            self.rng.seed(seed)

    async def _hold(self, seconds: float, receive: Receive) -> bool:
        """Wait `seconds`; False if the client disconnected first. Ending early matters:
        a request held for a timeout fault would otherwise outlive its client and keep
        the server from shutting down cleanly."""
        gone = False
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                nonlocal gone
                # With the body already read, the next message can only be a disconnect.
                if (await receive())["type"] == "http.disconnect":
                    gone = True
                    group.cancel_scope.cancel()

            group.start_soon(watch)
            await self.sleep(seconds)
            group.cancel_scope.cancel()
        return not gone

    def _too_many(self, wait: float) -> FaultResponse:
        body, ctype = self.error_body(429, self.rate_limit_message)
        headers = [("content-type", ctype)]
        if self.rate_limit_retry_after:
            headers.append(("retry-after", str(max(1, math.ceil(wait)))))
        return FaultResponse(429, headers, body)

    def _stamp(self, send: Send) -> Send:
        header = self.request_id_header
        if header is None:
            return send
        raw_name = header.lower().encode("latin-1")

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if all(name.lower() != raw_name for name, _ in headers):
                    headers.append((raw_name, uuid.uuid4().hex.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return stamped


def _record(scope: Scope, body: bytes) -> RecordedRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return RecordedRequest(scope["method"], scope["path"], query, headers, body)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Give the app the body we already consumed, then the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _damaged(send: Send, *, reset: bool) -> Send:
    """A `send` that holds the vendor's answer back, then passes on half of its body: with
    a length header that matches (truncated: a 2xx that does not parse), or with the
    original one and the connection dropped (reset)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def damaged(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        assert start is not None
        whole = b"".join(chunks)
        half = whole[: len(whole) // 2]
        if reset:
            await send(start)
            await send({"type": "http.response.body", "body": half, "more_body": True})
            raise SimulatedReset
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(half)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": half})

    return damaged


async def _send(send: Send, response: FaultResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
