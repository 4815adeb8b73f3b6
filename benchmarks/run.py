"""Benchmarks for the budgets of design.md section 9 that exist so far (Tallyfy).

    uv run python benchmarks/run.py            # prints a Markdown table for the README

Figures are medians over repeated runs on this machine; they are for spotting
regressions and checking budgets, not absolute claims.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import startup
from mcp import Client
from report import Spread, fmt, interleaved, spread, verdict
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
LIMIT = startup.START_RATIO
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
    with simulator_process("tallyfy", ROWS, LATENCY) as sim:
        backend = create_backend(instance(sim.url))
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


def cold_starts(runs: int = 5) -> dict[str, Spread]:
    """`serve` with an empty config (no sandbox) against the bare SDK server, paired."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        empty = tmp / "config.toml"
        empty.write_text("")
        sandboxed, bare = startup.servers(tmp)
        plain = dataclasses.replace(
            sandboxed, stdio=[*sandboxed.stdio[:-1], "--config", str(empty)]
        )
        env = startup.child_env(tmp, bytecode=True)
        startup.stdio_run(plain, env)  # warm-up
        startup.stdio_run(bare, env)
        ours, theirs = interleaved(
            runs, partial(startup.stdio_run, plain, env), partial(startup.stdio_run, bare, env)
        )
    return {
        "ours": spread([r.start for r in ours]),
        "bare": spread([r.start for r in theirs]),
        "ratio": spread([o.start / b.start for o, b in zip(ours, theirs, strict=True)]),
    }


BARE_HTTP = """
import sys
from mcp.server.mcpserver import MCPServer
MCPServer("bare").run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


def keepalive_ping() -> dict[str, float]:
    """A 2025-11-25 session's `ping` over streamable HTTP on loopback, the connection kept
    alive between calls (the answer is an SSE body of several small writes: without
    TCP_NODELAY each waited ~40 ms for the client's delayed ACK), against the bare SDK
    server run by its own `run()` (uvicorn binding the port itself, which sets it)."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "config.toml"
        empty.write_text("")
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_HTTP)
        ours = [sys.executable, "-m", "server", "serve", "--config", str(empty)]
        ours += ["--transport", "http", "--port", "0"]
        port = _free_port()
        return {
            "ours": _served(ours, "listening on ", lambda line: line.split()[-1]),
            "bare": _served(
                [sys.executable, str(bare), str(port)],
                "Uvicorn running on",
                lambda _line: f"http://127.0.0.1:{port}/mcp",
            ),
        }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _served(cmd: list[str], ready: str, url_of: Callable[[str], str]) -> float:
    env = {**os.environ, "PROCESS_MCP_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stderr
    try:
        url = url_of(next(line for line in proc.stderr if ready in line))
        threading.Thread(target=lambda: proc.stderr and proc.stderr.read(), daemon=True).start()
        return _pings(url)
    finally:
        proc.terminate()
        proc.wait()


def _pings(url: str, count: int = 200) -> float:
    accept = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=10) as http:
        opened = http.post(
            url,
            content=json.dumps(startup.INIT),
            headers={**accept, "Content-Type": "application/json"},
        )
        headers = {
            **accept,
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        http.post(
            url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
        )
        times = []
        for n in range(count):
            start = time.perf_counter()
            answer = http.post(
                url, json={"jsonrpc": "2.0", "id": n, "method": "ping"}, headers=headers
            )
            times.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text
    return median(times)


async def main() -> None:
    setup_logging("WARNING")
    fetch = await fetch_with_latency()
    overhead = await tool_overhead()
    listing = await tools_list_bytes()
    start = cold_starts()
    sandbox = startup.measure(REPEAT)
    ping = keepalive_ping()
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
            "cold start without --sandbox, spawn to initialize answer (stdio, empty config)",
            f"{fmt(start['ours'], 1000)} ms vs bare SDK {fmt(start['bare'], 1000)} ms "
            f"({fmt(start['ratio'], digits=2)}x)",
            f"budget {LIMIT}x: {verdict(start['ratio'][1], LIMIT, 'x')}",
        ),
        *[(m, r, f"{t}: {v}" if v else t) for m, r, t, v in startup.rows(sandbox)],
        (
            "ping on a kept-alive connection (streamable HTTP, loopback)",
            f"{ping['ours'] * 1000:.1f} ms vs bare SDK {ping['bare'] * 1000:.1f} ms",
            "at most 3 ms",
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
