"""`serve --transport http --stateless`: no sessions, JSON answers, and nothing a replica
keeps that another would need: cursors and exports work on whichever replica a load
balancer picks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.export.conftest import Sim, memory_client, open_sim
from tests.server.conftest import text
from tests.server.serving import SERVE, serve_http
from tools.sandbox import SANDBOXES

pytestmark = pytest.mark.anyio

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
ACCEPT = {"Accept": "application/json, text/event-stream"}


async def test_a_stateless_replica_answers_in_json_with_no_session_and_serves_both_eras(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, PROCESS_MCP_EXPORT_DIR=str(tmp_path), PROCESS_MCP_LOG_LEVEL="WARNING")
    with serve_http(["--transport", "http", "--stateless"], env) as url:
        async with httpx.AsyncClient(timeout=30) as http:
            opened = await http.post(url, json=INITIALIZE, headers=ACCEPT)
            # A request of a session that never existed is served all the same.
            listed = await http.post(
                url,
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers={
                    **ACCEPT,
                    "Mcp-Session-Id": "made-up",
                    "MCP-Protocol-Version": "2025-11-25",
                },
            )
        assert opened.status_code == 200, opened.text
        assert "mcp-session-id" not in opened.headers
        assert opened.headers["content-type"].startswith("application/json")
        assert opened.json()["result"]["protocolVersion"] == "2025-11-25"
        assert listed.status_code == 200, listed.text
        assert listed.headers["content-type"].startswith("application/json")
        assert "list_processes" in {t["name"] for t in listed.json()["result"]["tools"]}

        async with (
            httpx2.AsyncClient(timeout=30) as http2,
            streamable_http_client(url, http_client=http2) as (read, write),
            ClientSession(read, write) as old,
        ):
            init = await old.initialize()
            assert init.protocol_version == "2025-11-25"
            page = await old.call_tool("list_processes", {"backend": "all", "limit": 3})
            assert not page.is_error, text(page)
        async with Client(url) as new:
            assert new.protocol_version == "2026-07-28"
            again = await new.call_tool("list_processes", {"backend": "all", "limit": 3})
            assert not again.is_error, text(again)
        assert again.structured_content == page.structured_content


def test_stateless_is_refused_on_other_transports() -> None:
    done = subprocess.run(
        [*SERVE, "--transport", "sse", "--stateless", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--stateless applies to --transport http" in done.stderr


def keys(page: dict[str, Any]) -> list[tuple[str, str]]:
    """(backend, id) of each row of a list answer (a table: shared cells said once)."""
    rows = [
        {**page.get("shared", {}), **dict(zip(page["columns"], r, strict=True))}
        for r in page["rows"]
    ]
    return [(str(r["backend"]), str(r["id"])) for r in rows]


@pytest.fixture(scope="module")
def sims() -> list[Sim]:
    return [open_sim(module) for module in SANDBOXES]


@pytest.mark.parametrize("backend", ["all", *(m.NAME for m in SANDBOXES)])
async def test_a_cursor_from_one_replica_pages_on_at_another(
    sims: list[Sim], tmp_path: Path, backend: str
) -> None:
    """Two servers built apart share no memory: the cursor alone says where to go on."""
    query = {"backend": backend, "limit": 7, "detail": "ids"}
    async with memory_client(sims, tmp_path) as a, memory_client(sims, tmp_path) as b:
        first = await a.call_tool("list_processes", query)
        assert not first.is_error, text(first)
        cursor = first.structured_content["next_cursor"]
        assert cursor
        second = await b.call_tool("list_processes", {**query, "cursor": cursor})
        assert not second.is_error, text(second)
        whole = await b.call_tool("list_processes", {**query, "limit": 14})
    paged = keys(first.structured_content) + keys(second.structured_content)
    assert paged == keys(whole.structured_content)
    assert len(set(paged)) == 14


async def test_an_export_written_through_one_replica_is_listed_and_read_through_another(
    sims: list[Sim], tmp_path: Path
) -> None:
    shared = tmp_path / "exports"
    async with memory_client(sims, shared) as a, memory_client(sims, shared) as b:
        before = await b.list_resources()  # b has looked at the directory already
        exported = await a.call_tool(
            "export_process", {"backend": "all", "format": "csv", "max_rows": 40}
        )
        assert not exported.is_error, text(exported)
        uri = exported.structured_content["uri"]
        listed = await b.list_resources()
        read = await b.read_resource(uri)
    assert uri not in [str(r.uri) for r in before.resources]
    assert uri in [str(r.uri) for r in listed.resources]
    on_disk = (shared / exported.structured_content["file_name"]).read_bytes()
    assert read.contents[0].text.encode() == on_disk
