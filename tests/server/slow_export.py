"""Child process of the pseudo-terminal test: `process-mcp export` as a person runs it, the
bar on a real terminal, against a Tallyfy simulator large and slow enough (2,000 runs and
the sandbox's hostile ones, 250 ms per request: a few seconds) that the bar has something
to show before the end.

    python -m tests.server.slow_export EXPORT_DIR [export options...]

The simulator's latency is its model of the network, not a sleep of the test: the bar is
driven by real pages arriving, which is what this checks."""

from __future__ import annotations

import sys
from pathlib import Path

from server.cli import _parser
from server.export_cli import run_export
from server.settings import Settings
from tools.backends.tallyfy import sandbox
from tools.sim import SimServer

RUNS = 2000
LATENCY = 0.25


def main(argv: list[str]) -> int:
    parts = sandbox.open_sandbox(7, size=RUNS)
    parts.core.latency = LATENCY
    parts.core.rate_limit = None
    server = SimServer(parts.core).start()
    try:
        instance = parts.settings(server.url).model_copy(
            update={"rate_limit_per_minute": 1_000_000}
        )
        args = _parser().parse_args(["export", "--backend", sandbox.NAME, *argv[1:]])
        return run_export(Settings(instances=[instance], export_dir=Path(argv[0])), args)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
