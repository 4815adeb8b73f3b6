"""Serve one sandbox backend's simulator in its own process, so a benchmark's client does
not share the GIL with the server it measures.

    python benchmarks/simproc.py KIND ROWS LATENCY_SECONDS

Prints the URL, serves until stdin closes. The data comes from the backend's
`open_sandbox(seed=7, size=ROWS)`, so the parent can build the same settings."""

from __future__ import annotations

import sys

from tools.sandbox import SANDBOXES
from tools.sim import SimServer

SEED = 7


def main() -> None:
    kind, rows, latency = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    module = next(m for m in SANDBOXES if m.NAME.split("-")[0] == kind)
    parts = module.open_sandbox(SEED, strict=True, size=rows)
    parts.core.rate_limit = None  # the client's limiter is what is measured, if anything
    parts.core.latency = latency
    with SimServer(parts.core) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
