"""Sessions and event streams that no client can hold on to at the others' expense.

The SDK keeps a stateful streamable-HTTP session for 30 minutes after its last request, up
to 10,000 of them, and answers the next one 503 until one expires; an open event stream
(a GET on /mcp, or the legacy /sse transport) holds its session for as long as it stays
open. So one local script that opens sessions and never closes them locks every other
client out for half an hour. Here instead:

- an idle session expires after `idle_seconds` (default 5 minutes);
- at `max_sessions`, a new session makes room by closing the one idle longest (a session
  with a request in flight or an open stream is never closed), so a new client always
  gets in unless every session is busy at that very moment;
- at most `max_streams` event streams are open at once (the next gets 503 with
  Retry-After); a streamable-HTTP GET stream is closed after `stream_seconds` (the SDK's
  client, like the spec's, reconnects: a live client keeps its session, an abandoned
  one lets it expire), and a legacy /sse stream, which is its session, is closed after
  `idle_seconds` without a message from its client.

The stream caps are an ASGI middleware (`StreamGuard`) with an injectable clock, so tests
drive them in virtual time; the idle expiry is the SDK's own timer, given our value.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

log = logging.getLogger("process_mcp.sessions")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
StreamKind = Literal["streamable", "legacy"]


@dataclass(frozen=True)
class SessionLimits:
    """`[server]` session_idle_timeout, max_sessions, max_streams, stream_seconds."""

    idle_seconds: float = 300.0
    max_sessions: int = 1_000
    max_streams: int = 100
    stream_seconds: float = 300.0


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == name), None)


def _wants_events(scope: Scope) -> bool:
    return "text/event-stream" in (_header(scope, b"accept") or "")


_SESSION_ID = re.compile(rb"session_id=([0-9a-fA-F]+)")


class StreamGuard:
    """The stream caps of the module docstring, around the app of one HTTP transport.

    `kind` is the transport: "streamable" (GET on `path` opens an optional stream of
    server messages; a 2026-07-28 subscriptions/listen POST is a stream too, counted but
    never cut: its client may not listen again) or "legacy" (GET on `path` is the
    session; POSTs to `messages_path` are its client's messages)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: SessionLimits,
        *,
        kind: StreamKind,
        path: str,
        messages_path: str = "/messages/",
        clock: Clock = anyio.current_time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.app = app
        self.limits = limits
        self.kind = kind
        self.path = path
        self.messages_path = messages_path
        self.clock = clock
        self.sleep = sleep
        self.open_streams = 0
        # Legacy sessions: when each last heard from its client.
        self._heard: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == self.path and _wants_events(scope):
            cut = self.limits.stream_seconds if self.kind == "streamable" else None
            await self._stream(scope, receive, send, cut)
            return
        if self.kind == "streamable" and _header(scope, b"mcp-method") == "subscriptions/listen":
            await self._stream(scope, receive, send, None)
            return
        if self.kind == "legacy" and method == "POST" and path == self.messages_path:
            self._hear(scope)
        await self.app(scope, receive, send)

    def _hear(self, scope: Scope) -> None:
        found = _SESSION_ID.search(scope.get("query_string", b""))
        if found:
            session = found.group(1).decode().lower()
            if session in self._heard:
                self._heard[session] = self.clock()

    async def _stream(self, scope: Scope, receive: Receive, send: Send, cut: float | None) -> None:
        if self.open_streams >= self.limits.max_streams:
            log.warning("refusing an event stream: %d are open", self.open_streams)
            await _too_many_streams(send)
            return
        self.open_streams += 1
        try:
            await self._run_capped(scope, receive, send, cut)
        finally:
            self.open_streams -= 1

    async def _run_capped(
        self, scope: Scope, receive: Receive, send: Send, cut: float | None
    ) -> None:
        """Run the stream until it ends by itself or its time is up. At the cap the app
        is told its client left (how an ASGI app learns that a stream is over), and the
        response is closed properly, so the client sees an ordinary end of stream."""
        over = anyio.Event()
        started = finished = False
        session: list[str] = []

        async def watched_send(message: Message) -> None:
            nonlocal started, finished
            if finished:
                return
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body":
                if self.kind == "legacy" and not session:
                    self._learn_session(message.get("body", b""), session)
                finished = not message.get("more_body", False)
            await send(message)

        async def watched_receive() -> Message:
            if over.is_set():
                return {"type": "http.disconnect"}
            got: list[Message] = []
            async with anyio.create_task_group() as race:

                async def real() -> None:
                    got.append(await receive())
                    race.cancel_scope.cancel()

                async def stop() -> None:
                    await over.wait()
                    race.cancel_scope.cancel()

                race.start_soon(real)
                race.start_soon(stop)
            return got[0] if got else {"type": "http.disconnect"}

        async def timer() -> None:
            if self.kind == "legacy":
                await self._until_idle(session)
            elif cut is not None:
                await self.sleep(cut)
            else:
                return
            log.info("closing an event stream (%s)", "idle" if self.kind == "legacy" else "time")
            over.set()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(timer)
                await self.app(scope, watched_receive, watched_send)
                group.cancel_scope.cancel()
            if started and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            for sid in session:
                self._heard.pop(sid, None)

    def _learn_session(self, body: bytes, session: list[str]) -> None:
        # The legacy transport's first event names the session: /messages/?session_id=HEX.
        found = _SESSION_ID.search(body)
        if found:
            sid = found.group(1).decode().lower()
            session.append(sid)
            self._heard[sid] = self.clock()

    async def _until_idle(self, session: list[str]) -> None:
        idle = self.limits.idle_seconds
        started = self.clock()
        while True:
            last = self._heard.get(session[0], started) if session else started
            left = last + idle - self.clock()
            if left <= 0:
                return
            await self.sleep(left)


async def _too_many_streams(send: Send) -> None:
    body = (
        b'{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":'
        b'"Too many open event streams; try again later"}}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"5"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def make_room(
    manager: StreamableHTTPSessionManager,
    limits: SessionLimits,
    security: TransportSecuritySettings | None,
) -> None:
    """At `max_sessions`, a request that opens a session first closes the session idle
    longest. Hooked where the SDK's manager takes requests, behind authentication, so an
    unauthenticated caller can never close anyone's session; a request from a foreign
    Origin or Host (refused by the SDK right after) closes nothing either.

    Uses the manager's session table and its discard step (private, pinned by
    tests/server/test_sessions.py): the SDK has no public way to end a session early."""
    from mcp.server.transport_security import TransportSecurityMiddleware
    from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS
    from starlette.requests import Request

    inner = manager.asgi_app
    checker = TransportSecurityMiddleware(security)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and _header(scope, b"mcp-session-id") is None
            and _header(scope, b"mcp-protocol-version") in (None, *HANDSHAKE_PROTOCOL_VERSIONS)
            and len(manager._server_instances) >= limits.max_sessions
            and await checker.validate_request(Request(scope, receive), is_post=True) is None
        ):
            await _close_longest_idle(manager)
        await inner(scope, receive, send)

    manager.asgi_app = app  # type: ignore[assignment]


async def _close_longest_idle(manager: StreamableHTTPSessionManager) -> None:
    idle: list[tuple[float, str, Any]] = []
    for sid, transport in list(manager._server_instances.items()):
        scope = transport.idle_scope
        # deadline is infinite while a request (or a GET stream) is in flight.
        if scope is not None and math.isfinite(scope.deadline):
            idle.append((scope.deadline, sid, transport))
    if not idle:
        return  # every session is busy: the SDK answers 503 and the client retries
    _, sid, transport = min(idle, key=lambda entry: entry[:2])
    log.info("closing idle session %s to make room for a new one", sid[:8])
    await manager._discard_session(sid, transport)
