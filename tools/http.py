"""The one HTTP client factory every backend adapter uses.

It owns what every vendor call needs and no adapter should reinvent: timeouts on every
request, a per-instance rate limiter that matches the vendor's published window, retries
with backoff and jitter inside a time budget a tool call can afford, Retry-After handling,
links followed only to the configured origin, and failures turned into the typed errors of
`tools.errors` with credentials scrubbed. Adapters keep only what is vendor-specific: the
URL, the parameters, and (optionally) how to read an error message or a retry delay.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

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
    RequestInfo,
)
from tools.http_config import (
    ClientConfig,
    HttpStats,
    Params,
    ParamValue,
    RetryPolicy,
    Timeouts,
    _base_url,
    _encode_params,
    _header_secrets,
    _origin,
)
from tools.limiter import SlidingWindowLimiter
from tools.limits import RateLimit
from tools.vendor_messages import (
    _collapse,
    _is_html,
    _truncate,
    default_error_message,
    header_retry_after,
)

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
BODY_SNIPPET_MAX = 200

# Failures where the request provably never reached the server: retrying cannot repeat a
# side effect, so even a POST may be retried.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be transient but may also have happened after the server acted.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


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
