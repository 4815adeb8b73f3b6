"""Start-up and shutdown of `process-mcp serve --sandbox` against a bare SDK server (issue 15).

    uv run python benchmarks/startup.py [RUNS] [--no-bytecode-cache]     # RUNS: 7

Each round starts both servers, alternately first (report.interleaved), over stdio and
over streamable HTTP:

- stdio: spawn to the `initialize` answer (cold start), then `notifications/initialized`
  and a first tool call (ours: list_backends, which waits for the five simulators; bare:
  a `ping` tool), then stdin closed to the process's exit (shutdown);
- HTTP: spawn to the listening line, a session's initialize and first tool call, then
  SIGTERM to the process's exit.

The children run with Python's bytecode cache, as an installed package does: this VM sets
PYTHONDONTWRITEBYTECODE, under which every start compiles every module from source, which
is not what a user's server does (and it drowns the difference in compile time). A
warm-up start of each writes the cache. `--no-bytecode-cache` measures without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from report import Spread, fmt, interleaved, load, spread, table, verdict

START_RATIO = 1.15
SHUTDOWN_SECONDS = 0.400

BARE = """
import sys
from mcp.server.mcpserver import MCPServer
mcp = MCPServer("bare")
@mcp.tool()
def ping() -> str:
    return "pong"
if sys.argv[1:]:
    mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
else:
    mcp.run()
"""
VERSION = "2025-11-25"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": VERSION,
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def call(tool: str) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool}}


@dataclass
class Server:
    """How to start one server, over stdio or HTTP, and the tool its first call uses."""

    stdio: list[str]
    http: Callable[[int], list[str]]
    ready: str  # the stderr line an HTTP server prints when it listens
    tool: str


@dataclass
class Run:
    start: float  # spawn to the initialize answer (stdio) or the listening line (HTTP)
    first_call: float  # spawn to the first tool call's answer
    stop: float  # stdin closed (stdio) or SIGTERM (HTTP) to the process's exit


def stdio_run(server: Server, env: dict[str, str]) -> Run:
    began = time.perf_counter()
    proc = subprocess.Popen(
        server.stdio,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin
    assert proc.stdout
    proc.stdin.write(json.dumps(INIT) + "\n")
    proc.stdin.flush()
    assert '"result"' in proc.stdout.readline()
    started = time.perf_counter() - began
    proc.stdin.write(json.dumps(INITIALIZED) + "\n" + json.dumps(call(server.tool)) + "\n")
    proc.stdin.flush()
    answer = proc.stdout.readline()
    assert '"isError":false' in answer.replace(" ", ""), answer[:300]
    first_call = time.perf_counter() - began
    stopping = time.perf_counter()
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    return Run(started, first_call, time.perf_counter() - stopping)


def http_run(server: Server, env: dict[str, str]) -> Run:
    port = _free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        server.http(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stderr
    try:
        next(line for line in proc.stderr if server.ready in line)
        started = time.perf_counter() - began
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        _session_call(f"http://127.0.0.1:{port}/mcp", server.tool)
        first_call = time.perf_counter() - began
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert code in (0, -signal.SIGTERM), code
        return Run(started, first_call, time.perf_counter() - stopping)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _session_call(url: str, tool: str) -> None:
    accept = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(timeout=30) as http:
        opened = http.post(url, json=INIT, headers=accept)
        assert opened.status_code == 200, opened.text
        headers = {
            **accept,
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": VERSION,
        }
        http.post(url, json=INITIALIZED, headers=headers)
        answer = http.post(url, json=call(tool), headers=headers)
        assert answer.status_code == 200, answer.text
        assert '"isError":false' in answer.text, answer.text


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def servers(tmp: Path) -> tuple[Server, Server]:
    bare = tmp / "bare.py"
    bare.write_text(BARE)
    ours = [sys.executable, "-m", "server", "serve", "--sandbox"]
    return (
        Server(
            ours,
            lambda port: [*ours, "--transport", "http", "--port", str(port)],
            "listening on ",
            "list_backends",
        ),
        Server(
            [sys.executable, str(bare)],
            lambda port: [sys.executable, str(bare), str(port)],
            "Uvicorn running on",
            "ping",
        ),
    )


def child_env(tmp: Path, bytecode: bool) -> dict[str, str]:
    env = {**os.environ, "PROCESS_MCP_LOG_LEVEL": "WARNING"}
    env["PROCESS_MCP_EXPORT_DIR"] = str(tmp / "exports")
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(runs: int = 7, bytecode: bool = True) -> dict[str, dict[str, Spread]]:
    """{"stdio" | "http": {"ours_start", "bare_start", "ratio", "ours_stop", ...}}."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        ours, bare = servers(tmp)
        env = child_env(tmp, bytecode)
        out: dict[str, dict[str, Spread]] = {}
        for kind, run in (("stdio", stdio_run), ("http", http_run)):
            run(ours, env)  # warm-up: the bytecode cache, the OS's file cache
            run(bare, env)
            mine, theirs = interleaved(runs, partial(run, ours, env), partial(run, bare, env))
            out[kind] = {
                "ours_start": spread([r.start for r in mine]),
                "bare_start": spread([r.start for r in theirs]),
                # Paired: each round's ratio, so a load change between rounds cancels.
                "ratio": spread([o.start / b.start for o, b in zip(mine, theirs, strict=True)]),
                "ours_first": spread([r.first_call for r in mine]),
                "bare_first": spread([r.first_call for r in theirs]),
                "ours_stop": spread([r.stop for r in mine]),
                "bare_stop": spread([r.stop for r in theirs]),
            }
    return out


def rows(result: dict[str, dict[str, Spread]]) -> list[list[str]]:
    s, h = result["stdio"], result["http"]
    return [
        [
            "cold start, spawn to initialize answer (stdio)",
            f"{fmt(s['ours_start'], 1000)} ms vs bare {fmt(s['bare_start'], 1000)} ms: "
            f"{fmt(s['ratio'], digits=2)}x",
            f"at most {START_RATIO}x the bare SDK server",
            verdict(s["ratio"][1], START_RATIO, "x"),
        ],
        [
            "spawn to the first tool call's answer (stdio; ours waits for the simulators)",
            f"{fmt(s['ours_first'], 1000)} ms vs bare {fmt(s['bare_first'], 1000)} ms",
            "informational",
            "",
        ],
        [
            "shutdown after a call, stdin closed to exit (stdio)",
            f"{fmt(s['ours_stop'], 1000)} ms vs bare {fmt(s['bare_stop'], 1000)} ms",
            f"under {SHUTDOWN_SECONDS * 1000:.0f} ms",
            verdict(s["ours_stop"][1] * 1000, SHUTDOWN_SECONDS * 1000, " ms", 0),
        ],
        [
            "HTTP start, spawn to listening (streamable HTTP)",
            f"{fmt(h['ours_start'], 1000)} ms vs bare {fmt(h['bare_start'], 1000)} ms: "
            f"{fmt(h['ratio'], digits=2)}x",
            "informational",
            "",
        ],
        [
            "shutdown after a call, SIGTERM to exit (streamable HTTP)",
            f"{fmt(h['ours_stop'], 1000)} ms vs bare {fmt(h['bare_stop'], 1000)} ms",
            f"under {SHUTDOWN_SECONDS * 1000:.0f} ms",
            verdict(h["ours_stop"][1] * 1000, SHUTDOWN_SECONDS * 1000, " ms", 0),
        ],
    ]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(args[0]) if args else 7
    bytecode = "--no-bytecode-cache" not in sys.argv
    before = load()
    result = measure(runs, bytecode)
    cache = "with" if bytecode else "without"
    print(f"`serve --sandbox` vs the bare SDK server, {runs} paired rounds, {cache} the")
    print(f"bytecode cache; min / median / max, verdicts on the median ({before};")
    print(f"after: {load()})\n")
    print(table(["measure", "ours vs bare", "target", "result"], rows(result)))


if __name__ == "__main__":
    main()
