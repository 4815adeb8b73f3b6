"""`process-mcp demo`, the README's first command, as a newcomer runs it: the sandbox, the
real server over stdio and real tool calls, ending well and reading well."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_every_tool_over_stdio_and_ends_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "server", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in out + done.stderr
    assert (
        "tools: list_backends, list_processes, summarize_processes, get_process, export_process"
        in out
    )
    for tool in ("list_backends", "list_processes", "summarize_processes", "get_process"):
        assert f'"tool": "{tool}"' in out
    # The headline question, as a list and as one count, with both answers' sizes.
    assert "Which onboarding runs are stuck?" in out
    assert "by owner, every count exact" in out
    assert "answer sizes: list_processes text" in out
    # Bad input is an error result with a fix, and the export lands and reads back.
    assert "(isError) " in out
    assert "How to fix:" in out
    assert "Exported " in out
    assert "rows as csv" in out
    assert "formula cells neutralised" in out
