"""Injectable failures for the simulators.

A `FaultPlan` is consulted once per request (before the vendor app runs). Each armed
`Fault` lets `after` matching requests through, then fires on the next `times` matching
requests (`times=None` = forever). Faults are checked in the order they were added; the
first one that fires wins, and a fault still counting down its `after` does not stop a
later fault from firing.

Kinds:
    status     `status` with the vendor's own error body (or `body` verbatim)
    latency    wait `delay` seconds, then let the request through to the vendor app
    timeout    hold the request `delay` seconds, then 504 from the "gateway" (nginx HTML),
               so a client whose timeout is shorter than `delay` sees its own timeout fire
    malformed  200 with a JSON body cut off mid-object
    html       `status` (default 503) with an nginx-style HTML page, as a proxy would send
    truncated  the vendor's own answer, its body cut in half on the way back (a 2xx then
               does not parse; the length header matches what is sent)
    reset      the vendor's own answer, the connection dropped halfway through its body

A plan can also inject at random (`random_mix(rate, seed)`, the sandbox's `--faults`):
each request that no armed fault takes gets, with probability `rate`, one of MIX - a 429
with Retry-After: 1, a 500 or 503 in the vendor's words, a proxy's 502, a timeout, a reset
or a truncated body - drawn from a seeded generator, so one seed gives one sequence.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

import httpx

FaultKind = Literal["status", "latency", "timeout", "malformed", "html", "truncated", "reset"]

# (status, message) -> (body, content type): how one vendor words its errors.
ErrorBody = Callable[[int, str], tuple[bytes, str]]

MALFORMED_BODY = b'{"data": [{"id": "3f2a9c1e0b7d4e58a6c2f1d0e9b8a7c6", "name": "Onboard'

_NGINX_PHRASES = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    path: str | None = None
    times: int | None = 1
    after: int = 0
    body: str | None = None

    def matches(self, path: str) -> bool:
        return self.path is None or re.search(self.path, path) is not None


class SimulatedReset(httpx.RemoteProtocolError):
    """Raised by the core to drop a connection mid-body (a `reset` fault). Over a socket
    the server closes the connection, and the client sees its own protocol error; through
    an in-process ASGI transport the client sees this, which is that same error."""

    def __init__(self) -> None:
        super().__init__("peer closed connection without sending complete message body")


@dataclass(frozen=True)
class FaultResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_error_body(status: int, message: str) -> tuple[bytes, str]:
    """A neutral default for simulators that have not supplied their own."""
    return json.dumps({"message": message}).encode(), "application/json"


def nginx_page(status: int) -> bytes:
    phrase = _NGINX_PHRASES.get(status) or _phrase(status)
    title = f"{status} {phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def retry_after_value(seconds: float) -> str:
    """Whole seconds print as an integer, since most clients parse Retry-After with int()."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def build_response(fault: Fault, error_body: ErrorBody) -> FaultResponse | None:
    """The response a fault sends, or None when the request should go on to the app."""
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", retry_after_value(fault.retry_after)))
    if fault.kind in ("latency", "truncated", "reset"):
        return None  # the vendor answers; the core damages the answer on its way back
    if fault.kind == "malformed":
        headers.append(("content-type", "application/json"))
        return FaultResponse(200, headers, MALFORMED_BODY)
    if fault.kind in ("html", "timeout"):
        status = 504 if fault.kind == "timeout" else fault.status
        headers.append(("content-type", "text/html"))
        return FaultResponse(status, headers, nginx_page(status))
    if fault.body is not None:
        body, ctype = fault.body.encode(), _guess_type(fault.body)
    else:
        body, ctype = error_body(fault.status, _phrase(fault.status))
    headers.append(("content-type", ctype))
    return FaultResponse(fault.status, headers, body)


# How long a random `timeout` fault holds a request: just past our client's 20 s read
# timeout, so that the client's own timeout fires (a client that waits longer gets a 504).
RANDOM_TIMEOUT_HOLD = 21.0
MIX: tuple[Fault, ...] = (
    Fault(kind="status", status=429, retry_after=1),
    Fault(kind="status", status=500),
    Fault(kind="status", status=503),
    Fault(kind="html", status=502),
    Fault(kind="timeout", delay=RANDOM_TIMEOUT_HOLD),
    Fault(kind="reset"),
    Fault(kind="truncated"),
)


class FaultPlan:
    """Armed faults with their counters; shared between the test thread and the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self.random_rate = 0.0
        self._rng = random.Random(0)
        self.mix = MIX
        self.fired: dict[str, int] = {}  # random faults sent, by kind (and status)

    def random_mix(self, rate: float, seed: int = 0, mix: tuple[Fault, ...] = MIX) -> None:
        """Inject one of `mix` into a share `rate` (0 to 1) of the requests, at random."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("a fault rate is a share of requests, from 0 to 1")
        with self._lock:
            self.random_rate = rate
            self._rng = random.Random(seed)
            self.mix = mix
            self.fired = {}

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._armed.append(_Armed(fault))
        return fault

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self.random_rate = 0.0

    def take(self, path: str) -> Fault | None:
        """The fault to apply to a request for `path`, consuming its counters."""
        with self._lock:
            chosen: Fault | None = None
            for armed in self._armed:
                if armed.exhausted or not armed.fault.matches(path):
                    continue
                if armed.seen < armed.fault.after:
                    armed.seen += 1
                    continue
                armed.fired += 1
                chosen = armed.fault
                break
            self._armed = [a for a in self._armed if not a.exhausted]
            if chosen is None and self.random_rate and self._rng.random() < self.random_rate:
                chosen = self._rng.choice(self.mix)
                name = chosen.kind if chosen.kind != "status" else str(chosen.status)
                self.fired[name] = self.fired.get(name, 0) + 1
            return chosen

    @property
    def pending(self) -> list[Fault]:
        """Faults that can still fire."""
        with self._lock:
            return [a.fault for a in self._armed if not a.exhausted]


class _Armed:
    __slots__ = ("fault", "fired", "seen")

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.seen = 0
        self.fired = 0

    @property
    def exhausted(self) -> bool:
        return self.fault.times is not None and self.fired >= self.fault.times


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _guess_type(body: str) -> str:
    return "application/json" if body.lstrip()[:1] in ("{", "[") else "text/plain"
