"""The real `process-mcp serve --sandbox` over stdio, streamable HTTP and SSE."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.server.conftest import NAME, rows, text
from tests.server.serving import SERVE, serve_http
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio
TOKEN = "test-http-token-0123456789"


async def must_show(session: Any, name: str = NAME) -> None:
    """The foundation issue's check for one instance: a page of 5 with a cursor; the next 5
    with no overlap and no gap; get_process on a listed id."""
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    assert {"get_process", "list_backends", "list_processes", "summarize_processes"} <= names
    first = await session.call_tool("list_processes", {"backend": name, "limit": 5})
    assert not first.is_error, text(first)
    listed = rows(first)
    assert len(listed) == 5, name
    cursor = first.structured_content["next_cursor"]
    assert cursor, name
    second = await session.call_tool(
        "list_processes", {"backend": name, "limit": 5, "cursor": cursor}
    )
    assert not second.is_error, text(second)
    ten = await session.call_tool("list_processes", {"backend": name, "limit": 10})
    paged = [r["id"] for r in listed + rows(second)]
    assert paged == [r["id"] for r in rows(ten)], name
    assert len(set(paged)) == 10, name
    detail = await session.call_tool("get_process", {"backend": name, "id": listed[0]["id"]})
    assert not detail.is_error, text(detail)
    assert detail.structured_content["id"] == listed[0]["id"]
    counts = await session.call_tool("summarize_processes", {"backend": name, "group_by": ["age"]})
    assert not counts.is_error, text(counts)
    assert counts.structured_content["total"] >= 10, name
    assert " | " in text(counts).splitlines()[2], name


async def test_stdio_subprocess_answers_the_foundation_check_for_every_sandbox_backend(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, PROCESS_MCP_EXPORT_DIR=str(tmp_path))
    params = StdioServerParameters(command=SERVE[0], args=SERVE[1:], env=env)
    async with Client(params) as client:
        backends = await client.call_tool("list_backends", {})
        names = [b["name"] for b in backends.structured_content["backends"]]
        assert sorted(names) == sorted(m.NAME for m in SANDBOXES)
        for name in names:
            await must_show(client, name)
        tallyfy = await client.call_tool(
            "get_process", {"backend": NAME, "id": await _first(client)}
        )
        assert "tasks (" in text(tallyfy)
        exported = await client.call_tool(
            "export_process", {"backend": "all", "format": "jsonl", "max_rows": 50}
        )
        assert not exported.is_error, text(exported)
        read = await client.read_resource(exported.structured_content["uri"])
        on_disk = (tmp_path / exported.structured_content["file_name"]).read_text()
        assert read.contents[0].text == on_disk
        assert len(on_disk.splitlines()) == 50


async def _first(client: Any) -> str:
    page = await client.call_tool("list_processes", {"backend": NAME, "limit": 1})
    return str(rows(page)[0]["id"])


@contextmanager
def http_server(transport: str) -> Iterator[str]:
    """Start `serve --transport X --port 0` and return the URL it reports on stderr."""
    env = dict(os.environ, PROCESS_MCP_HTTP_TOKEN=TOKEN, PROCESS_MCP_LOG_LEVEL="WARNING")
    lines: list[str] = []
    with serve_http(["--transport", transport], env, lines) as url:
        yield url
    assert TOKEN not in "".join(lines), "the HTTP token must never be logged"


@asynccontextmanager
async def authed(url: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_streamable_http_with_bearer_token_answers_the_foundation_check() -> None:
    with http_server("http") as url:
        async with authed(url) as session:
            await must_show(session)


async def test_streamable_http_refuses_requests_without_the_token() -> None:
    with http_server("http") as url:
        async with httpx.AsyncClient() as http:
            response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 401
        assert "Bearer" in response.headers.get("www-authenticate", "")


async def test_streamable_http_rejects_a_foreign_origin() -> None:
    with http_server("http") as url:
        headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
        async with httpx.AsyncClient() as http:
            response = await http.post(url, json={}, headers=headers)
        assert response.status_code == 403


async def test_sse_transport_serves_the_tools() -> None:
    with http_server("sse") as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            sse_client(url, headers=headers) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("list_processes", {"backend": NAME, "limit": 2})
            assert result.structured_content["count"] == 2


def test_binding_beyond_loopback_without_a_token_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROCESS_MCP_HTTP_TOKEN"}
    done = subprocess.run(
        [*SERVE, "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    assert "PROCESS_MCP_HTTP_TOKEN" in done.stderr
