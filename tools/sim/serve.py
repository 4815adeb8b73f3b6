"""Run ASGI apps as real HTTP servers on loopback, each in a daemon thread.

Silent by construction: the MCP server speaks its protocol on stdout in stdio mode, so
uvicorn gets no logging config (`log_config=None`: warnings and errors can only reach
stderr through logging's last-resort handler), no access log, and runs off the main
thread, where uvicorn does not install signal handlers.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Mapping
from typing import Literal

import anyio.to_thread
import uvicorn
from starlette.types import ASGIApp

from tools.asgi_server import PromptServer
from tools.sim.faults import SimulatedReset

Lifespan = Literal["auto", "on", "off"]


class _QuietShutdown(logging.Filter):
    """Drops uvicorn's report of requests cancelled at shutdown (e.g. one a `timeout`
    fault is still holding): expected here, and a traceback would look like a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        # A connection dropped on purpose (a `reset` fault) is not a server error either.
        if record.exc_info and isinstance(
            record.exc_info[1], asyncio.CancelledError | SimulatedReset
        ):
            return False
        return not str(record.msg).startswith("Cancel %s running task(s)")


_QUIET = _QuietShutdown()


class _Server(PromptServer):
    """A uvicorn server that tells another thread when it is ready to accept, and stops as
    soon as it is asked (tools/asgi_server.py): for simulators in the server's own process
    uvicorn's 0.1 s polls were most of `serve --sandbox`'s exit."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._ready.set()


class SimServer:
    """One ASGI app on http://127.0.0.1:PORT (`port=0` picks a free one)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Lifespan = "auto",
        startup_timeout: float = 10.0,
        # A request held by a `timeout` fault must not keep stop() waiting.
        shutdown_grace: int = 1,
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._lifespan: Lifespan = lifespan
        self._startup_timeout = startup_timeout
        self._shutdown_grace = shutdown_grace
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SimServer is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SimServer:
        if self.running:
            return self
        # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it
        # every keep-alive response waits ~40 ms (Nagle + delayed ACK), which would swamp
        # the simulated latency the benchmarks measure.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            log_level="warning",
            lifespan=self._lifespan,
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=self._shutdown_grace,
        )
        error_log = logging.getLogger("uvicorn.error")
        if _QUIET not in error_log.filters:
            error_log.addFilter(_QUIET)
        ready = threading.Event()
        self._server = _Server(config, ready)
        self._error = None
        self._thread = threading.Thread(
            target=self._run,
            args=(self._server, sock, ready),
            name=f"sim:{self._port}",
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(self._startup_timeout) or not self._server.started:
            self.stop()
            where = f"{self.host}:{self._port}"
            raise RuntimeError(f"simulator on {where} did not start: {self._error!r}")
        return self

    def request_stop(self) -> None:
        """Ask the server to exit without waiting (see `join`)."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.wake()

    def join(self, timeout: float = 10.0) -> None:
        thread, server = self._thread, self._server
        if thread is not None and server is not None:
            thread.join(timeout / 2)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout / 2)
        self._thread = None
        self._server = None

    def stop(self) -> None:
        self.request_stop()
        self.join()

    def _run(self, server: _Server, sock: socket.socket, ready: threading.Event) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start(), never printed
            self._error = exc
        finally:
            sock.close()
            ready.set()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimServer:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self.stop)


class SimServerGroup:
    """Several simulators started and stopped together (e.g. the sandbox)."""

    def __init__(self, apps: Mapping[str, ASGIApp] | None = None) -> None:
        self.servers: dict[str, SimServer] = {}
        for name, app in (apps or {}).items():
            self.add(name, app)

    def add(self, name: str, app: ASGIApp, *, port: int = 0) -> SimServer:
        if name in self.servers:
            raise ValueError(f"duplicate simulator name {name!r}")
        server = SimServer(app, port=port)
        self.servers[name] = server
        return server

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def start(self) -> SimServerGroup:
        try:
            for server in self.servers.values():
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        # Ask all first, then wait: shutdowns overlap instead of adding up.
        for server in self.servers.values():
            server.request_stop()
        for server in self.servers.values():
            server.join()

    def __enter__(self) -> SimServerGroup:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimServerGroup:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self.stop)
