"""Serve the Tallyfy simulator in its own process, so a benchmark's client does not share
the GIL with the server it measures. Prints the URL, serves until stdin closes."""

from __future__ import annotations

import sys

from tools.backends.tallyfy import sandbox
from tools.backends.tallyfy.data import generate
from tools.backends.tallyfy.simulator import create_app
from tools.sim import SimServer


def main() -> None:
    runs, latency = int(sys.argv[1]), float(sys.argv[2])
    sim = create_app(generate(seed=7, runs=runs), token=sandbox.TOKEN, rate_limit=None)
    sim.latency = latency
    with SimServer(sim) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
