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
  `idle_seconds` without a message either way and no request of its client unanswered
  (noticed within another `idle_seconds`).

The stream caps are an ASGI middleware (`StreamGuard`) and the idle expiry is the SDK's own
timer, given our value; both run on the event loop's clock, which tests make virtual
(tests/sim/virtual_loop.py).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

log = logging.getLogger("process_mcp.sessions")
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


@dataclass
class _Legacy:
    """A legacy /sse session as the guard sees it: when it last did anything, and the
    requests of its client still unanswered (a long export keeps it busy, not idle)."""

    last: float
    pending: set[str] = field(default_factory=set)


def _messages(raw: bytes) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a POST body or in the `data:` lines of SSE events."""
    found: list[dict[str, Any]] = []
    texts = [raw] if raw.lstrip().startswith((b"{", b"[")) else []
    texts += [line[5:] for line in raw.splitlines() if line.startswith(b"data:")]
    for text in texts:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        found += [m for m in (data if isinstance(data, list) else [data]) if isinstance(m, dict)]
    return found


def _request_id(message: dict[str, Any]) -> str:
    return json.dumps(message.get("id"))


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
    ) -> None:
        self.app = app
        self.limits = limits
        self.kind = kind
        self.path = path
        self.messages_path = messages_path
        self.open_streams = 0
        self._legacy: dict[str, _Legacy] = {}

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
            await self.app(scope, self._hearing(scope, receive), send)
            return
        await self.app(scope, receive, send)

    def _hearing(self, scope: Scope, receive: Receive) -> Receive:
        """The client's message to a legacy session, noted before the app sees it (its
        answer may go out on the stream before this POST is answered)."""
        found = _SESSION_ID.search(scope.get("query_string", b""))
        session = self._legacy.get(found.group(1).decode().lower()) if found else None
        if session is None:
            return receive
        chunks: list[bytes] = []

        async def hearing() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    session.last = anyio.current_time()
                    for sent in _messages(b"".join(chunks)):
                        if "method" in sent and "id" in sent:
                            session.pending.add(_request_id(sent))
            return message

        return hearing

    def _answered(self, session: _Legacy, body: bytes) -> None:
        for sent in _messages(body):
            session.last = anyio.current_time()
            if "id" in sent and ("result" in sent or "error" in sent):
                session.pending.discard(_request_id(sent))

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
        """Run the stream until it ends by itself or its time is up. An SSE response
        keeps waiting on `receive` for its client to leave; at the cap that wait returns
        a disconnect (how an ASGI app learns a stream is over), and the response is then
        closed properly, so the client sees an ordinary end of stream."""
        started = finished = False
        opened = anyio.current_time()
        sid: str | None = None

        def deadline() -> float:
            if self.kind != "legacy":
                return opened + cut if cut is not None else math.inf
            session = self._legacy.get(sid) if sid else None
            if session is None:
                return opened + self.limits.idle_seconds
            return math.inf if session.pending else session.last + self.limits.idle_seconds

        async def watched_send(message: Message) -> None:
            nonlocal started, finished, sid
            if finished:
                return
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                if self.kind == "legacy" and sid is None:
                    # The first event names the session: /messages/?session_id=HEX.
                    if found := _SESSION_ID.search(body):
                        sid = found.group(1).decode().lower()
                        self._legacy[sid] = _Legacy(anyio.current_time())
                elif sid is not None and sid in self._legacy:
                    self._answered(self._legacy[sid], body)
                finished = not message.get("more_body", False)
            await send(message)

        async def watched_receive() -> Message:
            # Legacy: the deadline moves with every message either way, and is infinite
            # while a request is unanswered, so look again at least once per idle period
            # (a session ends between one and two idle periods after it fell idle).
            while (left := deadline() - anyio.current_time()) > 0:
                with anyio.move_on_after(min(left, self.limits.idle_seconds)):
                    return await receive()
            log.info("closing an event stream (%s)", "idle" if self.kind == "legacy" else "time")
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, watched_receive, watched_send)
            if started and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if sid is not None:
                self._legacy.pop(sid, None)


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
