"""The one HTTP client factory every backend adapter uses.

It owns what every vendor call needs and no adapter should reinvent: timeouts on every
request, a per-instance rate limiter that matches the vendor's published window, retries
with backoff and jitter inside a time budget a tool call can afford, Retry-After handling,
links followed only to the configured origin, and failures turned into the typed errors of
`tools.errors` with credentials scrubbed. Adapters keep only what is vendor-specific: the
URL, the parameters, and (optionally) how to read an error message or a retry delay.

Waiting is not failing: the retry budget and each attempt's timeout cover the network and
the backoff after failures only; waits for a quota (our limiter's window, a 429's
Retry-After) are bounded by the operation's deadline (tools/operation.py). Reads (every
GET, and POSTs marked idempotent such as Chakra's list) are retried on 500/502/503/504,
resets, timeouts and 2xx bodies that do not parse.

Its parts: `tools.http_config` (settings), `tools.http_address` (where a request may go),
`tools.limiter` (the quota window), `tools.http_quota` (waiting for it, and 429s),
`tools.http_retry` (whether to try again) and `tools.http_failures` (the typed error of a
failed request).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
from collections.abc import Callable, Collection, Mapping
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl

import anyio
import httpx
import msgspec
import pydantic_core

from tools import redact
from tools.decode import decode_json
from tools.errors import BackendResponseError, RequestInfo
from tools.http_address import base_url, encode_params, origin, under_base, unsafe_path
from tools.http_config import (
    ClientConfig,
    HttpStats,
    Params,
    ParamValue,
    RetryPolicy,
    Timeouts,
    _header_secrets,
)
from tools.http_failures import bad_link_failure, failure, malformed, unsafe_path_failure
from tools.http_quota import Pacing
from tools.http_retry import Outcome, Plan, plan_retry
from tools.limiter import QuotaLimiter, Quotas
from tools.limits import RateLimit
from tools.operation import Operation
from tools.operation import current as current_operation
from tools.vendor_messages import default_error_message, header_retry_after

T = TypeVar("T")
# True: JSON as Python values; a callable: bytes to a value, ValueError when not JSON.
Decode = bool | Callable[[bytes], Any]

__all__ = [
    "USER_AGENT",
    "BackendHttp",
    "ClientConfig",
    "HttpStats",
    "ParamValue",
    "Params",
    "QuotaLimiter",
    "Quotas",
    "RateLimit",
    "RetryPolicy",
    "Timeouts",
    "create_client",
    "default_error_message",
    "header_retry_after",
]

log = logging.getLogger("process_mcp.http")

USER_AGENT = "process-mcp/0.1"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BackendHttp:
    """One backend instance's HTTP client. Create with `create_client`; close with `aclose`."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.stats = HttpStats()
        self._base = base_url(config)
        self._secrets = frozenset(config.secrets) | _header_secrets(config.headers)
        for secret in self._secrets:
            redact.register_secret(secret)
        self._rng = config.rng or random.Random()
        limit = config.rate_limit
        self._account = config.account or str(self._base)
        self._pacing = Pacing(config, self._account, self.stats, self._rng)
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
        outcome = await self._call(method, url, params, json, headers, idempotent, accept)
        assert outcome.response is not None
        return outcome.response

    async def get_json(
        self,
        url: str,
        *,
        params: Params | None = None,
        accept: Collection[int] = (),
        shared_ttl: float | None = None,
    ) -> Any:
        """GET and decode JSON; None for an empty body or an accepted non-2xx status. A
        body that does not parse is read again, like a 5xx. `shared_ttl`: a discovery read
        that replicas share through the shared cache for that long (when there is one)."""
        cache = self.config.shared_cache if shared_ttl else None
        if cache is None:
            return (await self._call("GET", url, params, None, None, None, accept, True)).body
        key = self._cache_key(self._target("GET", url, params))
        cached = await cache.get(key)
        if cached is not None:
            return pydantic_core.from_json(cached) if cached.strip() else None
        outcome = await self._call("GET", url, params, None, None, None, accept, True)
        response = outcome.response
        if response is not None and response.is_success:
            await cache.set(key, response.content, shared_ttl or 0.0)
        return outcome.body

    async def get_typed(
        self,
        url: str,
        shape: type[T],
        *,
        params: Params | None = None,
        shared_ttl: float | None = None,
    ) -> T:
        """GET and decode the body straight into `shape` (tools/decode.py): only the fields
        the shape declares are built. A body that is not JSON is read again, as get_json's
        is; JSON of another shape is a BackendResponseError naming the field (not retried:
        the same read answers the same). `shared_ttl` as for get_json."""
        found = await self._typed("GET", url, shape, params, None, shared_ttl, empty=False)
        assert found is not None  # an empty body is malformed here
        return found

    async def get_typed_or_none(
        self, url: str, shape: type[T], *, params: Params | None = None
    ) -> T | None:
        """get_typed, but None for an empty 2xx body (Kommo's 204 past a list's end)."""
        return await self._typed("GET", url, shape, params, None, None, empty=True)

    async def post_typed(self, url: str, shape: type[T], *, json: Any) -> T:
        """POST JSON that only reads (Chakra's list), retried like a GET, and decode the
        answer straight into `shape` as get_typed does."""
        found = await self._typed("POST", url, shape, None, json, None, empty=False)
        assert found is not None  # an empty body is malformed here
        return found

    async def _typed(
        self,
        method: str,
        url: str,
        shape: type[T],
        params: Params | None,
        body: Any,
        shared_ttl: float | None,
        *,
        empty: bool,
    ) -> T | None:
        target = self._target(method, url, params)
        request = RequestInfo(method, self._scrub_url(str(target)))

        def parse(content: bytes) -> T:
            return decode_json(content, shape, backend=self.config.backend, request=request)

        cache = self.config.shared_cache if shared_ttl else None
        key = self._cache_key(target) if cache is not None else ""
        if cache is not None:
            cached = await cache.get(key)
            if cached is not None:
                with contextlib.suppress(msgspec.DecodeError):
                    return parse(cached)
        # Every typed call is a read: a POST here (Chakra's list) is retried like a GET.
        outcome = await self._call(method, url, params, body, None, True, (), parse)
        response = outcome.response
        assert response is not None  # _call returns a response or raises
        if outcome.body is None:  # an empty 2xx body
            if empty:
                return None
            raise malformed(self.config, response, self._secrets_for(target))
        if cache is not None:
            await cache.set(key, response.content, shared_ttl or 0.0)
        return outcome.body  # type: ignore[no-any-return]

    async def post_json(
        self,
        url: str,
        *,
        json: Any,
        params: Params | None = None,
        idempotent: bool = False,
        accept: Collection[int] = (),
    ) -> Any:
        """POST JSON and decode JSON. `idempotent=True` marks a POST that is a read (Chakra's
        list): it is then retried like a GET."""
        return (await self._call("POST", url, params, json, None, idempotent, accept, True)).body

    # ---- the retry loop

    async def _call(
        self,
        method: str,
        url: str,
        params: Params | None,
        body: Any,
        headers: Mapping[str, str] | None,
        idempotent: bool | None,
        accept: Collection[int],
        decode: Decode = False,
    ) -> Outcome:
        verb = method.upper()
        target = self._target(verb, url, params)
        secrets = self._secrets_for(target)
        shown = RequestInfo(verb, redact.scrub_url(str(target), secrets))
        repeatable = verb in IDEMPOTENT_METHODS if idempotent is None else idempotent
        op = current_operation() or Operation(
            self.config.clock() + self.config.retry.budget, self.config.clock
        )
        spent = 0.0  # network time and backoff: what the retry budget covers
        failures = limited = 0
        while True:
            attempt = failures + limited + 1
            remaining = self.config.retry.budget - spent
            outcome = await self._attempt(
                verb, target, body, headers, remaining, shown, op, decode, attempt
            )
            spent += outcome.seconds
            response = outcome.response
            accepted = response is not None and response.status_code in accept
            if outcome.succeeded or (accepted and not outcome.malformed):
                return outcome
            if outcome.rate_limited:
                limited += 1
                await self._pacing.rate_limited(outcome, limited, attempt, shown, op, secrets)
                continue
            plan = plan_retry(
                self.config,
                self._rng,
                outcome,
                method=verb,
                repeatable=repeatable,
                attempt=failures + 1,
                remaining=self.config.retry.budget - spent,
            )
            failures += 1
            if plan.delay is None:
                if outcome.malformed and response is not None:
                    raise malformed(self.config, response, secrets)
                raise failure(self.config, outcome, shown, attempt, plan, secrets)
            await self._backoff(plan, shown, attempt)
            spent += plan.delay
            op.retried(
                self.config.backend, plan.reason or "a failure", plan.delay + outcome.seconds
            )

    async def _backoff(self, plan: Plan, shown: RequestInfo, attempt: int) -> None:
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

    # ---- addressing

    def _target(self, method: str, url: str, params: Params | None) -> httpx.URL:
        target = self._resolve(method, url)
        if not params:
            return target
        encoded = encode_params(params)
        query = target.query.decode("ascii")
        return target.copy_with(query=(f"{query}&{encoded}" if query else encoded).encode())

    def _resolve(self, method: str, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            raise self._bad_link(method, url, "invalid URL") from None
        if not (parsed.scheme or parsed.host):
            # Checked as the adapter wrote it: httpx would resolve `..` before we saw it.
            why = unsafe_path(url)
            if why is not None:
                shown = RequestInfo(method, self._scrub_url(str(self._base) + url.lstrip("/")))
                raise unsafe_path_failure(self.config, shown, why)
            return under_base(self._base, parsed)
        # Links come from backend responses; following one elsewhere would send our
        # credentials to whoever the backend (or an attacker in its data) points at.
        if origin(parsed) != origin(self._base):
            raise self._bad_link(method, url, "refusing to follow a link to another origin")
        return parsed

    def _bad_link(self, method: str, url: str, what: str) -> BackendResponseError:
        base = self._scrub_url(str(self._base))
        return bad_link_failure(self.config, method, self._scrub_url(url), base, what)

    # ---- one attempt

    async def _attempt(
        self,
        method: str,
        target: httpx.URL,
        body: Any,
        headers: Mapping[str, str] | None,
        remaining: float,
        shown: RequestInfo,
        op: Operation,
        decode: Decode,
        attempt: int,
    ) -> Outcome:
        on_wait = self._pacing.on_wait(op, shown)
        async with AsyncExitStack() as held:
            if self._slots is not None:
                await held.enter_async_context(self._slots)
            # The quota slots are held until the response is in: see tools/limiter.py for
            # why that, and not the start, keeps arrivals at the vendor within its window.
            for limiter in self._pacing.limiters:
                self.stats.throttled_seconds += await held.enter_async_context(
                    limiter.slot(on_wait)
                )
            return await self._exchange(
                method, target, body, headers, remaining, shown, decode, attempt
            )

    async def _exchange(
        self,
        method: str,
        target: httpx.URL,
        body: Any,
        headers: Mapping[str, str] | None,
        remaining: float,
        shown: RequestInfo,
        decode: Decode,
        attempt: int,
    ) -> Outcome:
        clock = self.config.clock
        timeout = self.config.timeouts.within(remaining)
        request = self._client.build_request(
            method, target, json=body, headers=headers, timeout=timeout
        )
        self.stats.requests += 1
        sent_at = clock()
        try:
            response = await self._client.send(request)
        except httpx.RequestError as exc:
            self._log_attempt(shown, type(exc).__name__, clock() - sent_at, attempt)
            return Outcome(None, exc, timeout, clock() - sent_at)
        seconds = clock() - sent_at
        self._log_attempt(shown, str(response.status_code), seconds, attempt)
        # httpx links a response and its body stream both ways, so every response is cyclic
        # garbage that only the collector frees; list pages of megabytes then pile up for
        # the length of an export. The body is read already: drop the stream, end the cycle.
        response.stream = httpx.ByteStream(b"")
        if not decode or not response.is_success or not response.content.strip():
            return Outcome(response, None, timeout, seconds)
        try:
            # pydantic-core's parser: about 3x faster than json.loads on list pages, which
            # an export of many rows parses hundreds of (JSON bodies are UTF-8 by RFC 8259).
            parsed = (pydantic_core.from_json if decode is True else decode)(response.content)
        except ValueError:  # msgspec.DecodeError included; a shape error is not one
            return Outcome(response, None, timeout, seconds, malformed=True)
        return Outcome(response, None, timeout, seconds, body=parsed)

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

    def _cache_key(self, target: httpx.URL) -> str:
        """The shared cache's key of a read: the account, a digest of the credentials (two
        tokens may see different things) and the URL, hashed so no secret is stored."""
        digest = hashlib.sha256()
        for part in (self._account, *sorted(self.config.headers.items()), str(target)):
            digest.update(repr(part).encode() + b"\0")
        return f"process-mcp:cache:{digest.hexdigest()}"


def create_client(config: ClientConfig) -> BackendHttp:
    """The one way adapters get an HTTP client; raises ConfigError for a bad base URL."""
    return BackendHttp(config)
