"""Idle sessions expire in minutes, a full session table makes room for a new client, and
event streams are capped: one local client cannot lock the others out (server.sessions).

The real HTTP app of `serve` (the SDK's transport with our limits) is called in memory on
a virtual-time event loop, so minutes pass without anyone waiting."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from server.app import build_server
from server.serve import _bind, _security, http_app
from server.sessions import SessionLimits, StreamGuard
from server.settings import Settings
from tests.sim.virtual_loop import run_virtual

PROTOCOL = {"MCP-Protocol-Version": "2025-11-25"}
ACCEPT = {"Accept": "application/json, text/event-stream"}
EVENTS = {"Accept": "text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


async def wait(seconds: float) -> None:
    """Virtual seconds: the loop's clock jumps, nothing waits for real."""
    await anyio.sleep(seconds)


class Sessions:
    """A client of the in-memory app that opens sessions and pings them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def open(self) -> str:
        opened = await self.http.post("/mcp", json=INITIALIZE, headers=ACCEPT)
        assert opened.status_code == 200, opened.text
        sid = opened.headers["mcp-session-id"]
        done = await self.http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
            headers=self.headers(sid),
        )
        assert done.status_code == 202, done.text
        return sid

    async def try_open(self) -> int:
        return (await self.http.post("/mcp", json=INITIALIZE, headers=ACCEPT)).status_code

    def headers(self, sid: str, accept: dict[str, str] = ACCEPT) -> dict[str, str]:
        return {**accept, **PROTOCOL, "Mcp-Session-Id": sid}

    async def ping(self, sid: str) -> int:
        body = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        return (await self.http.post("/mcp", json=body, headers=self.headers(sid))).status_code

    async def stream(self, sid: str) -> httpx.Response:
        """A GET stream; returns when the server ends it."""
        return await self.http.get("/mcp", headers=self.headers(sid, EVENTS))


def serving(
    tmp_path: Path, limits: SessionLimits, test: Callable[[Sessions], Awaitable[None]]
) -> None:
    server = build_server(Settings(export_dir=tmp_path))
    app = http_app(server, "http", _security("127.0.0.1", 8765, []), "127.0.0.1", limits)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            server.session_manager.run(),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as http,
        ):
            with anyio.fail_after(3600):  # virtual: a stream that never ends fails the test
                await test(Sessions(http))

    run_virtual(main)


def test_an_idle_session_expires_after_the_configured_minutes(tmp_path: Path) -> None:
    async def test(client: Sessions) -> None:
        sid = await client.open()
        await wait(290)
        assert await client.ping(sid) == 200  # the ping restarts the idle countdown
        await wait(290)
        assert await client.ping(sid) == 200
        await wait(301)
        assert await client.ping(sid) == 404  # the SDK's default would keep it 30 minutes

    serving(tmp_path, SessionLimits(), test)


def test_the_idle_timeout_follows_the_setting(tmp_path: Path) -> None:
    async def test(client: Sessions) -> None:
        sid = await client.open()
        await wait(61)
        assert await client.ping(sid) == 404

    serving(tmp_path, SessionLimits(idle_seconds=60), test)


def test_at_the_session_cap_a_new_client_gets_in_and_the_longest_idle_session_makes_room(
    tmp_path: Path,
) -> None:
    async def test(client: Sessions) -> None:
        first = await client.open()
        await wait(10)
        second = await client.open()
        await wait(10)
        third = await client.open()
        await wait(10)
        assert await client.ping(first) == 200  # now the second is idle longest
        fourth = await client.open()  # the SDK alone answers 503 here
        assert [await client.ping(s) for s in (first, second, third, fourth)] == [
            200,
            404,
            200,
            200,
        ]

    serving(tmp_path, SessionLimits(max_sessions=3), test)


def test_a_session_holding_a_stream_is_never_closed_to_make_room(tmp_path: Path) -> None:
    async def test(client: Sessions) -> None:
        streaming = await client.open()
        await wait(1)
        idle = await client.open()
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.stream, streaming)
            await wait(5)  # the stream is open, and older than the idle session's last call
            assert await client.try_open() == 200
            assert await client.ping(idle) == 404
            assert await client.ping(streaming) == 200
            # Both remaining sessions busy with streams: nothing to close, the SDK says 503.
            tg.start_soon(client.stream, await client.open())
            await wait(1)
            assert await client.try_open() == 503
            tg.cancel_scope.cancel()

    serving(tmp_path, SessionLimits(max_sessions=2), test)


def test_an_event_stream_ends_after_stream_seconds_and_its_session_lives_on(
    tmp_path: Path,
) -> None:
    async def test(client: Sessions) -> None:
        sid = await client.open()
        start = anyio.current_time()
        ended = await client.stream(sid)
        assert ended.status_code == 200
        assert ended.headers["content-type"].startswith("text/event-stream")
        assert anyio.current_time() - start == pytest.approx(120)
        assert await client.ping(sid) == 200  # a client that reconnects keeps its session

    serving(tmp_path, SessionLimits(stream_seconds=120), test)


def test_event_streams_past_max_streams_are_refused_with_retry_after(tmp_path: Path) -> None:
    async def test(client: Sessions) -> None:
        sessions = [await client.open() for _ in range(3)]
        async with anyio.create_task_group() as tg:
            for sid in sessions[:2]:
                tg.start_soon(client.stream, sid)
            await wait(1)
            refused = await client.stream(sessions[2])
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "5"
            tg.cancel_scope.cancel()
        # Once those streams are gone there is room again.
        assert (await client.stream(sessions[2])).status_code == 200

    serving(tmp_path, SessionLimits(max_streams=2, stream_seconds=30), test)


# -- the legacy SSE transport: the stream is the session ------------------------------------


def legacy_sse_app(work: float) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The shape of the SDK's /sse endpoint: an endpoint event naming the session, then
    events until the client leaves; a POST to /messages/ is a client's message, and each
    request among them is answered on the stream `work` seconds later."""
    requests, incoming = anyio.create_memory_object_stream[Any](10)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            body, more = b"", True
            while more:
                message = await receive()
                body, more = body + message.get("body", b""), message.get("more_body", False)
            sent = json.loads(body)
            if "id" in sent:
                await requests.send(sent["id"])
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        event = b"event: endpoint\r\ndata: /messages/?session_id=ab12cd\r\n\r\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})

        async def answer() -> None:
            async for request_id in incoming:
                await wait(work)
                data = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}})
                answer = f"event: message\r\ndata: {data}\r\n\r\n".encode()
                await send({"type": "http.response.body", "body": answer, "more_body": True})

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer)
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

    return app


def legacy_session(post: dict[str, Any], at: float, work: float = 0.0) -> float:
    """When the guard ends a legacy session (seconds after it opened) whose client sends
    `post` at `at`, with requests answered `work` seconds after they arrive."""
    limits = SessionLimits(idle_seconds=300)
    guard = StreamGuard(legacy_sse_app(work), limits, kind="legacy", path="/sse")
    ended: list[float] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            with anyio.fail_after(3600):
                start = anyio.current_time()
                async with anyio.create_task_group() as tg:

                    async def listen() -> None:
                        stream = await http.get("/sse", headers=EVENTS)
                        assert b"session_id=ab12cd" in stream.content
                        ended.append(anyio.current_time() - start)

                    tg.start_soon(listen)
                    await wait(at)
                    assert guard.open_streams == 1
                    sent = await http.post("/messages/?session_id=ab12cd", json=post)
                    assert sent.status_code == 202
        assert guard.open_streams == 0

    run_virtual(main)
    return ended[0]


def test_a_legacy_sse_session_ends_after_idle_seconds_without_a_message() -> None:
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert legacy_session(notification, at=200) == pytest.approx(500)


def test_a_legacy_sse_session_waiting_for_an_answer_is_not_idle() -> None:
    """A call that takes longer than the idle timeout (an export at a vendor's pace)
    keeps its session; the countdown starts when the answer has gone out."""
    request = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {}}
    assert legacy_session(request, at=200, work=400) == pytest.approx(900)


def test_an_ended_stream_is_closed_as_an_ordinary_end_of_response() -> None:
    """The client sees the chunked body end (so it reconnects), not a dropped connection."""
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    async def forever(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b": ping\r\n\r\n", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    guard = StreamGuard(forever, SessionLimits(stream_seconds=10), kind="streamable", path="/mcp")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/mcp",
        "headers": [(b"accept", b"text/event-stream")],
    }

    async def never() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    run_virtual(lambda: guard(scope, never, record))
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


# -- TCP_NODELAY -----------------------------------------------------------------------------


async def _accepted_nodelay() -> int:
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Accept(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    # How uvicorn serves the socket `serve` binds: loop.create_server(sock=...).
    listener = _bind("127.0.0.1", 0)
    server = await loop.create_server(Accept, sock=listener)
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        value = await asyncio.wait_for(accepted, 10)
        writer.close()
    finally:
        server.close()
    return value


@pytest.mark.anyio
async def test_connections_the_server_accepts_send_without_nagle_delay() -> None:
    assert await _accepted_nodelay() != 0
