"""Three `serve --stateless` replicas behind haproxy round robin, sharing one Redis and one
export directory, against `process-mcp sandbox`, whose Kommo and Tallyfy simulators
enforce the vendors' quotas per account: ten clients list and export at once, and the
vendors never see more than their quota, nor answer 429.

Real processes on 127.0.0.1 (redis-server and haproxy from .ci/install-services). Tallyfy's
100-request window is counted over WINDOW seconds instead of 60 (`sandbox
--tallyfy-window`, the replicas told the same), so that the test fills it more than once
without waiting minutes; Kommo's 7 per second is the real one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.replicas import SimInfo, haproxy, replicas, sandbox_process
from tests.services import require_binary
from tools.sandbox import Sandbox

pytestmark = pytest.mark.anyio

WINDOW = 10.0
CLIENTS = 10
TALLYFY, KOMMO = "tallyfy-sandbox", "kommo-sandbox"
EXPORTS = [
    {"backend": TALLYFY, "format": "csv"},
    {"backend": KOMMO, "format": "jsonl"},
]


def write_config(directory: Path, sims: dict[str, SimInfo], exports: Path) -> Path:
    tallyfy, kommo = sims[TALLYFY], sims[KOMMO]
    config = directory / "config.toml"
    config.write_text(
        f"""\
[server]
export_dir = "{exports}"
log_level = "WARNING"

[instances.{TALLYFY}]
kind = "tallyfy"
base_url = "{tallyfy.url}"
org = "{tallyfy.details["org"]}"
rate_limit_per_minute = 100
rate_limit_window_seconds = {WINDOW}

[instances.{KOMMO}]
kind = "kommo"
base_url = "{kommo.url}"
"""
    )
    return config


@asynccontextmanager
async def legacy(url: str) -> AsyncIterator[ClientSession]:
    """A 2025-11-25 client: initialize, then requests that carry no session."""
    async with (
        httpx2.AsyncClient(timeout=120) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        init = await session.initialize()
        assert init.protocol_version == "2025-11-25"
        yield session


@asynccontextmanager
async def modern(url: str) -> AsyncIterator[Client]:
    async with Client(url) as client:
        assert client.protocol_version == "2026-07-28"
        yield client


def ok(result: Any) -> dict[str, Any]:
    text = "\n".join(c.text for c in result.content if c.type == "text")
    assert not result.is_error, text
    structured: dict[str, Any] = result.structured_content
    return structured


async def walk(session: Any, backend: str, limit: int) -> list[str]:
    """Every id of a backend, page by page: each page may land on another replica."""
    ids: list[str] = []
    cursor = None
    while True:
        args = {"backend": backend, "limit": limit, "detail": "ids", "cursor": cursor}
        page = ok(await session.call_tool("list_processes", args))
        ids += [str(row[page["columns"].index("id")]) for row in page["rows"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


async def a_client(url: str, n: int, results: list[dict[str, Any]]) -> None:
    """List every row page by page, then export, of Tallyfy and of Kommo at once."""
    opener = modern if n % 2 else legacy
    result: dict[str, Any] = {}

    async def both(session: Any, backend: str, limit: int, export: dict[str, str]) -> None:
        result[backend] = await walk(session, backend, limit)
        result[f"{backend} export"] = ok(await session.call_tool("export_process", export))

    async with opener(url) as session, anyio.create_task_group() as tg:
        tg.start_soon(both, session, TALLYFY, 30, EXPORTS[0])
        tg.start_soon(both, session, KOMMO, 250, EXPORTS[1])
    results.append(result)


async def test_three_replicas_behind_haproxy_keep_the_vendors_quotas_and_agree(
    tmp_path: Path, redis_url: str
) -> None:
    balancer_binary = require_binary("haproxy")
    exports = tmp_path / "exports"
    env = dict(
        os.environ,
        PROCESS_MCP_REDIS_URL=redis_url,
        PROCESS_MCP_TALLYFY_SANDBOX_TOKEN="sandbox-tallyfy-token",
        PROCESS_MCP_KOMMO_SANDBOX_TOKEN="sandbox-kommo-token",
    )
    with (
        sandbox_process("--tallyfy-window", str(WINDOW)) as sims,
        replicas(3, write_config(tmp_path, sims, exports), env) as (a, b, c),
        haproxy(balancer_binary, [a.url, b.url, c.url], tmp_path) as front,
    ):
        # The reference: one replica alone, before the crowd.
        async with modern(a.url) as alone:
            reference = [ok(await alone.call_tool("export_process", e)) for e in EXPORTS]
            ids = {TALLYFY: await walk(alone, TALLYFY, 1000), KOMMO: await walk(alone, KOMMO, 1000)}
        expected = [(exports / r["file_name"]).read_bytes() for r in reference]

        results: list[dict[str, Any]] = []
        async with anyio.create_task_group() as tg:
            for n in range(CLIENTS):
                tg.start_soon(a_client, front.url, n, results)

        # Written through b, read through c; and a 2025-11-25 and a 2026-07-28 client
        # of the same replica agree.
        async with modern(b.url) as through_b:
            written = ok(await through_b.call_tool("export_process", EXPORTS[0]))
        async with legacy(c.url) as old, modern(c.url) as new:
            read = await old.read_resource(written["uri"])
            query = {"backend": TALLYFY, "limit": 5, "status": ["open"]}
            old_page = ok(await old.call_tool("list_processes", query))
            new_page = ok(await new.call_tool("list_processes", query))
        tallyfy_arrivals = sims[TALLYFY].arrivals()
        kommo_arrivals = sims[KOMMO].arrivals()
        tallyfy_peak, kommo_peak = sims[TALLYFY].busiest(WINDOW), sims[KOMMO].busiest(1.0)
        served = front.served_by()

    assert len(results) == CLIENTS
    for result in results:
        assert result[TALLYFY] == ids[TALLYFY]
        assert result[KOMMO] == ids[KOMMO]
        for ref, data, e in zip(reference, expected, EXPORTS, strict=True):
            done = result[f"{e['backend']} export"]
            assert done["rows"] == ref["rows"] == len(ids[e["backend"]])
            assert done["sha256"] == ref["sha256"] == hashlib.sha256(data).hexdigest()
            assert (exports / done["file_name"]).read_bytes() == data
    assert read.contents[0].text.encode() == (exports / written["file_name"]).read_bytes()
    assert old_page == new_page

    # The vendors' view: no 429, and never more than the quota in any window.
    assert [a for a in tallyfy_arrivals + kommo_arrivals if a["limited"]] == []
    assert tallyfy_peak <= 100
    assert kommo_peak <= 7
    # ... and the quotas did bind: more requests than one window holds.
    assert len(tallyfy_arrivals) > 100
    assert len(kommo_arrivals) > 3 * 7
    # Round robin reached every replica.
    assert sorted(served) == ["r1", "r2", "r3"]


def test_a_sandbox_tallyfy_window_counts_the_quota_over_it_and_tells_the_instance() -> None:
    with Sandbox(tallyfy_window=WINDOW) as sandbox:
        tallyfy = sandbox.instance(TALLYFY)
        assert [(r.max_requests, r.per_seconds) for r in tallyfy.core.rate_limits] == [
            (100, WINDOW),
            (1000, 60 * WINDOW),
        ]
        assert tallyfy.settings.rate_limit_per_minute == 100
        assert tallyfy.settings.rate_limit_window_seconds == WINDOW
        assert tallyfy.describe()["quota"] == "100 per 10 s, 1000 per 600 s"
        # Kommo keeps its real 7 per second.
        assert [
            (r.max_requests, r.per_seconds) for r in sandbox.instance(KOMMO).core.rate_limits
        ] == [(7, 1.0)]
