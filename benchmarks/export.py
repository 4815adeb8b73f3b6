"""Export benchmark (design.md section 9): N rows per sandbox backend, 20 ms per request.

    uv run python benchmarks/export.py [ROWS]      # prints a Markdown table for the README

For each backend: wall time of a whole csv export against the ideal (pages divided by the
pages allowed in flight, times the latency), requests made against ceil(N / max page
size), and peak Python memory at N/5 and N rows (flat = streaming works). The client's
rate limiter is lifted for the timing, so the figure measures our paging, not the
vendor's quota; the vendor-quota floor (requests / published rate) is shown beside it.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
from floor import FLOORS, capture, floor_seconds
from simproc import SimProcess, simulator_process

from server.logs import setup_logging
from tools.backends.base import Backend
from tools.backends.registry import KINDS, create_backend
from tools.export_process import export_process
from tools.instances import Instances
from tools.sandbox import SANDBOXES

LATENCY = 0.020
REPEAT = 3
SEED = 7
UNTHROTTLED = 1_000_000


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def kind_of(module: ModuleType) -> str:
    return str(module.NAME).split("-")[0]


async def export_once(
    backend: Backend, directory: Path, sim: SimProcess | None = None
) -> dict[str, Any]:
    before = backend.http.stats.requests
    sim_cpu = sim.cpu() if sim else 0.0
    cpu = time.process_time()
    start = time.perf_counter()
    result = await export_process(
        Instances([backend]),
        {"backend": backend.name, "format": "csv", "overwrite": True, "file_name": "bench"},
        directory=directory,
    )
    return {
        "wall": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "sim_cpu": (sim.cpu() - sim_cpu) if sim else 0.0,
        "requests": backend.http.stats.requests - before,
        "rows": result.rows,
    }


async def timing(module: ModuleType, rows: int, directory: Path) -> dict[str, Any]:
    kind = kind_of(module)
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    with simulator_process(kind, rows, LATENCY) as sim:
        settings = parts.settings(sim.url).model_copy(update={"rate_limit_per_minute": UNTHROTTLED})
        backend = create_backend(settings)
        await backend.discover()
        # Warm caches that a long-running server has warm (users, pipelines, config).
        await export_process(
            Instances([backend]),
            {"backend": backend.name, "max_rows": 1, "overwrite": True, "file_name": "warm"},
            directory=directory,
        )
        runs = [await export_once(backend, directory, sim) for _ in range(REPEAT)]
        floor_cpu = None
        if kind in FLOORS:
            pages = await capture(kind, backend, rows)
            floor_cpu = statistics.median(floor_seconds(kind, pages) for _ in range(REPEAT))
        await backend.aclose()
    caps = backend.capabilities().for_collection(None)
    # The rows there are to export (yuuvis hides sub-processes from a list: fewer than asked).
    pages = math.ceil(runs[0]["rows"] / caps.max_page_size)
    ideal = math.ceil(pages / caps.parallel_pages) * LATENCY
    wall = spread([r["wall"] for r in runs])
    cpu = spread([r["cpu"] for r in runs])
    sim_cpu = statistics.median(r["sim_cpu"] for r in runs)
    limit = KINDS[kind].default_rate_limit
    floor = None
    if limit is not None:
        floor = (runs[0]["requests"] - limit.max_requests) / limit.max_requests * limit.per_seconds
    return {
        "kind": kind,
        "rows": runs[0]["rows"],
        "requests": runs[0]["requests"],
        "ideal_requests": pages,
        "page": caps.max_page_size,
        "parallel": caps.parallel_pages,
        "wall": wall,
        "cpu": cpu,
        "sim_cpu": sim_cpu,
        "floor_cpu": floor_cpu,
        "ideal": ideal,
        "quota_floor": max(0.0, floor) if floor is not None else None,
    }


async def peak_memory(module: ModuleType, rows: int, directory: Path) -> float:
    """Peak traced allocation of one export in this process, in MB. The simulator runs in
    its own process (no latency), so its caches do not count against the client."""
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    with simulator_process(kind_of(module), rows, 0.0) as sim:
        settings = parts.settings(sim.url).model_copy(update={"rate_limit_per_minute": UNTHROTTLED})
        backend = create_backend(settings)
        await backend.discover()
        await export_once(backend, directory)  # warm: directories, pipelines, users
        gc.collect()
        tracemalloc.start()
        await export_once(backend, directory)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await backend.aclose()
    return peak / 1e6


def ms(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v * 1000:.0f}" for v in values)


async def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    setup_logging("ERROR")
    print(f"Export of {rows} rows, {LATENCY * 1000:.0f} ms simulated latency per request\n")
    print(f"Wall and client CPU: min / median / max of {REPEAT} runs; ratio and µs/row: median\n")
    print(
        "| backend | rows | requests (ideal) | pages in flight | wall ms | ideal | ratio "
        "| client CPU ms | client µs/row | floor µs/row | simulator CPU | vendor quota floor "
        "| peak MB at N/5 | peak MB at N |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        wanted = sys.argv[2:] or [kind_of(m) for m in SANDBOXES]
        for module in (m for m in SANDBOXES if kind_of(m) in wanted):
            t = await timing(module, rows, directory)
            small = await peak_memory(module, rows // 5, directory)
            large = await peak_memory(module, rows, directory)
            floor = f"{t['quota_floor']:.1f} s" if t["quota_floor"] else "-"
            wall, cpu = t["wall"], t["cpu"]
            per_row = f"{t['floor_cpu'] / t['rows'] * 1e6:.1f}" if t["floor_cpu"] else "-"
            print(
                f"| {t['kind']} | {t['rows']} | {t['requests']} ({t['ideal_requests']}) "
                f"| {t['parallel']} x {t['page']} | {ms(wall)} "
                f"| {t['ideal'] * 1000:.0f} ms | {wall[1] / t['ideal']:.2f}x "
                f"| {ms(cpu)} | {cpu[1] / t['rows'] * 1e6:.1f} | {per_row} "
                f"| {t['sim_cpu'] * 1000:.0f} ms | {floor} "
                f"| {small:.1f} | {large:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    anyio.run(main)
