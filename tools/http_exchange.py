"""One exchange with the vendor: send a built request through httpx, time it, log it, and
read the body (parsed as JSON, or decoded into a typed shape) into an `Outcome` that the
retry loop in tools/http.py judges. Nothing here retries or waits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pydantic_core

from tools.errors import RequestInfo
from tools.http_config import ClientConfig, HttpStats
from tools.http_retry import Outcome

# True: JSON as Python values; a callable: bytes to a value, ValueError when not JSON.
Decode = bool | Callable[[bytes], Any]

log = logging.getLogger("process_mcp.http")


async def exchange(
    client: httpx.AsyncClient,
    config: ClientConfig,
    stats: HttpStats,
    method: str,
    target: httpx.URL,
    body: Any,
    headers: Mapping[str, str] | None,
    remaining: float,
    shown: RequestInfo,
    decode: Decode,
    attempt: int,
) -> Outcome:
    """Send once, with the timeouts that fit in `remaining` of the retry budget."""
    clock = config.clock
    timeout = config.timeouts.within(remaining)
    request = client.build_request(method, target, json=body, headers=headers, timeout=timeout)
    stats.requests += 1
    sent_at = clock()
    try:
        response = await client.send(request)
    except httpx.RequestError as exc:
        log_attempt(shown, type(exc).__name__, clock() - sent_at, attempt)
        return Outcome(None, exc, timeout, clock() - sent_at)
    seconds = clock() - sent_at
    log_attempt(shown, str(response.status_code), seconds, attempt)
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


def log_attempt(shown: RequestInfo, result: str, seconds: float, attempt: int) -> None:
    log.debug(
        "%s %s -> %s in %d ms (attempt %d)",
        shown.method,
        shown.url,
        result,
        round(seconds * 1000),
        attempt,
    )
