"""A canary token (with `+ / =`) never leaks, not even in part, through any error path of
any backend: vendor error bodies of every shape the readers know, echoing the token at
every position around the cuts, HTML pages, plain text, cut-off JSON, redirects and
transport errors (issue 14, item 2).

Faked at the transport: requests carry the canary; a wrapper swaps it for the sandbox
token and hands them to the backend's simulator, or answers with the crafted error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import cycle
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from pydantic import SecretStr

from tests.export.conftest import open_sim
from tests.sim.virtual_time import FakeTime
from tools.backends.base import Backend
from tools.backends.registry import create_backend
from tools.errors import BackendError, ProcessMcpError
from tools.paging import run_list
from tools.query import ProcessQuery
from tools.sandbox import SANDBOXES

CANARY = "Qz7+Kp/W9=xR4+Lm/T2=vB8+Nc/Y5=hJ3+Fd/G6=="
WINDOW = 5
# Where the token starts in the vendor text: around the old 200-character cut of Frends
# details and the 300-character cut of every message.
PADS = range(150, 300, 7)
STATUSES = (400, 401, 403, 404, 409, 422, 429, 500, 503)

Respond = Callable[[httpx.Request], httpx.Response]


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _msg(pad: int) -> str:
    return "x" * pad + CANARY + " tail"


def _json(status: int, body: Any, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body), headers={"content-type": content_type})


def _text(status: int, text: str, content_type: str) -> httpx.Response:
    return httpx.Response(status, content=text.encode(), headers={"content-type": content_type})


# Every body shape the shared and the per-backend readers know, and some they do not.
SHAPES: dict[str, Callable[[int, str], httpx.Response]] = {
    "message": lambda s, m: _json(s, {"message": m}),
    "problem": lambda s, m: _json(
        s, {"title": "Bad Request", "detail": m, "traceId": "00-ab"}, "application/problem+json"
    ),
    "problem-errors": lambda s, m: _json(
        s, {"title": "Invalid", "errors": {"PageSize": [m]}, "traceId": "00-ab"}
    ),
    "chakra": lambda s, m: _json(s, {"_data": None, "_meta": {}, "_errors": [m, "second"]}),
    "laravel": lambda s, m: _json(s, {"message": "invalid", "errors": {"field": [m, "b"]}}),
    "error-object": lambda s, m: _json(s, {"error": {"message": m}}),
    "error-text": lambda s, m: _json(s, {"error": m}),
    "kommo-legacy": lambda s, m: _json(s, {"response": {"error": m, "error_code": 7}}),
    "kommo-validation": lambda s, m: _json(
        s,
        {
            "title": "Bad Request",
            "validation-errors": [{"request_id": "0", "errors": [{"path": "n", "detail": m}]}],
        },
    ),
    "yuuvis": lambda s, m: _json(
        s, {"message": "validation failed", "validationErrors": [{"message": m}]}
    ),
    "plain": lambda s, m: _text(s, m, "text/plain"),
    "html": lambda s, m: _text(s, f"<html><head><title>{m}</title></head></html>", "text/html"),
    # Quoted as a PHP or .NET encoder writes it, in a body that is not JSON.
    "escaped-text": lambda s, m: _text(
        s, m.replace("/", "\\/").replace("+", "\\u002B"), "text/plain"
    ),
    # Whitespace that collapses: the token moves from far past a cut to well before it.
    "spaces": lambda s, m: _text(s, " \n" * 3000 + m, "text/plain"),
    # Percent-encoded the ways encoders write it (a URL echoed in the message).
    "percent": lambda s, m: _text(s, quote(m, safe=""), "text/plain"),
    "percent-slash": lambda s, m: _text(s, quote(m), "text/plain"),
    "percent-lower": lambda s, m: _text(s, _lower_hex(quote(m, safe="=")), "text/plain"),
}


def _malformed(_status: int, m: str) -> httpx.Response:
    # A 200 whose JSON is cut off, the token straddling the 4096-character snippet window.
    body = '{"data": [' + " " * (4096 - len(m) + 4) + m
    return _text(200, body, "application/json")


def _redirect(_status: int, m: str) -> httpx.Response:
    return httpx.Response(
        302, headers={"location": f"https://u:{CANARY}@elsewhere.test/?token={CANARY}&q={m}"}
    )


def _disconnect(_status: int, m: str) -> httpx.Response:
    raise httpx.ConnectError(f"connection refused by {m}")


EXTRA: dict[str, Callable[[int, str], httpx.Response]] = {
    "malformed": _malformed,
    "redirect": _redirect,
    "disconnect": _disconnect,
}


class CanaryTransport(httpx.AsyncBaseTransport):
    """Forwards to the simulator with the real token, unless `fail` answers first."""

    def __init__(self, app: Any, real_token: str) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.real_token = real_token
        self.fail: Respond | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert any(CANARY in v for _, v in request.headers.items()), "canary not sent"
        if self.fail is not None:
            response = self.fail(request)
            response.request = request
            return response
        headers = [(k, v.replace(CANARY, self.real_token)) for k, v in request.headers.items()]
        forwarded = httpx.Request(
            request.method, request.url, headers=headers, content=request.content
        )
        return await self.inner.handle_async_request(forwarded)


def _leaks(text: str) -> list[str]:
    spellings = {
        CANARY,
        quote(CANARY, safe=""),
        quote(CANARY),
        _lower_hex(quote(CANARY, safe="=")),
        CANARY.replace("/", "\\/").replace("+", "\\u002B"),
    }
    return sorted(
        {
            s[i : i + WINDOW]
            for s in spellings
            for i in range(len(s) - WINDOW + 1)
            if s[i : i + WINDOW] in text
        }
    )


def _shown(exc: ProcessMcpError) -> str:
    vendor = exc.vendor_message if isinstance(exc, BackendError) else None
    return "\n".join((exc.for_model(), str(exc), exc.message, vendor or ""))


async def _failure(call: Callable[[], Any], *, may_answer: bool = False) -> str:
    """What the call shows when it fails; `may_answer`: a list meeting a 429 answers with
    when the next page can start (waiting is not failing), and its warnings are shown."""
    try:
        result = await call()
    except ProcessMcpError as exc:
        return _shown(exc)
    if may_answer:
        return "\n".join(result.warnings)
    raise AssertionError("the call did not fail")


def _cases() -> list[tuple[str, Callable[[int, str], httpx.Response], int, int]]:
    statuses = cycle(STATUSES)
    shapes = {**SHAPES, **EXTRA}
    return [(name, make, next(statuses), pad) for name, make in shapes.items() for pad in PADS]


async def _sweep(module: Any) -> int:
    sim = open_sim(module)
    real = sim.settings.token.get_secret_value() if sim.settings.token else ""
    settings = sim.settings.model_copy(update={"token": SecretStr(CANARY)})
    transport = CanaryTransport(sim.core, real)
    # Fake time: a 429's holds and backoff pass at once, and end at the call's deadline.
    time = FakeTime()
    backend: Backend = create_backend(
        settings, transport=transport, clock=time.clock, sleep=time.sleep
    )
    checked = 0
    try:
        # Discovery and the first page pass through, so later errors hit list and get.
        first = await run_list([backend], ProcessQuery(backend=backend.name, limit=1))
        process_id = first.processes[0].id
        for name, make, status, pad in _cases():
            transport.fail = lambda _request, make=make, status=status, pad=pad: make(
                status, _msg(pad)
            )
            for label, call in (
                ("list", lambda: run_list([backend], ProcessQuery(backend=backend.name))),
                (
                    "get",
                    lambda: backend.get(process_id, collection=None, include=None, detail="full"),
                ),
            ):
                shown = await _failure(call, may_answer=status == 429 and label == "list")
                leaked = _leaks(shown)
                assert not leaked, f"{backend.name} {label} {name} {status} pad {pad}: {shown}"
                checked += 1
        # Discovery itself failing (a fresh instance): its error is scrubbed the same way.
        fresh = create_backend(settings, transport=transport, clock=time.clock, sleep=time.sleep)
        try:
            for name, make in SHAPES.items():
                transport.fail = lambda _request, make=make: make(500, _msg(280))
                shown = await _failure(
                    lambda: run_list([fresh], ProcessQuery(backend=fresh.name, limit=1))
                )
                assert not _leaks(shown), f"{fresh.name} discovery {name}: {shown}"
                checked += 1
        finally:
            await fresh.aclose()
    finally:
        await backend.aclose()
    return checked


@pytest.mark.parametrize("module", SANDBOXES, ids=lambda m: str(m.NAME))
def test_a_canary_token_never_leaks_through_any_error_path(module: Any) -> None:
    checked = anyio.run(_sweep, module)
    assert checked >= 2 * len(SHAPES) * len(PADS)


def test_the_canary_detector_finds_a_partial_token() -> None:
    # The test above can fail: twelve leading characters of the token are a leak.
    assert _leaks("backend said: xxxx" + CANARY[:12] + "…")
    assert not _leaks("backend said: xxxx*** tail")
