"""`process-mcp export`: the same export from a terminal, with a progress bar on stderr."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.export_cli import ProgressBar, add_parser, arguments
from tests.server import slow_export

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
EXPORT = [sys.executable, "-m", "server", "export", "--sandbox", "--backend", "tallyfy-sandbox"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_bar_fills_with_rows_against_the_total_on_a_terminal() -> None:
    out = Terminal()
    bar = ProgressBar(out)
    await bar(250, 1000, "250 of 1000 rows")
    assert "\r[#######.......................] 250 of 1000 rows" in out.getvalue()
    bar.finish()
    assert out.getvalue().endswith("\r")


async def test_a_shorter_frame_covers_what_the_longer_one_left() -> None:
    out = Terminal()
    bar = ProgressBar(out)
    await bar(5, None, "examined 5 rows, 1 match")
    await bar(9, None, "9 rows")
    last = out.getvalue().split("\r")[-1]
    assert last == "9 rows".ljust(len("examined 5 rows, 1 match"))


async def test_without_a_total_the_bar_counts_rows_and_a_pipe_gets_no_bar() -> None:
    out = Terminal()
    await ProgressBar(out)(42, None, "")
    assert "42 rows" in out.getvalue()
    piped = io.StringIO()
    await ProgressBar(piped)(42, 100, "")
    assert piped.getvalue() == ""


def run_in_terminal(argv: list[str], timeout: float = 120) -> str:
    """Run argv with stdin, stdout and stderr on a new pseudo-terminal; everything it
    wrote there, in order."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        argv, stdin=terminal, stdout=terminal, stderr=terminal, cwd=ROOT, close_fds=True
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
    assert child.returncode == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


FRAME = re.compile(r"\[([#.]+)\] (\d+) of (\d+) rows")


def test_the_export_bar_moves_on_a_terminal_before_the_export_ends(tmp_path: Path) -> None:
    screen = run_in_terminal(
        [sys.executable, "-m", "tests.server.slow_export", str(tmp_path), "--file-name", "all.csv"]
    )
    before_end, _, after = screen.partition(" rows -> ")
    # The sandbox adds its hostile runs to the RUNS asked for: the final line says how many.
    written = int(re.findall(r"\d+", before_end)[-1])
    assert written >= slow_export.RUNS
    frames = [FRAME.search(f) for f in before_end.split("\r")]
    counts = [(int(m[2]), int(m[3]), m[1].count("#")) for m in frames if m]
    done = [c[0] for c in counts]
    assert len(set(done)) >= 3, f"the bar redraws as rows arrive: {counts}"
    assert done == sorted(done), "counts only rise"
    assert {c[1] for c in counts} == {written}, "against the total from the first page"
    assert [c[2] for c in counts] == sorted(c[2] for c in counts), "the bar fills"
    assert any(0 < d < written for d in done), "it moved before the end"
    assert "all.csv" in after
    with (tmp_path / "all.csv").open(newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == written + 1


def test_export_command_writes_the_file_and_reports_it(tmp_path: Path) -> None:
    env = dict(os.environ, PROCESS_MCP_EXPORT_DIR=str(tmp_path))
    done = subprocess.run(
        [
            *EXPORT,
            "--status",
            "open",
            "--format",
            "jsonl",
            "--max-rows",
            "12",
            "--file-name",
            "open",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "open.jsonl").read_text().splitlines()
    assert len(lines) == 12
    assert all(json.loads(line)["status"] == "open" for line in lines)
    assert f"12 rows -> {tmp_path / 'open.jsonl'}" in done.stdout


def test_export_command_refusal_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, PROCESS_MCP_EXPORT_DIR=str(tmp_path))
    done = subprocess.run(
        [*EXPORT, "--file-name", "../escape.csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "tries to leave the export directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_due_date_flags_become_the_tools_filters() -> None:
    parser = add_parser(argparse.ArgumentParser().add_subparsers())
    args = parser.parse_args(["--backend", "all", "--due-before", "2026-12-01", "--overdue"])
    assert arguments(args) == {"backend": "all", "due_before": "2026-12-01", "overdue": True}
