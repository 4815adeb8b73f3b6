"""The one HTTP client factory every backend adapter uses.

It owns what every vendor call needs and no adapter should reinvent: timeouts on every
request, a per-instance rate limiter that matches the vendor's published window, retries
with backoff and jitter inside a time budget a tool call can afford, Retry-After handling,
links followed only to the configured origin, and failures turned into the typed errors of
`tools.errors` with credentials scrubbed. Adapters keep only what is vendor-specific: the
URL, the parameters, and (optionally) how to read an error message or a retry delay.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import html
import json as jsonlib
import logging
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import parse_qsl, quote

import anyio
import httpx
import pydantic_core

from tools import redact
from tools.errors import (
    BackendAuthError,
    BackendError,
    BackendNotFoundError,
    BackendRateLimitedError,
    BackendRequestError,
    BackendResponseError,
    BackendUnavailableError,
    ConfigError,
    RequestInfo,
)
from tools.limits import RateLimit

__all__ = [
    "USER_AGENT",
    "BackendHttp",
    "ClientConfig",
    "HttpStats",
    "ParamValue",
    "Params",
    "RateLimit",
    "RetryPolicy",
    "SlidingWindowLimiter",
    "Timeouts",
    "create_client",
    "default_error_message",
    "header_retry_after",
]

log = logging.getLogger("process_mcp.http")

USER_AGENT = "process-mcp/0.1"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VENDOR_MESSAGE_MAX = 300
BODY_SNIPPET_MAX = 200
# Never hand httpx a zero timeout when the budget is nearly spent: zero means "fail now".
_MIN_TIMEOUT = 0.05
_DEFAULT_PORTS = {"http": 80, "https": 443}

ParamValue: TypeAlias = str | int | float | bool
Params: TypeAlias = Mapping[str, ParamValue] | Sequence[tuple[str, ParamValue]]

# Failures where the request provably never reached the server: retrying cannot repeat a
# side effect, so even a POST may be retried.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be transient but may also have happened after the server acted.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


# --------------------------------------------------------------------------- settings


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
    """How hard one `request()` tries; `budget` bounds its total time, waits included."""

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    budget: float = 25.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff_base, self.backoff_cap, self.budget, self.max_retry_after) < 0:
            raise ValueError("retry delays and budget must not be negative")

    def backoff_bound(self, attempt: int) -> float:
        """Upper bound of the full-jitter wait after failed attempt number `attempt`."""
        # min() before the power would overflow for absurd attempt counts; cap the exponent.
        return min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, 62))


# --------------------------------------------------------------------------- vendor hints


def header_retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After` (delay-seconds or HTTP-date); None if absent or bad.

    An HTTP-date is measured from the response's own `Date` header when present, so a
    skewed local clock does not stretch or shrink the wait; otherwise from now.
    """
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, response.headers.get("date"))
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until(http_date: str, server_date: str | None) -> float | None:
    when = _parse_http_date(http_date)
    if when is None:
        return None
    now = _parse_http_date(server_date) if server_date else None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def default_error_message(response: httpx.Response) -> str | None:
    """Best-effort vendor message from an error body, at most 300 characters.

    Knows the shapes our vendors use: `message` (Tallyfy, yuuvis), Problem Details `detail`
    and `title` (Frends, Kommo), `error` as text or object, Chakra's `_errors`, and Laravel's
    `errors` map. An HTML body (proxy or API-block page) is reported as such, by its title.
    """
    text = response.text
    if not text.strip():
        return None
    if _is_html(response):
        title = _html_title(text)
        return _truncate(f"HTML page: {title}" if title else "HTML page")
    try:
        data = jsonlib.loads(text)
    except ValueError:
        return _truncate(text)
    return _truncate(_json_message(data) or text)


def _is_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    start = response.content[:200].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _html_title(text: str) -> str | None:
    match = _TITLE.search(text)
    if match is None:
        return None
    return _collapse(html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))) or None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, limit: int = VENDOR_MESSAGE_MAX) -> str:
    text = _collapse(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PRIMARY_KEYS = ("message", "detail", "title")
_DETAIL_KEYS = ("errors", "validation-errors", "validationErrors")


def _json_message(data: Any) -> str | None:
    """The main message plus the first field-level detail, if the body has both."""
    if isinstance(data, str):
        return data.strip() or None
    if isinstance(data, list):
        return _json_message(data[0]) if data else None
    if not isinstance(data, dict):
        return None
    main, detail = _primary_message(data), _first_detail(data)
    if main and detail and detail not in main:
        return f"{main} ({detail})"
    return main or detail


def _primary_message(data: dict[str, Any]) -> str | None:
    for key in _PRIMARY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    error = data.get("error")
    if isinstance(error, str) and error.strip():
        return error.strip()
    if isinstance(error, dict) and (nested := _primary_message(error)):
        return nested
    chakra_errors = data.get("_errors")
    if isinstance(chakra_errors, list) and chakra_errors:
        return _json_message(chakra_errors[0])
    return None


def _first_detail(data: dict[str, Any]) -> str | None:
    for key in _DETAIL_KEYS:
        value = data.get(key)
        if isinstance(value, dict) and value:
            name, first = next(iter(value.items()))
            message = _json_message(first)
            return f"{name}: {message}" if message else None
        if isinstance(value, list) and value:
            return _item_message(value[0])
    return None


def _item_message(item: Any) -> str | None:
    if not isinstance(item, dict):
        return _json_message(item)
    # Kommo nests its field errors one level down: validation-errors[0].errors[0].
    if "errors" in item and not any(key in item for key in _PRIMARY_KEYS):
        return _first_detail(item)
    message = _primary_message(item)
    where = item.get("path") or item.get("field")
    if message and isinstance(where, str) and where:
        return f"{where}: {message}"
    return message


# --------------------------------------------------------------------------- limits


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


@dataclass
class HttpStats:
    """Counters for tests and benchmarks."""

    requests: int = 0  # attempts actually sent
    retries: int = 0
    waited_seconds: float = 0.0  # backoff and Retry-After waits
    throttled_seconds: float = 0.0  # waits imposed by our own rate limiter


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


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme))


def _base_url(config: ClientConfig) -> httpx.URL:
    hint = f"Set the base URL of '{config.backend}' to an absolute http(s) URL."
    try:
        base = httpx.URL(config.base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid base URL for '{config.backend}': {exc}", hint=hint) from None
    if base.scheme not in _DEFAULT_PORTS or not base.host:
        shown = redact.scrub_url(config.base_url, config.secrets)
        raise ConfigError(f"invalid base URL for '{config.backend}': {shown}", hint=hint)
    # A trailing slash makes relative paths land under the prefix (`/api` + `runs`).
    path = base.raw_path.split(b"?", 1)[0]
    return base.copy_with(raw_path=path if path.endswith(b"/") else path + b"/")


def _param_text(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode_params(params: Params) -> str:
    # Encoded by hand: httpx groups repeated keys, and Kommo's `filter[...]` pairs must keep
    # their order. Brackets stay readable; everything else is percent-encoded.
    pairs: Iterable[tuple[str, ParamValue]] = (
        params.items() if isinstance(params, Mapping) else params
    )
    return "&".join(
        f"{quote(name, safe='[]')}={quote(_param_text(value), safe='[]')}" for name, value in pairs
    )


# --------------------------------------------------------------------------- client


@dataclass(frozen=True)
class _Outcome:
    """One attempt: a response, or the httpx error that replaced it."""

    response: httpx.Response | None
    error: httpx.RequestError | None
    timeout: httpx.Timeout


@dataclass(frozen=True)
class _Plan:
    """What to do after a failed attempt: wait `delay` and retry, or stop (and why)."""

    delay: float | None = None
    reason: str | None = None
    stopped: str | None = None


class BackendHttp:
    """One backend instance's HTTP client. Create with `create_client`; close with `aclose`."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.stats = HttpStats()
        self._base = _base_url(config)
        self._secrets = frozenset(config.secrets) | _header_secrets(config.headers)
        for secret in self._secrets:
            redact.register_secret(secret)
        self._rng = config.rng or random.Random()
        limit = config.rate_limit
        self._limiter = (
            SlidingWindowLimiter(limit.max_requests, limit.per_seconds, config.clock, config.sleep)
            if limit
            else None
        )
        self._slots = (
            anyio.Semaphore(limit.max_concurrency) if limit and limit.max_concurrency else None
        )
        t = config.timeouts
        self._client = httpx.AsyncClient(
            base_url=self._base,
            headers={"User-Agent": USER_AGENT, **config.headers},
            timeout=httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
            transport=config.transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- public calls

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        accept: Collection[int] = (),
    ) -> httpx.Response:
        """Send with retries; return a 2xx or `accept`ed response, else raise a BackendError.

        `url` is a path under the base URL, or an absolute link that must share its origin.
        """
        verb = method.upper()
        target = self._target(verb, url, params)
        secrets = self._secrets_for(target)
        shown = RequestInfo(verb, redact.scrub_url(str(target), secrets))
        repeatable = verb in IDEMPOTENT_METHODS if idempotent is None else idempotent
        started = self.config.clock()
        attempt = 0
        while True:
            attempt += 1
            outcome = await self._attempt(verb, target, json, headers, started, shown, attempt)
            response = outcome.response
            if response is not None and (response.is_success or response.status_code in accept):
                return response
            plan = self._plan(outcome, verb, repeatable, attempt, started)
            if plan.delay is None:
                raise self._failure(outcome, shown, attempt, plan, secrets)
            await self._wait(plan, shown, attempt)

    async def get_json(
        self, url: str, *, params: Params | None = None, accept: Collection[int] = ()
    ) -> Any:
        """GET and decode JSON; None for an empty body or an accepted non-2xx status."""
        response = await self.request("GET", url, params=params, accept=accept)
        return self._decode_json(response)

    async def post_json(
        self,
        url: str,
        *,
        json: Any,
        params: Params | None = None,
        idempotent: bool = True,
        accept: Collection[int] = (),
    ) -> Any:
        """POST JSON and decode JSON. Idempotent by default: our POSTs are read-only queries."""
        response = await self.request(
            "POST", url, params=params, json=json, idempotent=idempotent, accept=accept
        )
        return self._decode_json(response)

    # ---- addressing

    def _target(self, method: str, url: str, params: Params | None) -> httpx.URL:
        target = self._resolve(method, url)
        if not params:
            return target
        encoded = _encode_params(params)
        query = target.query.decode("ascii")
        return target.copy_with(query=(f"{query}&{encoded}" if query else encoded).encode())

    def _resolve(self, method: str, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise self._bad_link(method, url, "invalid URL") from None
        if not (parsed.scheme or parsed.host):
            return self._base.copy_with(raw_path=self._base.raw_path + parsed.raw_path.lstrip(b"/"))
        # Links come from backend responses; following one elsewhere would send our
        # credentials to whoever the backend (or an attacker in its data) points at.
        if _origin(parsed) != _origin(self._base):
            raise self._bad_link(method, url, "refusing to follow a link to another origin")
        return parsed

    def _bad_link(self, method: str, url: str, what: str) -> BackendResponseError:
        shown = self._scrub_url(url)
        return BackendResponseError(
            f"{what}: {shown}",
            backend=self.config.backend,
            request=RequestInfo(method, shown),
            hint=(
                f"Links are followed only to the origin of '{self.config.backend}' "
                f"({self._scrub_url(str(self._base))}). If the backend moved, update the "
                "instance's base URL."
            ),
        )

    # ---- one attempt

    async def _attempt(
        self,
        method: str,
        target: httpx.URL,
        body: Any,
        headers: Mapping[str, str] | None,
        started: float,
        shown: RequestInfo,
        attempt: int,
    ) -> _Outcome:
        if self._slots is None:
            return await self._send(method, target, body, headers, started, shown, attempt)
        async with self._slots:
            return await self._send(method, target, body, headers, started, shown, attempt)

    async def _send(
        self,
        method: str,
        target: httpx.URL,
        body: Any,
        headers: Mapping[str, str] | None,
        started: float,
        shown: RequestInfo,
        attempt: int,
    ) -> _Outcome:
        clock = self.config.clock
        if self._limiter is not None:
            self.stats.throttled_seconds += await self._limiter.acquire()
        timeout = self.config.timeouts.within(self.config.retry.budget - (clock() - started))
        request = self._client.build_request(
            method, target, json=body, headers=headers, timeout=timeout
        )
        self.stats.requests += 1
        sent_at = clock()
        try:
            response = await self._client.send(request)
        except httpx.RequestError as exc:
            self._log_attempt(shown, type(exc).__name__, clock() - sent_at, attempt)
            return _Outcome(None, exc, timeout)
        self._log_attempt(shown, str(response.status_code), clock() - sent_at, attempt)
        # httpx links a response and its body stream both ways, so every response is cyclic
        # garbage that only the collector frees; list pages of megabytes then pile up for
        # the length of an export. The body is read already: drop the stream, end the cycle.
        response.stream = httpx.ByteStream(b"")
        return _Outcome(response, None, timeout)

    @staticmethod
    def _log_attempt(shown: RequestInfo, result: str, seconds: float, attempt: int) -> None:
        log.debug(
            "%s %s -> %s in %d ms (attempt %d)",
            shown.method,
            shown.url,
            result,
            round(seconds * 1000),
            attempt,
        )

    # ---- retry decisions

    def _plan(
        self, outcome: _Outcome, method: str, repeatable: bool, attempt: int, started: float
    ) -> _Plan:
        reason = self._retry_reason(outcome, repeatable)
        if reason is None:
            return _Plan(stopped=self._not_retried_note(outcome, method))
        policy = self.config.retry
        if attempt >= policy.max_attempts:
            return _Plan(stopped=f"gave up after {attempt} attempts")
        remaining = policy.budget - (self.config.clock() - started)
        retry_after = self._retry_after(outcome.response)
        if retry_after is not None:
            return self._plan_retry_after(retry_after, remaining, reason)
        delay = self._rng.uniform(0.0, policy.backoff_bound(attempt))
        if delay >= remaining:
            return _Plan(stopped=f"the retry budget of {policy.budget:g} s is used up")
        return _Plan(delay=delay, reason=reason)

    def _plan_retry_after(self, retry_after: float, remaining: float, reason: str) -> _Plan:
        limit = min(self.config.retry.max_retry_after, remaining)
        if retry_after > limit:
            # Waiting would outlast the tool call; fail now and let the caller decide.
            return _Plan(
                stopped=f"the backend asks to wait {retry_after:g} s, longer than this call "
                f"can wait ({max(limit, 0.0):.3g} s)"
            )
        # A little jitter so that callers told the same delay do not return in lockstep.
        jitter = self._rng.uniform(0.0, 0.1 * retry_after)
        return _Plan(delay=min(retry_after + jitter, remaining), reason=reason)

    def _retry_reason(self, outcome: _Outcome, repeatable: bool) -> str | None:
        response, error = outcome.response, outcome.error
        if response is not None:
            status = response.status_code
            if status not in self.config.retry.retry_statuses:
                return None
            # A 429 means the request was not processed, so even a POST is safe to repeat.
            return f"HTTP {status}" if status == 429 or repeatable else None
        if isinstance(error, _NEVER_SENT) or (repeatable and isinstance(error, _TRANSIENT)):
            return type(error).__name__
        return None

    def _not_retried_note(self, outcome: _Outcome, method: str) -> str | None:
        response, error = outcome.response, outcome.error
        retriable_status = (
            response is not None and response.status_code in self.config.retry.retry_statuses
        )
        if retriable_status or isinstance(error, _TRANSIENT):
            return f"not retried: {method} may not be safe to repeat"
        return None

    def _retry_after(self, response: httpx.Response | None) -> float | None:
        if response is None:
            return None
        try:
            value = self.config.retry_after(response)
        except Exception:
            # A vendor-specific reader choking on an odd body must not hide the real error.
            return None
        return value if value is not None and math.isfinite(value) and value >= 0 else None

    async def _wait(self, plan: _Plan, shown: RequestInfo, attempt: int) -> None:
        delay = plan.delay or 0.0
        self.stats.retries += 1
        log.warning(
            "%s %s: %s; retrying in %.2f s (attempt %d of %d)",
            shown.method,
            shown.url,
            plan.reason,
            delay,
            attempt,
            self.config.retry.max_attempts,
        )
        await self.config.sleep(delay)
        self.stats.waited_seconds += delay

    # ---- failures

    def _failure(
        self,
        outcome: _Outcome,
        shown: RequestInfo,
        attempts: int,
        plan: _Plan,
        secrets: frozenset[str],
    ) -> BackendError:
        if outcome.response is not None:
            return self._status_failure(outcome.response, shown, attempts, plan, secrets)
        assert outcome.error is not None  # an outcome always has one of the two
        return self._transport_failure(outcome.error, outcome.timeout, shown, attempts, secrets)

    def _status_failure(
        self,
        response: httpx.Response,
        shown: RequestInfo,
        attempts: int,
        plan: _Plan,
        secrets: frozenset[str],
    ) -> BackendError:
        status = response.status_code
        backend = self.config.backend
        vendor = self._vendor_message(response, secrets)
        note = _attempts_note(attempts, plan)
        if status in (401, 403):
            page = " (an HTML page answered, not the API: a proxy or an API block)"
            message = "credentials or headers were rejected" if status == 401 else "access denied"
            return BackendAuthError(
                message + (page if _is_html(response) else ""),
                backend=backend,
                request=shown,
                status=status,
                vendor_message=vendor,
                hint=self._auth_hint(status),
            )
        if status == 404:
            return BackendNotFoundError(
                "not found",
                backend=backend,
                request=shown,
                status=status,
                vendor_message=vendor,
                hint="Check the id (list the processes to find valid ones) and the base URL.",
            )
        if status == 429:
            retry_after = self._retry_after(response)
            return BackendRateLimitedError(
                "rate limited" + note,
                backend=backend,
                retry_after=retry_after,
                request=shown,
                status=status,
                vendor_message=vendor,
                hint=_rate_limit_hint(retry_after),
            )
        if status >= 500:
            return BackendUnavailableError(
                "the backend failed" + note,
                backend=backend,
                request=shown,
                status=status,
                vendor_message=vendor,
                hint="The backend is having trouble; try again in a few minutes.",
            )
        if 300 <= status < 400:
            location = redact.scrub_url(response.headers.get("location", "?"), secrets)
            return BackendResponseError(
                f"unexpected redirect to {location}",
                backend=backend,
                request=shown,
                status=status,
                hint="Check the instance's base URL (https? path prefix?); redirects are "
                "not followed.",
            )
        if 400 <= status < 500:
            return BackendRequestError(
                "the backend refused the request",
                backend=backend,
                request=shown,
                status=status,
                vendor_message=vendor,
                hint="Change the arguments the backend refused (see its message), then call again.",
            )
        return BackendResponseError(
            "unexpected HTTP status", backend=backend, request=shown, status=status
        )

    def _transport_failure(
        self,
        error: httpx.RequestError,
        timeout: httpx.Timeout,
        shown: RequestInfo,
        attempts: int,
        secrets: frozenset[str],
    ) -> BackendError:
        backend = self.config.backend
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        if isinstance(error, httpx.TimeoutException):
            return BackendUnavailableError(
                f"timed out after {_timeout_seconds(error, timeout):g} s{tries}",
                backend=backend,
                request=shown,
                hint="The backend is slow or unreachable; try again later or ask for fewer rows.",
            )
        detail = redact.scrub(str(error), secrets) or type(error).__name__
        if isinstance(error, httpx.TransportError):
            return BackendUnavailableError(
                f"could not connect: {_truncate(detail)}{tries}",
                backend=backend,
                request=shown,
                hint="Check the instance's base URL and the network; the backend may be down.",
            )
        return BackendResponseError(
            f"could not read the response: {_truncate(detail)}", backend=backend, request=shown
        )

    def _auth_hint(self, status: int) -> str:
        if self.config.auth_hint:
            return self.config.auth_hint
        if status == 401:
            return (
                f"Check the token configured for the '{self.config.backend}' instance "
                "(its token variable) and any header the API requires; then call again."
            )
        return (
            f"The '{self.config.backend}' credentials lack permission, or the API blocked "
            "this client. Check the instance's token variable, its required headers and "
            "the account's rights."
        )

    def _vendor_message(self, response: httpx.Response, secrets: frozenset[str]) -> str | None:
        try:
            message = self.config.error_message(response)
        except Exception:
            # A custom reader failing on an odd body must not mask the HTTP error itself.
            message = None
        if not message:
            return None
        return _truncate(redact.scrub(message, secrets)) or None

    # ---- bodies

    def _decode_json(self, response: httpx.Response) -> Any:
        if not response.is_success or not response.content.strip():
            return None
        try:
            # pydantic-core's parser: about 3x faster than json.loads on list pages, which
            # an export of many rows parses hundreds of (JSON bodies are UTF-8 by RFC 8259).
            return pydantic_core.from_json(response.content)
        except ValueError:
            raise self._malformed(response) from None

    def _malformed(self, response: httpx.Response) -> BackendResponseError:
        request = response.request
        secrets = self._secrets_for(request.url)
        # Scrub before cutting, so a secret straddling the cut cannot leak its first half.
        text = redact.scrub(response.text[:4096], secrets)
        kind = " (an HTML page)" if _is_html(response) else ""
        return BackendResponseError(
            f"malformed JSON in response{kind}: {_collapse(text)[:BODY_SNIPPET_MAX]!r}",
            backend=self.config.backend,
            request=RequestInfo(request.method, redact.scrub_url(str(request.url), secrets)),
            status=response.status_code,
            hint="The backend answered with something that is not JSON; check the base URL "
            "(a login or proxy page?) and try again later.",
        )

    # ---- redaction

    def _all_secrets(self) -> frozenset[str]:
        # The registry also holds tokens adapters obtain at run time (OAuth refreshes).
        return self._secrets | redact.registered_secrets()

    def _secrets_for(self, url: httpx.URL) -> frozenset[str]:
        # A credential passed as a query parameter (`api_key=...`) is scrubbed wherever the
        # backend echoes it, but only for this request: names like `key` are too generic to
        # register the value process-wide.
        in_query = {
            value
            for name, value in parse_qsl(url.query.decode("ascii"), keep_blank_values=True)
            if redact.is_sensitive_param(name)
        }
        return self._all_secrets() | in_query

    def _scrub_url(self, url: str) -> str:
        return redact.scrub_url(url, self._all_secrets())


def _attempts_note(attempts: int, plan: _Plan) -> str:
    if plan.stopped:
        return f" ({plan.stopped})"
    return f" ({attempts} attempts)" if attempts > 1 else ""


def _rate_limit_hint(retry_after: float | None) -> str:
    if retry_after is None:
        return "Wait a minute, then call again; fewer or larger pages need fewer requests."
    return f"Wait {math.ceil(retry_after)} seconds, then call again."


def _timeout_seconds(error: httpx.TimeoutException, timeout: httpx.Timeout) -> float:
    if isinstance(error, httpx.ConnectTimeout):
        value = timeout.connect
    elif isinstance(error, httpx.WriteTimeout):
        value = timeout.write
    elif isinstance(error, httpx.PoolTimeout):
        value = timeout.pool
    else:
        value = timeout.read
    return value or 0.0


def create_client(config: ClientConfig) -> BackendHttp:
    """The one way adapters get an HTTP client; raises ConfigError for a bad base URL."""
    return BackendHttp(config)
