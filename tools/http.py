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
`tools.http_retry` (whether to try again), `tools.http_exchange` (one request sent and its
body read) and `tools.http_failures` (the typed error of a failed request).
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Collection, Mapping
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
from tools.errors import RequestInfo
from tools.http_address import base_url, target_url
from tools.http_config import (
    ClientConfig,
    HttpStats,
    Params,
    ParamValue,
    RetryPolicy,
    Timeouts,
    _header_secrets,
)
from tools.http_exchange import Decode, exchange
from tools.http_failures import failure, malformed
from tools.http_quota import Pacing
from tools.http_retry import Outcome, Plan, plan_retry
from tools.limiter import QuotaLimiter, Quotas
from tools.limits import RateLimit
from tools.operation import Operation
from tools.operation import current as current_operation
from tools.shared_cache import cache_key
from tools.vendor_messages import default_error_message, header_retry_after

T = TypeVar("T")

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
        return target_url(self.config, self._base, method, url, params, self._scrub_url)

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
            return await exchange(
                self._client,
                self.config,
                self.stats,
                method,
                target,
                body,
                headers,
                remaining,
                shown,
                decode,
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
        return cache_key(self._account, self.config.headers, str(target))


def create_client(config: ClientConfig) -> BackendHttp:
    """The one way adapters get an HTTP client; raises ConfigError for a bad base URL."""
    return BackendHttp(config)
