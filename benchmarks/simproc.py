"""Serve one sandbox backend's simulator in its own process, so a benchmark's client does
not share the GIL with the server it measures.

    python benchmarks/simproc.py KIND ROWS LATENCY_SECONDS [world]

Prints the URL, serves until stdin closes. The data comes from the backend's
`open_sandbox(seed=7, size=ROWS)`, so the parent can build the same settings.
Benchmarks start it with `simulator_process(...)`. With `world` the simulator is what
`process-mcp sandbox --latency MS` serves: the latency jittered a quarter either way, and
the vendor's published quota kept (Tallyfy: 100 a minute, 1,000 an hour); without it the
latency is constant and the client's limiter is what is measured, if anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.sandbox import SANDBOXES
from tools.sim import SimServer

SEED = 7


@contextmanager
def simulator_process(
    kind: str, rows: int, latency: float, *, world: bool = False
) -> Iterator[str]:
    """This script as a subprocess; yields the simulator's base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__)),
            kind,
            str(rows),
            str(latency),
            *(["world"] if world else []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin
    assert proc.stdout
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait()


def main() -> None:
    kind, rows, latency = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    module = next(m for m in SANDBOXES if m.NAME.split("-")[0] == kind)
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    if sys.argv[4:] == ["world"]:
        parts.core.set_network(latency, seed=SEED)  # as the sandbox's --latency sets it
    else:
        parts.core.rate_limit = None  # the client's limiter is what is measured, if anything
        parts.core.latency = latency
    with SimServer(parts.core) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
