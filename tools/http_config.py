"""Settings of one backend instance's HTTP client: timeouts, retry policy, credentials.
Kept apart from the client so that its pieces can be read, and tested, on their own
(addressing lives in `tools.http_address`)."""

from __future__ import annotations

import base64
import binascii
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import anyio
import httpx

from tools.limiter import Quotas
from tools.limits import RateLimit
from tools.shared_cache import SharedCache
from tools.vendor_messages import default_error_message, header_retry_after

ParamValue: TypeAlias = str | int | float | bool
Params: TypeAlias = Mapping[str, ParamValue] | Sequence[tuple[str, ParamValue]]

# Never hand httpx a zero timeout when the budget is nearly spent: zero means "fail now".
_MIN_TIMEOUT = 0.05


@dataclass(frozen=True)
class Timeouts:
    """Per-request timeouts in seconds (httpx applies `read` to each read, not the total)."""

    connect: float = 5.0
    read: float = 20.0
    write: float = 10.0
    pool: float = 5.0

    def within(self, remaining: float) -> httpx.Timeout:
        """These timeouts, each cut to what is left of the request's budget."""
        limit = max(remaining, _MIN_TIMEOUT)
        return httpx.Timeout(
            connect=min(self.connect, limit),
            read=min(self.read, limit),
            write=min(self.write, limit),
            pool=min(self.pool, limit),
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one `request()` tries after failures.

    `max_attempts` and `budget` bound the failures only: the attempts that failed (a 5xx,
    a reset, a timeout, a body that does not parse) and the backoff between them. A 429 is
    not a failure but the vendor's pace: its waits, like our own limiter's, count against
    the operation's deadline (tools/operation.py), never against this budget, and only
    `max_rate_limited` 429s in a row end a request (a vendor that never lets it through).
    Without a Retry-After, 429s back off from 1 s up to one window of the vendor's
    published limit (at most `rate_limited_cap`).
    """

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # Two read timeouts (20 s each) and the backoff between them still leave a third try.
    budget: float = 45.0
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})
    max_rate_limited: int = 100
    rate_limited_cap: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_rate_limited < 1:
            raise ValueError("max_attempts and max_rate_limited must be at least 1")
        if min(self.backoff_base, self.backoff_cap, self.budget, self.rate_limited_cap) < 0:
            raise ValueError("retry delays and budget must not be negative")

    def backoff_bound(self, attempt: int) -> float:
        """Upper bound of the full-jitter wait after failed attempt number `attempt`."""
        # min() before the power would overflow for absurd attempt counts; cap the exponent.
        return min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, 62))


@dataclass
class HttpStats:
    """Counters for tests and benchmarks."""

    requests: int = 0  # attempts actually sent
    retries: int = 0  # attempts repeated after a failure or a 429
    rate_limited: int = 0  # 429 answers
    waited_seconds: float = 0.0  # backoff waits, and 429 waits slept outside a limiter
    throttled_seconds: float = 0.0  # waits in our own rate limiter (429 holds included)


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class ClientConfig:
    """Everything one backend instance needs; `headers` carry credentials and never leak."""

    backend: str
    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_limit: RateLimit | None = None
    error_message: Callable[[httpx.Response], str | None] = default_error_message
    retry_after: Callable[[httpx.Response], float | None] = header_retry_after
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    rng: random.Random | None = None
    # What to tell the model on 401/403, e.g. "set TALLYFY_TOKEN; X-Tallyfy-Client is sent".
    auth_hint: str | None = None
    # Where the quota window lives; None: a window of this client's own.
    quotas: Quotas | None = None
    # The vendor's name for people ("Tallyfy"), in quota notes and progress messages.
    vendor: str | None = None
    # Which vendor account this is (base URL plus org, subdomain or tenant): the key of
    # its quota window and of its shared cache entries. None: the base URL alone.
    account: str | None = None
    # Discovery responses shared with other replicas for a TTL (Redis); None: none.
    shared_cache: SharedCache | None = None


_SENSITIVE_HEADER = re.compile(
    r"auth|token|secret|key|passw|cookie|session|signature", re.IGNORECASE
)


def _header_secrets(headers: Mapping[str, str]) -> frozenset[str]:
    """Credential values carried in headers, in every form a vendor might echo back."""
    found: set[str] = set()
    for name, value in headers.items():
        if not _SENSITIVE_HEADER.search(name):
            continue
        found.add(value)
        scheme, _, credentials = value.strip().partition(" ")
        if credentials:
            found.add(credentials.strip())
        if scheme.lower() == "basic" and credentials:
            found.update(_basic_parts(credentials.strip()))
    return frozenset(found)


def _basic_parts(encoded: str) -> set[str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return set()
    password = decoded.partition(":")[2]
    return {decoded, password} if password else {decoded}
