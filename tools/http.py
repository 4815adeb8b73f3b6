"""The one HTTP client factory every backend adapter uses.

It owns what every vendor call needs and no adapter should reinvent: timeouts on every
request, a per-instance rate limiter that matches the vendor's published window, retries
with backoff and jitter inside a time budget a tool call can afford, Retry-After handling,
links followed only to the configured origin, and failures turned into the typed errors of
`tools.errors` with credentials scrubbed. Adapters keep only what is vendor-specific: the
URL, the parameters, and (optionally) how to read an error message or a retry delay.

Its parts: `tools.http_config` (settings), `tools.http_address` (where a request may go),
`tools.limiter` (the quota window), `tools.http_retry` (whether to try again) and
`tools.http_failures` (the typed error of a failed request).
"""

from __future__ import annotations

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
from tools.http_failures import failure, malformed, unsafe_path_failure
from tools.http_retry import Outcome, Plan, plan_retry
from tools.limiter import QuotaLimiter, Quotas
from tools.limits import RateLimit
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
        # One quota window per instance: every tool of the instance (list, get, export,
        # discovery) uses this one client, and `quotas` keeps the window when the server
        # rebuilds its instances for a new connection.
        self._limiters = self._quotas(config)
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

    @staticmethod
    def _quotas(config: ClientConfig) -> tuple[QuotaLimiter, ...]:
        """One limiter per published window, the widest first (always taken in that
        order, so two requests can never each hold what the other waits for)."""
        limit = config.rate_limit
        if limit is None:
            return ()
        if config.quotas is not None:
            quotas = config.quotas
            return tuple(quotas.limiter(config.backend, n, per) for n, per in limit.windows)
        return tuple(
            QuotaLimiter(n, per, clock=config.clock, sleep=config.sleep) for n, per in limit.windows
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
            plan = plan_retry(
                self.config,
                self._rng,
                outcome,
                method=verb,
                repeatable=repeatable,
                attempt=attempt,
                remaining=self.config.retry.budget - (self.config.clock() - started),
            )
            if plan.delay is None:
                raise failure(self.config, outcome, shown, attempt, plan, secrets)
            await self._wait(plan, shown, attempt)

    async def get_json(
        self, url: str, *, params: Params | None = None, accept: Collection[int] = ()
    ) -> Any:
        """GET and decode JSON; None for an empty body or an accepted non-2xx status."""
        response = await self.request("GET", url, params=params, accept=accept)
        return self._decode_json(response)

    async def get_typed(self, url: str, shape: type[T], *, params: Params | None = None) -> T:
        """GET and decode the body straight into `shape` (tools/decode.py): only the fields
        the shape declares are built."""
        response = await self.request("GET", url, params=params)
        try:
            return decode_json(
                response.content,
                shape,
                backend=self.config.backend,
                request=RequestInfo("GET", self._scrub_url(str(response.request.url))),
            )
        except msgspec.DecodeError:
            raise malformed(
                self.config, response, self._secrets_for(response.request.url)
            ) from None

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
    ) -> Outcome:
        async with AsyncExitStack() as held:
            if self._slots is not None:
                await held.enter_async_context(self._slots)
            # The quota slots are held until the response is in: see tools/limiter.py for
            # why that, and not the start, keeps arrivals at the vendor within its window.
            for limiter in self._limiters:
                self.stats.throttled_seconds += await held.enter_async_context(limiter.slot())
            return await self._exchange(method, target, body, headers, started, shown, attempt)

    async def _exchange(
        self,
        method: str,
        target: httpx.URL,
        body: Any,
        headers: Mapping[str, str] | None,
        started: float,
        shown: RequestInfo,
        attempt: int,
    ) -> Outcome:
        clock = self.config.clock
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
            return Outcome(None, exc, timeout)
        self._log_attempt(shown, str(response.status_code), clock() - sent_at, attempt)
        # httpx links a response and its body stream both ways, so every response is cyclic
        # garbage that only the collector frees; list pages of megabytes then pile up for
        # the length of an export. The body is read already: drop the stream, end the cycle.
        response.stream = httpx.ByteStream(b"")
        return Outcome(response, None, timeout)

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

    async def _wait(self, plan: Plan, shown: RequestInfo, attempt: int) -> None:
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

    # ---- bodies

    def _decode_json(self, response: httpx.Response) -> Any:
        if not response.is_success or not response.content.strip():
            return None
        try:
            # pydantic-core's parser: about 3x faster than json.loads on list pages, which
            # an export of many rows parses hundreds of (JSON bodies are UTF-8 by RFC 8259).
            return pydantic_core.from_json(response.content)
        except ValueError:
            raise malformed(
                self.config, response, self._secrets_for(response.request.url)
            ) from None

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


def create_client(config: ClientConfig) -> BackendHttp:
    """The one way adapters get an HTTP client; raises ConfigError for a bad base URL."""
    return BackendHttp(config)
