"""Run the real server as a subprocess on an HTTP transport, for tests."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

SERVE = [sys.executable, "-m", "server", "serve", "--sandbox"]


@contextmanager
def serve_http(
    args: Sequence[str], env: Mapping[str, str], lines: list[str] | None = None
) -> Iterator[str]:
    """Start `process-mcp serve --sandbox ARGS --port 0` and yield the URL it reports on
    stderr. Everything it writes to stderr is collected in `lines`; stdout must stay empty."""
    lines = [] if lines is None else lines
    proc = subprocess.Popen(
        [*SERVE, *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )
    assert proc.stderr is not None
    url = None
    for line in proc.stderr:  # blocks until the server prints its address (or dies)
        lines.append(line)
        if "listening on " in line:
            url = line.rsplit("listening on ", 1)[1].strip()
            break
    drain = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    drain.start()
    try:
        assert url, "server did not start:\n" + "".join(lines)
        yield url
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        drain.join(timeout=5)
        assert out == "", "nothing may be written to stdout"
