"""Serve one sandbox backend's simulator in its own process, so a benchmark's client does
not share the GIL with the server it measures.

    python benchmarks/simproc.py KIND ROWS LATENCY_SECONDS [world]

Prints the URL, then answers each line read from stdin with its own CPU seconds so far
(the parent reports the simulator's CPU apart from the client's); serves until stdin
closes. The data comes from the backend's `open_sandbox(seed=7, size=ROWS)`, so the parent
can build the same settings.
Benchmarks start it with `simulator_process(...)`, which yields a `SimProcess`. With `world`
the simulator is what `process-mcp sandbox --latency MS` serves: the latency jittered a
quarter either way, and the vendor's published quota kept (Tallyfy: 100 a minute, 1,000 an
hour); without it the latency is constant and the client's limiter is what is measured, if
anything."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tools.sandbox import sandbox_of
from tools.sim import SimServer

SEED = 7


@dataclass(slots=True)
class SimProcess:
    url: str
    proc: subprocess.Popen[str]

    def cpu(self) -> float:
        """The simulator process's CPU seconds so far."""
        assert self.proc.stdin
        assert self.proc.stdout
        self.proc.stdin.write("cpu\n")
        self.proc.stdin.flush()
        return float(self.proc.stdout.readline())


@contextmanager
def simulator_process(
    kind: str, rows: int, latency: float, *, world: bool = False
) -> Iterator[SimProcess]:
    """This script as a subprocess, serving until the block ends."""
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
        yield SimProcess(proc.stdout.readline().strip(), proc)
    finally:
        proc.stdin.close()
        proc.wait()


def main() -> None:
    kind, rows, latency = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    module = sandbox_of(kind)
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    if sys.argv[4:] == ["world"]:
        parts.core.set_network(latency, seed=SEED)  # as the sandbox's --latency sets it
    else:
        parts.core.rate_limit = None  # the client's limiter is what is measured, if anything
        parts.core.latency = latency
    with SimServer(parts.core) as server:
        print(server.url, flush=True)
        for _ in sys.stdin:
            print(time.process_time(), flush=True)


if __name__ == "__main__":
    main()
