"""`process-mcp export`: the same export from a terminal, with a progress bar on stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.export_cli import ProgressBar

pytestmark = pytest.mark.anyio
EXPORT = [sys.executable, "-m", "server", "export", "--sandbox", "--backend", "tallyfy-sandbox"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_the_bar_fills_with_rows_against_the_total_on_a_terminal() -> None:
    out = Terminal()
    bar = ProgressBar(out)
    await bar(250, 1000, "250 rows written")
    assert "[#######.......................] 250/1000 rows" in out.getvalue()
    bar.finish()
    assert out.getvalue().endswith("\r")


async def test_without_a_total_the_bar_counts_rows_and_a_pipe_gets_no_bar() -> None:
    out = Terminal()
    await ProgressBar(out)(42, None, "")
    assert "42 rows" in out.getvalue()
    piped = io.StringIO()
    await ProgressBar(piped)(42, 100, "")
    assert piped.getvalue() == ""


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
