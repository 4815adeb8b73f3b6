"""Where an export's client CPU goes: cProfile of one csv export (after a warm one), the
simulator in its own process, grouped by what the time is spent on.

    uv run python benchmarks/profile_export.py [ROWS] [KIND ...]

The groups are by the module a function lives in (its own time, not cumulative), so they
add up to the whole; the profiler inflates every figure about 1.5-2x, evenly enough for
the shares to say where the distance to the floor is."""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

from export import export_once, opened
from simproc import simulator_process

from tools.sandbox import SANDBOXES, sandbox_kind, sandbox_of

# First match wins: (group, substrings of the function's file path).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vendor JSON decoding (msgspec)", ("msgspec", "tools/decode.py")),
    ("row mapping (adapters)", ("tools/backends/",)),
    ("csv writing and formula guard", ("exportformats", "/csv.py", "safe_text")),
    ("row model and dates", ("tools/model.py", "datetime", "_strptime", "isoformat")),
    (
        "paging, streams, dedupe, filters",
        (
            "tools/paging",
            "tools/stream",
            "tools/query",
            "tools/export_process",
            "tools/fanout",
            "tools/where",
        ),
    ),
    (
        "our HTTP client (retry, quota, redaction)",
        ("tools/http", "tools/limiter", "tools/redact", "tools/operation"),
    ),
    ("httpx / httpcore / h11", ("httpx", "httpcore", "h11")),
    (
        "asyncio and anyio (event loop, socket calls)",
        ("asyncio", "anyio", "selectors", "socket", "ssl", "epoll"),
    ),
    ("file writes", ("exportfiles", "tempfile", "os.py", "shutil", "BufferedWriter")),
)


def grouped(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = {}
    for (path, _, name), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        # Built-ins (path "~") are named by what they are a method of.
        where = name if path == "~" else path
        group = next((g for g, keys in GROUPS if any(k in where for k in keys)), None)
        if group is None:
            group = "other built-ins (str, dict, isinstance, ...)" if path == "~" else "other"
        out[group] = out.get(group, 0.0) + tottime
    return out


async def profile(kind: str, rows: int) -> None:
    module = sandbox_of(kind)
    directory = Path(tempfile.mkdtemp())
    with simulator_process(kind, rows, 0.0) as sim:
        backend = await opened(module, sim, rows)
        await export_once(backend, directory, name="warm")
        profiler = cProfile.Profile()
        profiler.enable()
        result = await export_once(backend, directory, sim)
        profiler.disable()
        await backend.aclose()
    stats = pstats.Stats(profiler)
    groups = grouped(stats)
    total = sum(groups.values())
    exported = result["rows"]
    print(f"\n{kind}: {exported:,} rows, profiled CPU {total * 1e6 / exported:.1f} us/row")
    print("| where | us/row (profiled) | share |\n|---|---|---|")
    for group, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"| {group} | {seconds * 1e6 / exported:.1f} | {seconds / total:.0%} |")
    if "--top" in sys.argv:
        stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = int(args[0]) if args else 10_000
    kinds = args[1:] or [sandbox_kind(m) for m in SANDBOXES]
    for kind in kinds:
        asyncio.run(profile(kind, rows))


if __name__ == "__main__":
    main()
