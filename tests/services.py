"""Real services for tests, started on free 127.0.0.1 ports: redis-server (and the helper
to find any binary .ci/install-services provides, such as haproxy).

A missing binary skips the test locally, but fails it when PROCESS_MCP_REQUIRE_SERVICES=1
(set by .ci/run after .ci/install-services), so CI can never pass by skipping.

    from tests.services import redis_server, redis_url  # noqa: F401  (pytest fixtures)

`redis_server` is one server per session; `redis_url` flushes it for each test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_ENV = "PROCESS_MCP_REQUIRE_SERVICES"
# Real seconds a service may take to start before the test fails instead of hanging.
START_TIMEOUT = 20.0


def require_binary(name: str) -> str:
    """The path of `name`; skips the test when it is missing (fails in CI)."""
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"{name} is not installed (run .ci/install-services)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 forbids skipping")
    pytest.skip(message)


def free_port() -> int:
    """A port nobody listens on now (the OS picks; closed again at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """A redis-server of our own: no persistence, loopback only."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(directory: Path) -> RedisServer:
    """Start redis-server on a free port; returns once it accepts connections."""
    binary = require_binary("redis-server")
    port = free_port()
    # No persistence (nothing written to disk), loopback only.
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *args, "--dir", str(directory), "--loglevel", "notice"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    # Readiness from the server's own log line: no polling, no sleeping.
    timer = _kill_after(process, START_TIMEOUT)
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            raise RuntimeError("redis-server did not start:\n" + "".join(seen[-20:]))
    finally:
        timer.cancel()
    # Keep draining its log so a full pipe never blocks the server.
    _drain(process)
    return RedisServer(process, port)


def _kill_after(process: subprocess.Popen[str], seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, process.kill)
    timer.daemon = True
    timer.start()
    return timer


def _drain(process: subprocess.Popen[str]) -> None:
    def drain() -> None:
        assert process.stdout is not None
        for _ in process.stdout:
            pass

    threading.Thread(target=drain, daemon=True).start()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's redis-server, emptied for this test."""
    redis_server.flush()
    return redis_server.url
