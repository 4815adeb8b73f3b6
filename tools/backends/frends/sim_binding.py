"""The HTTP side of the Frends simulator: RFC 9457 Problem Details errors and ASP.NET-like
binding of query parameters (collecting every validation error, as ASP.NET does)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tools.backends.frends.records import Json, parse_time
from tools.backends.frends.wire import encoded

MAX_PAGE_SIZE = 200
RFC = "https://tools.ietf.org/html/rfc9110#section-15.5."
_TYPE_SECTION = {400: 1, 401: 2, 403: 4, 404: 5, 405: 6, 409: 10, 429: 0}
PROBLEM = "application/problem+json"


def trace_id() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Json:
    section = _TYPE_SECTION.get(status)
    body: Json = {
        "type": f"{RFC}{section}" if section else "https://tools.ietf.org/html/rfc9110",
        "title": title,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    body["traceId"] = trace_id()
    return body


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """The kit's callback: injected faults answer in Problem Details too."""
    return encoded(problem(status, message)), PROBLEM


class ApiError(Exception):
    def __init__(self, status: int, body: Json, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found(detail: str) -> ApiError:
    return ApiError(404, problem(404, "Not Found", detail))


class JSON(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else encoded(content)


class Query:
    """ASP.NET-like binding of query parameters, collecting every validation error."""

    def __init__(self, request: Request, allowed: tuple[str, ...], strict: bool) -> None:
        self.errors: dict[str, list[str]] = {}
        self.values: dict[str, list[str]] = {}
        canonical = {name.lower(): name for name in allowed}
        for key, value in request.query_params.multi_items():
            name = canonical.get(key.lower())
            if strict and name != key:
                shown = f"{key} (write {name})" if name else key
                self.fail(key, f"The query parameter '{shown}' is not supported.")
                continue
            if name is not None:
                self.values.setdefault(name, []).append(value)

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def check(self) -> None:
        if self.errors:
            body = problem(400, "One or more validation errors occurred.", errors=self.errors)
            raise ApiError(400, body)

    def text(self, name: str) -> str | None:
        values = self.values.get(name)
        return values[-1] if values else None

    def integer(self, name: str, default: int, *, minimum: int = 1) -> int:
        value = self.text(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            self.fail(name, f"The value '{value}' is not valid.")
            return default
        if number < minimum:
            self.fail(name, f"{name} must be at least {minimum}.")
            return default
        return number

    def page_size(self, name: str, default: int, strict: bool) -> int:
        size = self.integer(name, default)
        if size > MAX_PAGE_SIZE:
            if strict:
                self.fail(name, f"Maximum page size is {MAX_PAGE_SIZE}.")
            return MAX_PAGE_SIZE
        return size

    def guid(self, raw: str, name: str) -> str | None:
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            self.fail(name, f"The value '{raw}' is not valid.")
            return None

    def moment(self, name: str) -> datetime | None:
        value = self.text(name)
        if not value:
            return None
        try:
            return parse_time(value)
        except ValueError:
            self.fail(name, f"The value '{value}' is not valid.")
            return None

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None or value == "":
            return None
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(name, f"The value '{value}' is not valid.")
        return None

    def choice(self, name: str, options: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if not value:
            return None
        # Enums bind case-insensitively in ASP.NET, in strict mode too.
        match = next((o for o in options if o.lower() == value.lower()), None)
        if match is None:
            self.fail(name, f"The value '{value}' is not valid.")
        return match
