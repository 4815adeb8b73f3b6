"""`list_processes` at limit 1000 against its latency-only ideal, per sandbox backend
(issue 15: at most 1.5x).

    uv run python benchmarks/lists.py [RUNS] [KIND...]      # RUNS: 5

The call goes through the MCP server (`call_tool`: argument checks, paging, the compact
text and the structured answer), its simulator in its own process at 20 ms a request with
the vendor's quota lifted (the client's paging is what is measured). Ideal: the pages the
rows need, divided by the pages the backend allows in flight, times the latency. Each
run's wall and client CPU; min / median / max, the verdict on the median.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
from mcp import Client
from report import fmt, load, spread, table, verdict
from simproc import simulator_process

from server.app import build_server
from server.logs import setup_logging
from server.settings import Settings
from tools.backends.registry import create_backend
from tools.sandbox import SANDBOXES, sandbox_kind

LATENCY = 0.020
LIMIT = 1000
TARGET = 1.5
SEED = 7
UNTHROTTLED = 1_000_000


async def timing(module: ModuleType, runs: int, directory: Path) -> list[str]:
    kind = sandbox_kind(module)
    size = 2 * LIMIT  # more rows than one call returns: the call ends on a cursor
    parts = module.open_sandbox(SEED, strict=True, size=size)
    with simulator_process(kind, size, LATENCY) as sim:
        settings = parts.settings(sim.url).model_copy(update={"rate_limit_per_minute": UNTHROTTLED})
        probe = create_backend(settings)
        await probe.discover()  # Chakra's collections (and so its page size) are discovered
        caps = probe.capabilities().for_collection(None)
        await probe.aclose()
        server = build_server(Settings(instances=[settings], export_dir=directory))
        args: dict[str, Any] = {"backend": settings.name, "limit": LIMIT}
        async with Client(server):
            await server.call_tool("list_processes", args)  # warm: discovery, directories
            walls, cpus, rows = [], [], 0
            for _ in range(runs):
                cpu, start = time.process_time(), time.perf_counter()
                result: Any = await server.call_tool("list_processes", args)
                walls.append(time.perf_counter() - start)
                cpus.append(time.process_time() - cpu)
                assert not result.is_error, result.content[0].text
                rows = len(result.structured_content["rows"])
    pages = math.ceil(rows / caps.max_page_size)
    ideal = math.ceil(pages / caps.parallel_pages) * LATENCY
    wall = spread(walls)
    return [
        kind,
        f"{rows:,}",
        f"{caps.parallel_pages} x {caps.max_page_size}",
        fmt(wall, 1000),
        f"{ideal * 1000:.0f} ms",
        fmt(tuple(w / ideal for w in wall), digits=2) + "x",  # type: ignore[arg-type]
        fmt(spread(cpus), 1000),
        verdict(wall[1] / ideal, TARGET, "x"),
    ]


async def main() -> None:
    args = sys.argv[1:]
    runs = int(args.pop(0)) if args and args[0].isdigit() else 5
    wanted = args or [sandbox_kind(m) for m in SANDBOXES]
    setup_logging("ERROR")
    before = load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for module in (m for m in SANDBOXES if sandbox_kind(m) in wanted):
            rows.append(await timing(module, runs, Path(tmp)))
    print(f"list_processes at limit {LIMIT}, {LATENCY * 1000:.0f} ms a request, {runs} runs;")
    print(f"min / median / max ({before}; after: {load()})\n")
    headers = ["backend", "rows", "pages in flight", "wall ms", "ideal", "wall / ideal"]
    headers += ["client CPU ms", f"target {TARGET}x (median)"]
    print(table(headers, rows))


if __name__ == "__main__":
    anyio.run(main)
