"""The HTTP side of the Kommo simulator: problem+json bodies, HAL responses and links, and
the core that adds Kommo's 429 (`retry_after` in the body) and its API block (an nginx
HTML 403 after repeated 429s). Facts: shared/reference/kommo.md, sections 2 and 7."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tools.backends.kommo.data import Json
from tools.sim import RecordedRequest, SimulatorCore
from tools.sim.faults import FaultResponse, nginx_page

PROBLEM = "application/problem+json"
HAL = "application/hal+json"


def problem(status: int, title: str, detail: str, **extra: Any) -> Json:
    return {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
        **extra,
    }


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """The kit's callback: Kommo-style problem+json for injected faults."""
    return json.dumps(problem(status, message, message)).encode(), PROBLEM


class ApiError(Exception):
    def __init__(self, status: int, body: Json | None = None, html: bytes | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.html = html


class KommoCore(SimulatorCore):
    """The kit's core with Kommo's 429 (retry_after in the body) and its API block."""

    retry_after_header: bool = False
    block_after_429s: int | None = None
    api_blocked: bool = False
    rejected_429s: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The block sits in front of everything, the rate limiter included.
        if scope["type"] == "http" and self.api_blocked:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in scope.get("headers", [])
            }
            self.requests.append(RecordedRequest(scope["method"], scope["path"], query, headers))
            page = nginx_page(403)
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        (b"content-type", b"text/html"),
                        (b"content-length", str(len(page)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": page})
            return
        await super().__call__(scope, receive, send)

    def _too_many(self, wait: float) -> FaultResponse:
        self.rejected_429s += 1
        if self.block_after_429s is not None and self.rejected_429s >= self.block_after_429s:
            self.api_blocked = True
        seconds = max(1, math.ceil(wait))
        body = problem(
            429,
            "Too Many Requests",
            "Too many requests: at most 7 requests per second are allowed",
            retry_after=seconds,
        )
        headers = [("content-type", PROBLEM)]
        if self.retry_after_header:
            headers.append(("retry-after", str(seconds)))
        return FaultResponse(429, headers, json.dumps(body).encode())


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.html is not None:
        return Response(exc.html, exc.status, media_type="text/html")
    return Response(json.dumps(exc.body), exc.status, media_type=PROBLEM)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        body = problem(404, "Not Found", f"Could not fetch the path {request.url.path}")
    else:
        body = problem(exc.status_code, "Error", str(exc.detail))
    return Response(json.dumps(body), exc.status_code, media_type=PROBLEM)


def hal(body: Json) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), 200, media_type=HAL)


def no_content() -> Response:
    return Response(b"", 204)


def origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def self_link(base: str, path: str) -> dict[str, dict[str, str]]:
    return {"self": {"href": f"{base}/api/v4/{path}"}}


def page_links(request: Request, page: int) -> dict[str, dict[str, str]]:
    """Absolute links that repeat the request's query with another page (brackets are
    percent-encoded, as Kommo's are). `next` is always there: Kommo does not count."""
    links = {"self": {"href": _with_page(request, page)}}
    links["next"] = {"href": _with_page(request, page + 1)}
    if page > 1:
        links["first"] = {"href": _with_page(request, 1)}
        links["prev"] = {"href": _with_page(request, page - 1)}
    return links


def _with_page(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return str(request.url.replace(query=urlencode(pairs)))
