"""Export benchmark (issue 15): a csv export of N rows per sandbox backend, 20 ms a request.

    uv run python benchmarks/export.py [ROWS] [KIND...]     # ROWS: 10000; KIND: all five

For each backend, in one run against one simulator (in its own process):
- the project: RUNS whole csv exports, each one's wall time, client CPU (this process)
  and simulator CPU (its process, reported apart);
- the floor (benchmarks/floor.py): typed decoding of the csv's fields, mapping and csv
  writes, on the list pages the export read, once after each export (the order of the two
  alternating run to run, so a change in load falls on both);
- peak traced Python memory of one export at N/5 and at N (RUNS each, no latency).

The client's rate limiter is lifted, so paging is what is measured, not the vendor's
quota (its floor, requests / published rate, is shown beside). "ideal" = pages / pages in
flight x latency. Everything is min / median / max of the runs; verdicts on the median.
"""

from __future__ import annotations

import gc
import math
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
from floor import FLOORS, Recorder, floor_seconds
from report import Spread, fmt, load, spread, table, verdict
from simproc import SimProcess, simulator_process

from server.logs import setup_logging
from tools.backends.base import Backend
from tools.backends.registry import KINDS, create_backend
from tools.export_process import export_process
from tools.instances import Instances
from tools.sandbox import SANDBOXES, sandbox_kind

LATENCY = 0.020
RUNS = 3
SEED = 7
UNTHROTTLED = 1_000_000
CPU_TARGET_US = 15.0
WALL_TARGET = 1.25
PEAK_TARGET_MB = 10.0


async def export_once(
    backend: Backend, directory: Path, sim: SimProcess | None = None, name: str = "bench"
) -> dict[str, Any]:
    before = backend.http.stats.requests
    sim_cpu = sim.cpu() if sim else 0.0
    cpu = time.process_time()
    start = time.perf_counter()
    result = await export_process(
        Instances([backend]),
        {"backend": backend.name, "format": "csv", "overwrite": True, "file_name": name},
        directory=directory,
    )
    return {
        "wall": time.perf_counter() - start,
        "cpu": time.process_time() - cpu,
        "sim_cpu": (sim.cpu() - sim_cpu) if sim else 0.0,
        "requests": backend.http.stats.requests - before,
        "rows": result.rows,
    }


async def opened(module: ModuleType, sim: SimProcess, rows: int, **options: Any) -> Backend:
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    settings = parts.settings(sim.url).model_copy(update={"rate_limit_per_minute": UNTHROTTLED})
    backend = create_backend(settings, **options)
    await backend.discover()
    return backend


async def timing(module: ModuleType, rows: int, directory: Path) -> dict[str, Any]:
    kind = sandbox_kind(module)
    with simulator_process(kind, rows, LATENCY) as sim:
        backend = await opened(module, sim, rows)
        # Warm caches that a long-running server has warm (users, pipelines, config).
        await export_once(backend, directory, name="warm")
        recorder = Recorder(kind)
        recording = await opened(module, sim, rows, transport=recorder)
        await export_once(recording, directory, name="recorded")  # the pages the floor reads
        await recording.aclose()
        runs, floors = [], []
        for round_ in range(RUNS):
            if round_ % 2:
                floors.append(floor_seconds(kind, recorder.pages))
            runs.append(await export_once(backend, directory, sim))
            if not round_ % 2:
                floors.append(floor_seconds(kind, recorder.pages))
        await backend.aclose()
    caps = backend.capabilities().for_collection(None)
    exported = runs[0]["rows"]  # yuuvis hides sub-processes from a list: fewer than asked
    pages = math.ceil(exported / caps.max_page_size)
    ideal = math.ceil(pages / caps.parallel_pages) * LATENCY
    limit = KINDS[kind].default_rate_limit
    quota = None
    if limit is not None:
        quota = (runs[0]["requests"] - limit.max_requests) / limit.max_requests * limit.per_seconds
    return {
        "kind": kind,
        "rows": exported,
        "requests": runs[0]["requests"],
        "ideal_requests": pages,
        "geometry": f"{caps.parallel_pages} x {caps.max_page_size}",
        "wall": spread([r["wall"] for r in runs]),
        "ratio": spread([r["wall"] / ideal for r in runs]),
        "cpu": spread([r["cpu"] for r in runs]),
        "cpu_row": spread([r["cpu"] / exported * 1e6 for r in runs]),
        "floor_row": spread([seconds / written * 1e6 for seconds, written in floors]),
        "floor_rows": floors[0][1],
        "sim_cpu": spread([r["sim_cpu"] for r in runs]),
        "ideal": ideal,
        "quota_floor": max(0.0, quota) if quota is not None else None,
    }


async def peak_memory(module: ModuleType, rows: int, directory: Path) -> Spread:
    """Peak traced allocation of an export in this process, in MB, RUNS times. The
    simulator runs in its own process (no latency), so its caches do not count."""
    with simulator_process(sandbox_kind(module), rows, 0.0) as sim:
        backend = await opened(module, sim, rows)
        await export_once(backend, directory)  # warm: directories, pipelines, users
        peaks = []
        for _ in range(RUNS):
            gc.collect()
            tracemalloc.start()
            await export_once(backend, directory)
            peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
            tracemalloc.stop()
        await backend.aclose()
    return spread(peaks)


def lines(t: dict[str, Any], small: Spread, large: Spread) -> tuple[list[str], list[str]]:
    figures = [
        t["kind"],
        f"{t['rows']:,}",
        f"{t['requests']} ({t['ideal_requests']})",
        t["geometry"],
        fmt(t["wall"], 1000),
        f"{t['ideal'] * 1000:.0f} ms",
        fmt(t["ratio"], digits=2) + "x",
        fmt(t["cpu_row"], digits=1),
        fmt(t["floor_row"], digits=1),
        f"{t['cpu_row'][1] / t['floor_row'][1]:.1f}x",
        fmt(t["sim_cpu"], 1000),
        f"{t['quota_floor']:.1f} s" if t["quota_floor"] else "-",
        fmt(small, digits=1),
        fmt(large, digits=1),
    ]
    verdicts = [
        t["kind"],
        verdict(t["cpu_row"][1], CPU_TARGET_US, " µs", 1),
        verdict(t["ratio"][1], WALL_TARGET, "x"),
        verdict(large[1], PEAK_TARGET_MB, " MB", 1) + f"; x{large[1] / small[1]:.2f} from N/5",
    ]
    return figures, verdicts


async def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    wanted = sys.argv[2:] or [sandbox_kind(m) for m in SANDBOXES]
    setup_logging("ERROR")
    before = load()
    figures, verdicts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for module in (
            m for m in SANDBOXES if sandbox_kind(m) in wanted and sandbox_kind(m) in FLOORS
        ):
            t = await timing(module, rows, directory)
            small = await peak_memory(module, rows // 5, directory)
            large = await peak_memory(module, rows, directory)
            figure, judged = lines(t, small, large)
            figures.append(figure)
            verdicts.append(judged)
    print(f"Export of {rows:,} rows as csv, {LATENCY * 1000:.0f} ms simulated latency per")
    print(f"request; min / median / max of {RUNS} runs, project and floor paired in each")
    print(f"({before}; after: {load()})\n")
    headers = ["backend", "rows", "requests (ideal)", "pages in flight", "wall ms", "ideal"]
    headers += ["wall / ideal", "client CPU µs/row", "floor µs/row", "client / floor"]
    headers += ["simulator CPU ms", "vendor quota floor", "peak MB at N/5", "peak MB at N"]
    print(table(headers, figures))
    print()
    targets = [
        "backend",
        f"client CPU at most {CPU_TARGET_US:g} µs/row",
        f"wall at most {WALL_TARGET}x ideal",
        f"peak at most {PEAK_TARGET_MB:g} MB at N",
    ]
    print(table(targets, verdicts))


if __name__ == "__main__":
    anyio.run(main)
