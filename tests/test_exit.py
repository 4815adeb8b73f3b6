"""How the `process-mcp` command ends (server.cli.run): the atexit handlers run (the export
temporaries' cleanup is one), the output is flushed, and main's return is the exit code,
without the interpreter's module teardown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import atexit, sys
atexit.register(lambda: print("atexit handler ran"))
sys.argv = ["process-mcp", *sys.argv[1:]]
from server.cli import run
print("before the exit", end="")  # unterminated: only a flush writes it
run()
"""


def test_the_command_runs_atexit_handlers_flushes_and_exits_with_mains_code(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[instances.broken]\nkind = "nope"\n')
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        # Buffered, as a pipe is by default: the unterminated line needs the flush.
        env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
    )
    assert done.stdout.startswith("before the exit")
    assert "atexit handler ran" in done.stdout
    assert "unknown kind 'nope'" in done.stdout
    assert done.returncode == 1, done.stderr  # check: an instance is unusable
