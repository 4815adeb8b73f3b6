"""Export under Tallyfy's real quota (issue 13): `process-mcp export` of 12,000 runs from
`process-mcp sandbox --latency 200`, whose simulator enforces Tallyfy's 100 requests a
minute (and 1,000 an hour) per organization, server side, in the sandbox process.

    uv run python benchmarks/quota_export.py [RUNS]     # prints a Markdown table

Two exports, each a process of its own: the second starts right after the first ends, as
a restart would, with empty windows of its own while the vendor's window is still full
of the first one's requests. Both must complete; the table shows how long each took,
against the floor that the quota sets (a little over a minute for 120 pages).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = 12_000
LATENCY_MS = 200
PAGE = 100
PER_MINUTE = 100
BACKEND = "tallyfy-sandbox"


def start_sandbox(runs: int, directory: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "server", "sandbox", "--latency", str(LATENCY_MS)]
    command += ["--size", f"tallyfy={runs}", "--write-config", str(directory)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("config written"):
            return proc
    proc.kill()
    raise RuntimeError("the sandbox did not start")


@dataclass
class Export:
    ok: bool
    wall: float
    rows: int
    sha256: str
    notes: list[str]
    error: str


def export(directory: Path, out: Path, name: str) -> Export:
    command = [sys.executable, "-m", "server", "export", "--config", str(directory / "config.toml")]
    command += ["--backend", BACKEND, "--export-dir", str(out), "--file-name", name]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    found = re.search(r"^(\d+) rows -> .* sha256 ([0-9a-f]+)\)", done.stdout, re.MULTILINE)
    notes = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    return Export(
        ok=done.returncode == 0 and found is not None,
        wall=wall,
        rows=int(found.group(1)) if found else 0,
        sha256=found.group(2) if found else "",
        notes=[n.removeprefix("warning: ") for n in notes],
        error="" if done.returncode == 0 else " ".join(done.stderr.strip().splitlines()[-2:]),
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox = start_sandbox(runs, root / "sandbox")
        try:
            first = export(root / "sandbox", root / "out", "first.csv")
            second = export(root / "sandbox", root / "out", "second.csv")  # "restarted"
        finally:
            sandbox.terminate()
            sandbox.wait()
    pages = math.ceil(runs / PAGE)
    # The pages and the users directory; each window beyond the first waits a minute.
    floor = 60.0 * (math.ceil((pages + 1) / PER_MINUTE) - 1)
    print(f"Tallyfy export of {runs:,} runs, {LATENCY_MS} ms a request, quota {PER_MINUTE}/min")
    print(f"({pages} pages and the users: the quota alone takes about {floor:.0f} s)\n")
    print("| export | completed | rows | wall | notes |")
    print("|---|---|---:|---:|---|")
    for label, result in (("first", first), ("right after a restart", second)):
        notes = "; ".join(result.notes) or "-"
        done = "yes" if result.ok else f"NO: {result.error}"
        print(f"| {label} | {done} | {result.rows:,} | {result.wall:.1f} s | {notes} |")
    print(f"\nsame file both times: {first.sha256 == second.sha256 != ''}")


if __name__ == "__main__":
    main()
