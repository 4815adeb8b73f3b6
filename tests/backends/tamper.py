"""An ASGI wrapper that changes one kind of simulator answer on its way to the adapter:
how the typed-decoding tests show a page missing a field, or carrying fields no adapter
knows, through the real client stack (each backend's conftest `make_backend` takes it in
place of the simulator)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest

from tools.backends.base import Backend
from tools.errors import BackendResponseError
from tools.model import ProcessSummary
from tools.paging import run_list
from tools.query import ProcessQuery

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Callable[[], Awaitable[Message]], Send], Awaitable[None]]


class Tamper:
    """Serves `app`; a 2xx JSON answer to a request whose path matches `path` (and whose
    method is `method`) goes through `change`, which edits the decoded body in place."""

    def __init__(
        self, app: Any, path: str, change: Callable[[Any], None], *, method: str = "GET"
    ) -> None:
        self.app: App = app
        self.path = re.compile(path)
        self.method = method
        self.change = change
        self.changed = 0

    def __getattr__(self, name: str) -> Any:
        # The simulator's own attributes (data, faults, requests) stay reachable.
        return getattr(self.app, name)

    async def __call__(
        self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Send
    ) -> None:
        wanted = scope["type"] == "http" and scope["method"] == self.method
        if not wanted or not self.path.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            if 200 <= start["status"] < 300 and body.strip():
                decoded = json.loads(body)
                self.change(decoded)
                self.changed += 1
                body = json.dumps(decoded).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


async def refusal(backend: Backend, query: ProcessQuery) -> str:
    """What listing `query` on `backend` fails with: a BackendResponseError, for a model."""
    try:
        with pytest.raises(BackendResponseError) as caught:
            await run_list([backend], query)
    finally:
        await backend.aclose()
    return caught.value.for_model()


async def same_answers(plain: Backend, tampered: Backend, query: ProcessQuery) -> None:
    """Both backends list `query` alike: the same rows (every field), the same total."""
    try:
        expected, got = await run_list([plain], query), await run_list([tampered], query)
    finally:
        await plain.aclose()
        await tampered.aclose()
    assert expected.processes
    assert got.processes == expected.processes
    assert got.total == expected.total


async def extra_column(backend: Backend, query: ProcessQuery, key: str) -> list[ProcessSummary]:
    """`query` at detail=summary with a column `extra.KEY` carries that extra on every row;
    without the column no row has extras. The rows listed without it, for more checks."""
    try:
        page = await run_list([backend], query.with_changes(fields=("id", "name", f"extra.{key}")))
        lean = await run_list([backend], query)
    finally:
        await backend.aclose()
    assert query.detail == "summary"
    assert page.processes
    assert all(key in (r.extra or {}) for r in page.processes)
    assert all(r.extra is None for r in lean.processes)
    return lean.processes
