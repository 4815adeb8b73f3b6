"""Real processes for the multi-replica test: `process-mcp sandbox`, `process-mcp serve
--stateless` replicas, and haproxy in front of them, all on 127.0.0.1.

Nothing here polls or sleeps: each process says when it is ready (the sandbox prints its
URLs, a replica its address), and haproxy listens on a socket bound here and handed to it
(`bind fd@N`), so connections wait in its backlog until it accepts them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tools.sim import busiest_window

PYTHON = [sys.executable, "-m", "server"]
READY_TIMEOUT = 60.0


def _drain(stream: Iterable[str], into: list[str]) -> threading.Thread:
    """Keep reading a child's output so a full pipe never blocks it."""
    thread = threading.Thread(target=lambda: into.extend(stream), daemon=True)
    thread.start()
    return thread


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _kill_after(proc: subprocess.Popen[str], seconds: float) -> threading.Timer:
    """A process that never says it is ready is killed, so reading its output ends."""
    timer = threading.Timer(seconds, proc.kill)
    timer.daemon = True
    timer.start()
    return timer


# -- the sandbox ----------------------------------------------------------------------------


@dataclass
class SimInfo:
    name: str
    kind: str
    url: str
    details: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The simulator's own origin (Tallyfy's base URL ends in /api)."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    def arrivals(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(self.root + "/__sim__/arrivals", timeout=10) as answer:
            data = json.load(answer)
        arrivals: list[dict[str, object]] = data["arrivals"]
        return arrivals

    def busiest(self, seconds: float) -> int:
        return busiest_window([float(str(a["at"])) for a in self.arrivals()], seconds)


def parse_sandbox(lines: Sequence[str]) -> dict[str, SimInfo]:
    """The simulators `process-mcp sandbox` printed: a `NAME kind=KIND URL` line each,
    then indented `key=value` lines."""
    sims: dict[str, SimInfo] = {}
    current: SimInfo | None = None
    for line in lines:
        words = line.split()
        if len(words) == 3 and words[1].startswith("kind="):
            current = SimInfo(words[0], words[1].removeprefix("kind="), words[2])
            sims[current.name] = current
        elif current is not None and len(words) >= 1 and "=" in words[0] and line.startswith(" "):
            key, _, value = line.strip().partition("=")
            current.details[key] = value
    return sims


@contextmanager
def sandbox_process(*args: str) -> Iterator[dict[str, SimInfo]]:
    proc = subprocess.Popen(
        [*PYTHON, "sandbox", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors: list[str] = []
    _drain(proc.stderr, errors)
    timer = _kill_after(proc, READY_TIMEOUT)
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("run `process-mcp serve --sandbox`"):
            break
    timer.cancel()
    _drain(proc.stdout, lines)
    try:
        sims = parse_sandbox(lines)
        assert sims, "sandbox did not start:\n" + "".join(lines + errors)
        yield sims
    finally:
        _stop(proc)


# -- replicas -------------------------------------------------------------------------------


@dataclass
class Replica:
    url: str
    log: list[str]


def _start_replica(config: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`process-mcp serve --config CONFIG --transport http --stateless --port 0`."""
    cmd = [*PYTHON, "serve", "--config", str(config), "--transport", "http", "--port", "0"]
    return subprocess.Popen(
        [*cmd, "--stateless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    )


def _ready(proc: subprocess.Popen[str], out: list[str]) -> Replica:
    """The replica once it prints its address (its stderr and stdout drained from then)."""
    assert proc.stdout is not None
    assert proc.stderr is not None
    timer = _kill_after(proc, READY_TIMEOUT)
    lines: list[str] = []
    url = None
    for line in proc.stderr:
        lines.append(line)
        if "listening on " in line:
            url = line.rsplit("listening on ", 1)[1].strip()
            break
    timer.cancel()
    _drain(proc.stderr, lines)
    _drain(proc.stdout, out)
    assert url, "replica did not start:\n" + "".join(lines)
    return Replica(url, lines)


@contextmanager
def replicas(count: int, config: Path, env: Mapping[str, str]) -> Iterator[list[Replica]]:
    """`count` replicas, started at once (each takes a second or two to import)."""
    procs = [_start_replica(config, env) for _ in range(count)]
    outs: list[list[str]] = [[] for _ in procs]
    try:
        yield [_ready(proc, out) for proc, out in zip(procs, outs, strict=True)]
    finally:
        for proc in procs:
            _stop(proc)
    assert outs == [[] for _ in procs], "nothing may be written to stdout"


# -- haproxy --------------------------------------------------------------------------------

HAPROXY_CONFIG = """\
global
    log stdout format raw local0 info
    maxconn 512

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 120s
    timeout server 120s

frontend mcp
    bind fd@{fd}
    default_backend replicas

backend replicas
    balance roundrobin
{servers}
"""


@dataclass
class Balancer:
    url: str
    log: list[str]

    def served_by(self) -> dict[str, int]:
        """Requests per replica, from haproxy's log (`replicas/rN` in each line)."""
        counts: dict[str, int] = {}
        for line in self.log:
            for word in line.split():
                if word.startswith("replicas/"):
                    name = word.removeprefix("replicas/")
                    counts[name] = counts.get(name, 0) + 1
        return counts


def haproxy_config(fd: int, backends: Sequence[str]) -> str:
    servers = "\n".join(f"    server r{i} {address}" for i, address in enumerate(backends, start=1))
    return HAPROXY_CONFIG.format(fd=fd, servers=servers)


@contextmanager
def haproxy(binary: str, urls: Sequence[str], directory: Path) -> Iterator[Balancer]:
    """haproxy round robin over the replicas at `urls` (each http://127.0.0.1:PORT/mcp)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    addresses = [u.split("://", 1)[1].split("/", 1)[0] for u in urls]
    config = directory / "haproxy.cfg"
    config.write_text(haproxy_config(listener.fileno(), addresses))
    proc = subprocess.Popen(
        [binary, "-db", "-f", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        pass_fds=(listener.fileno(),),
    )
    listener.close()  # haproxy holds its own copy
    assert proc.stdout is not None
    log: list[str] = []
    _drain(proc.stdout, log)
    try:
        yield Balancer(f"http://127.0.0.1:{port}/mcp", log)
    finally:
        _stop(proc)
