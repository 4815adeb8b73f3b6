"""Benchmarks for the budgets of design.md section 9 that exist so far (Tallyfy).

    uv run python benchmarks/run.py            # prints a Markdown table for the README

Figures are medians over repeated runs on this machine; they are for spotting
regressions and checking budgets, not absolute claims.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client
from simproc import simulator_process

from server.app import build_server
from server.logs import setup_logging
from server.settings import Settings
from tools.backends.base import InstanceSettings
from tools.backends.registry import create_backend
from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import generate
from tools.backends.tallyfy.simulator import create_app
from tools.paging import run_list
from tools.query import ProcessQuery
from tools.sim import SimulatorCore

ROWS = 1000
LATENCY = 0.020
REPEAT = 5
DATA = generate(seed=7, runs=ROWS)


def median(values: list[float]) -> float:
    return statistics.median(values)


def instance(url: str) -> InstanceSettings:
    return sandbox.settings(url, DATA.org_id, rate_limit_per_minute=1_000_000)


def fresh_sim(latency: float = 0.0) -> SimulatorCore:
    sim = create_app(DATA, token=sandbox.TOKEN, rate_limit=None)
    sim.latency = latency
    return sim


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def fetch_with_latency() -> dict[str, Any]:
    """N rows, native filters only, over real HTTP with simulated latency per request."""
    with simulator_process("tallyfy", ROWS, LATENCY) as url:
        backend = create_backend(instance(url))
        query = ProcessQuery(backend=sandbox.NAME, limit=ROWS)
        await run_list([backend], query)  # warm the directory cache (users)
        before = backend.http.stats.requests
        times = [await timed(lambda: run_list([backend], query)) for _ in range(REPEAT)]
        requests = (backend.http.stats.requests - before) // REPEAT
        await backend.aclose()
    caps = backend.capabilities()
    pages = math.ceil(ROWS / caps.max_page_size)
    ideal = math.ceil(pages / caps.parallel_pages) * LATENCY
    return {
        "requests": requests,
        "ideal_requests": pages,
        "wall": median(times),
        "ideal": ideal,
        "parallel": caps.parallel_pages,
    }


async def tool_overhead() -> dict[str, float]:
    """list_processes through the in-memory MCP client vs the same work done directly."""
    sim = fresh_sim()
    settings = Settings(instances=[instance("http://tallyfy.bench")])
    transports = {sandbox.NAME: httpx.ASGITransport(app=sim)}
    args = {"backend": sandbox.NAME, "limit": 100}
    direct_backend = create_backend(
        instance("http://tallyfy.bench"), transport=httpx.ASGITransport(app=sim)
    )
    query = ProcessQuery.model_validate(args)
    await run_list([direct_backend], query)
    direct = [await timed(lambda: run_list([direct_backend], query)) for _ in range(20)]
    await direct_backend.aclose()
    server = build_server(settings, transports=transports)
    async with Client(server) as client:
        assert not (await client.call_tool("list_processes", args)).is_error
        via_mcp = [await timed(lambda: client.call_tool("list_processes", args)) for _ in range(20)]
        # The server's share: the same call without the client's result validation.
        in_server = [
            await timed(lambda: server.call_tool("list_processes", args)) for _ in range(20)
        ]
    return {"direct": median(direct), "mcp": median(via_mcp), "server": median(in_server)}


async def tools_list_bytes() -> int:
    """The whole tools/list answer in bytes of compact JSON (tokens: benchmarks/sizes.py)."""
    async with Client(build_server(Settings())) as client:
        tools = (await client.list_tools()).tools
    listing = json.dumps(
        [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
        separators=(",", ":"),
    )
    return len(listing)


BARE = """
from mcp.server.mcpserver import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def ping() -> str:
    return "pong"
mcp.run()
"""
INIT = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }
)


def cold_start(cmd: list[str]) -> float:
    """Spawn to the initialize reply, over stdio."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdin
    assert proc.stdout
    proc.stdin.write(INIT + "\n")
    proc.stdin.flush()
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    return elapsed


def cold_starts() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        empty = Path(tmp) / "config.toml"
        empty.write_text("")
        ours = [sys.executable, "-m", "server", "serve", "--config", str(empty)]
        for cmd in (ours, [sys.executable, str(bare)]):
            cold_start(cmd)  # warm the bytecode caches
        runs = 7
        return {
            "ours": median([cold_start(ours) for _ in range(runs)]),
            "bare": median([cold_start([sys.executable, str(bare)]) for _ in range(runs)]),
        }


async def main() -> None:
    setup_logging("WARNING")
    fetch = await fetch_with_latency()
    overhead = await tool_overhead()
    listing = await tools_list_bytes()
    start = cold_starts()
    rows = [
        (
            f"requests for {ROWS} rows, native filters (Tallyfy, 100/page)",
            f"{fetch['requests']}",
            f"ceil(N/100) = {fetch['ideal_requests']}",
        ),
        (
            f"wall time for {ROWS} rows, {LATENCY * 1000:.0f} ms latency, "
            f"{fetch['parallel']} pages in flight",
            f"{fetch['wall'] * 1000:.0f} ms ({fetch['wall'] / fetch['ideal']:.2f}x ideal)",
            f"ideal {fetch['ideal'] * 1000:.0f} ms; budget 1.25x",
        ),
        (
            "list_processes (100 rows): server-side vs the same work done directly",
            f"{overhead['server'] * 1000:.1f} ms vs {overhead['direct'] * 1000:.1f} ms "
            f"({overhead['server'] / overhead['direct']:.2f}x)",
            "small",
        ),
        (
            "... the same call through the SDK client (it validates the result)",
            f"{overhead['mcp'] * 1000:.1f} ms ({overhead['mcp'] / overhead['direct']:.2f}x)",
            "informational",
        ),
        (
            "cold start, spawn to initialize reply (stdio)",
            f"{start['ours'] * 1000:.0f} ms vs bare SDK {start['bare'] * 1000:.0f} ms "
            f"({start['ours'] / start['bare']:.2f}x)",
            "budget 1.15x",
        ),
        (
            "whole tools/list (compact JSON; tokens: benchmarks/sizes.py)",
            f"{listing:,} B",
            "test budget 16,000 B",
        ),
    ]
    print("| measure | result | target |")
    print("|---|---|---|")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")


if __name__ == "__main__":
    anyio.run(main)
